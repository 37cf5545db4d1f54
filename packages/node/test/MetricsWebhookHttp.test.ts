// The metrics webhook against a real HTTP receiver on 127.0.0.1: down (nothing listens on its port), then back.
// Live clock with short redelivery delays; the test waits for outcomes and asserts no duration.
import { NodeFileSystem, NodeHttpClient } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { type AuditEntry, MetricsWebhook } from "@genesys-llm/core"
import { NodeFileLock } from "@genesys-llm/node"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

interface Receiver {
  readonly port: number
  readonly events: Array<MetricsWebhook.Event>
  readonly listen: Effect.Effect<void>
  readonly close: Effect.Effect<void>
}

const makeReceiver = Effect.acquireRelease(
  Effect.async<Receiver>((resume) => {
    const events: Array<MetricsWebhook.Event> = []
    const server = Http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        events.push(JSON.parse(Buffer.concat(chunks).toString("utf8")))
        res.writeHead(204).end()
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      const close = Effect.async<void>((done) => {
        server.closeAllConnections()
        if (!server.listening) return done(Effect.void)
        server.close(() => done(Effect.void))
      })
      const listen = Effect.async<void>((done) => {
        server.listen(port, "127.0.0.1", () => done(Effect.void))
      })
      resume(Effect.succeed({ port, events, listen, close }))
    })
  }),
  (receiver) => receiver.close
)

const record = (i: number): AuditEntry.CallRecord => ({
  kind: "call",
  timestamp: "2024-05-01T10:00:00.000Z",
  idempotencyKey: `llm-gw-${i}`,
  modelId: "gpt-4o-mini",
  latencyMs: 100 + i,
  tokensUsed: 10 * i,
  status: "success",
  systemInstructionCount: 1,
  contextMessageCount: 2,
  attempts: 1,
  droppedContextMessages: 0,
  safetyRuleIds: []
})

const platform = Layer.mergeAll(NodeFileSystem.layer, NodeHttpClient.layerUndici, NodeFileLock.layer)

// The webhook over its file outbox, in `scope`.
const start = (options: MetricsWebhook.Options, scope: Scope.Scope) =>
  Effect.map(
    Layer.buildWithScope(MetricsWebhook.layer(options), scope),
    (context) => Context.get(context, MetricsWebhook.MetricsWebhook)
  )

const waitFor = (condition: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 400; i++) {
      if (yield* condition) return
      yield* Effect.sleep("25 millis")
    }
    assert.fail("condition never held")
  })

describe("MetricsWebhook over HTTP", () => {
  it.live("receiver down: the outbox keeps the events, also across a restart; back: each arrives exactly once", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "genesys-llm-webhook-" })
      const outboxPath = `${dir}/outbox.jsonl`
      const receiver = yield* makeReceiver
      yield* receiver.close // down: nothing listens on the port
      const options: MetricsWebhook.Options = {
        url: `http://127.0.0.1:${receiver.port}/hooks/cost`,
        outboxPath,
        redelivery: { initialDelay: "50 millis", maxDelay: "200 millis" }
      }

      // First run: every event ends up in the outbox file.
      const first = yield* Scope.make()
      const webhook = yield* start(options, first)
      for (const i of [1, 2, 3]) yield* webhook.publish(record(i))
      yield* waitFor(Effect.map(webhook.outboxSize, (n) => n === 3))
      yield* webhook.publish(record(4))
      yield* Scope.close(first, Exit.void)
      const kept = (yield* fs.readFileString(outboxPath)).split("\n").filter((l) => l !== "")
      assert.strictEqual(kept.length, 4)
      const keptIds = kept.map((l) => (JSON.parse(l) as MetricsWebhook.Event).event_id)

      // Second run, receiver back: the outbox is loaded and delivered.
      yield* receiver.listen
      const second = yield* Scope.make()
      const restarted = yield* start(options, second)
      yield* restarted.publish(record(5))
      yield* waitFor(Effect.map(restarted.pending, (n) => n === 0))
      yield* Scope.close(second, Exit.void)

      const ids = receiver.events.map((e) => e.event_id)
      assert.strictEqual(ids.length, 5)
      assert.strictEqual(new Set(ids).size, 5)
      for (const id of keptIds) assert.include(ids, id)
      assert.deepStrictEqual(receiver.events.map((e) => e.latency_ms).sort(), [101, 102, 103, 104, 105])
      const third = receiver.events.find((e) => e.latency_ms === 103)!
      assert.deepStrictEqual({ ...third, event_id: "id" }, {
        event: "llm_prompt_completed",
        event_id: "id",
        timestamp: "2024-05-01T10:00:00.000Z",
        model: "gpt-4o-mini",
        latency_ms: 103,
        tokens_used: 30,
        cost_estimate_usd: 0.00006
      })
      assert.strictEqual(yield* fs.readFileString(outboxPath), "")
    }).pipe(Effect.provide(platform), Effect.scoped))
})
