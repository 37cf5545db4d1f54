// The webhook's outbox across a `kill -9`: a real process (test/fixtures/sinkProcess.ts) publishes five events to
// a receiver that takes the requests and does not answer, and is SIGKILLed while the deliveries hang; a second run
// on the same outbox delivers every event, and the receiver acknowledges each event_id exactly once.
import { NodeFileSystem } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { spawn } from "./child.js"

interface Receiver {
  readonly url: string
  /** `slow` takes each request and never answers; `ack` answers 204. */
  mode: "slow" | "ack"
  /** The event_id of every request that arrived, and of every one answered with a 2xx. */
  readonly arrived: Array<string>
  readonly acknowledged: Array<string>
}

const receiver = Effect.acquireRelease(
  Effect.async<{ receiver: Receiver; server: Http.Server }>((resume) => {
    const state = { mode: "slow" as Receiver["mode"], arrived: [] as Array<string>, acknowledged: [] as Array<string> }
    const server = Http.createServer((request, response) => {
      let body = ""
      request.setEncoding("utf8")
      request.on("data", (chunk: string) => (body += chunk))
      request.on("end", () => {
        const id = (JSON.parse(body) as { event_id: string }).event_id
        state.arrived.push(id)
        if (state.mode === "slow") return
        response.writeHead(204).end(() => state.acknowledged.push(id))
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/cost`
      resume(Effect.succeed({ receiver: Object.assign(state, { url }), server }))
    })
  }),
  ({ server }) => Effect.sync(() => (server.closeAllConnections(), server.close()))
)

const count = (ids: ReadonlyArray<string>, id: string) => ids.filter((x) => x === id).length

describe("MetricsWebhook across a kill -9", () => {
  it.live("events stored before their first delivery survive SIGKILL; the next run delivers each exactly once", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "genesys-llm-webhook-kill-" })
      const outbox = `${dir}/outbox.jsonl`
      const { receiver: hook } = yield* receiver

      const first = yield* spawn(["webhook", outbox, hook.url, "5"])
      const published = (yield* first.line("published ")).slice("published ".length).split(",")
      assert.strictEqual(published.length, 5)
      // Four deliveries at once (the default concurrency) hang at the receiver; then the process dies.
      while (hook.arrived.length < 4) yield* Effect.sleep("20 millis")
      assert.strictEqual(yield* first.kill("SIGKILL"), "SIGKILL")
      assert.deepStrictEqual(hook.acknowledged, [])

      hook.mode = "ack"
      const arrivedBefore = hook.arrived.length
      const second = yield* spawn(["webhook", outbox, hook.url, "0"])
      yield* second.line("drained")
      assert.strictEqual(yield* second.exit, 0)

      for (const id of published) {
        assert.strictEqual(count(hook.acknowledged, id), 1, `${id} acknowledged once`)
        // And sent once by the second run: it sends again only what was never acknowledged.
        assert.strictEqual(count(hook.arrived.slice(arrivedBefore), id), 1, `${id} sent once after the restart`)
      }
      assert.strictEqual(hook.acknowledged.length, 5)
      assert.strictEqual(yield* fs.readFileString(outbox), "")
    }).pipe(Effect.provide(NodeFileSystem.layer), Effect.scoped))
})
