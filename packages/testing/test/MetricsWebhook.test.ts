import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import type { AuditEntry } from "@genesys-llm/core"
import { Metrics, MetricsWebhook, Outbox } from "@genesys-llm/core"
import { MemoryFileSystem, TestHelpers, TestOutbox } from "@genesys-llm/testing"
import * as Clock from "effect/Clock"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"

const outboxPath = "/var/lib/llm/outbox.jsonl"

type Mode = "up" | "down" | "hang" | "503"

// A receiver double: what it does depends on `mode`; what reached it (as parsed JSON) is in `received`.
const makeReceiver = Effect.gen(function*() {
  const mode = yield* Ref.make<Mode>("up")
  const received = yield* Ref.make<ReadonlyArray<MetricsWebhook.Event>>([])
  const client = HttpClient.make((request) =>
    Effect.gen(function*() {
      const current = yield* Ref.get(mode)
      if (current === "down") {
        return yield* new HttpClientError.RequestError({ request, reason: "Transport", description: "refused" })
      }
      if (current === "hang") return yield* Effect.never
      if (current === "503") return HttpClientResponse.fromWeb(request, new Response("busy", { status: 503 }))
      const body = request.body._tag === "Uint8Array" ? new TextDecoder().decode(request.body.body) : ""
      yield* Ref.update(received, (all) => [...all, JSON.parse(body)])
      return HttpClientResponse.fromWeb(request, new Response(null, { status: 204 }))
    })
  )
  return { mode, received, layer: Layer.succeed(HttpClient.HttpClient, client) }
})

const record = (i: number, overrides: Partial<AuditEntry.CallRecord> = {}): AuditEntry.CallRecord => ({
  kind: "call",
  timestamp: "2024-05-01T10:00:00.000Z",
  idempotencyKey: `llm-gw-${i}`,
  modelId: "gpt-4o-mini",
  latencyMs: 100 + i,
  tokensUsed: 42,
  status: "success",
  systemInstructionCount: 1,
  contextMessageCount: 2,
  attempts: 1,
  droppedContextMessages: 0,
  safetyRuleIds: [],
  ...overrides
})

const startWebhook = (
  receiver: Effect.Effect.Success<typeof makeReceiver>,
  options: Partial<MetricsWebhook.Options> = {}
) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* MetricsWebhook.layer({ url: "http://127.0.0.1:9/hook", outboxPath, ...options }).pipe(
      Layer.provide(receiver.layer),
      Layer.buildWithScope(scope)
    )
    return { webhook: Context.get(context, MetricsWebhook.MetricsWebhook), close: Scope.close(scope, Exit.void) }
  })

// The events the outbox file holds: its journal replayed (event lines, minus those a `removed` line names).
const outboxLines = Effect.gen(function*() {
  const control = yield* MemoryFileSystem.MemoryFileSystem
  const text = (yield* control.readText(outboxPath)) ?? ""
  const kept = new Map<string, MetricsWebhook.Event>()
  for (const line of text.split("\n").filter((l) => l !== "")) {
    const parsed = JSON.parse(line) as MetricsWebhook.Event | { readonly removed: ReadonlyArray<string> }
    if ("removed" in parsed) parsed.removed.forEach((id) => kept.delete(id))
    else kept.set(parsed.event_id, parsed)
  }
  return [...kept.values()]
})

describe("MetricsWebhook", () => {
  it("isHttpUrl takes absolute http and https URLs only", () => {
    for (const url of ["http://127.0.0.1:8080/hook", "https://hooks.example/x?token=t"]) {
      assert.isTrue(MetricsWebhook.isHttpUrl(url), url)
    }
    for (const url of ["ftp://hooks.example/x", "hooks.example/x", "/hook", "", "mailto:a@b.example", "http//x"]) {
      assert.isFalse(MetricsWebhook.isHttpUrl(url), url)
    }
  })

  it.effect("posts the specification's flat payload with an event id and the cost estimate", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver
      const { close, webhook } = yield* startWebhook(receiver, {
        costs: { default: MetricsWebhook.defaultCostPerToken, byModel: { "premium-model": 0.00001 } }
      })
      const cost = yield* webhook.publish(record(1))
      assert.strictEqual(cost, 0.000084)
      yield* webhook.publish(record(2, { modelId: "premium-model", tokensUsed: 10 }))
      yield* TestHelpers.eventually(Effect.map(Ref.get(receiver.received), (r) => r.length === 2))
      yield* TestHelpers.eventually(Effect.map(webhook.pending, (n) => n === 0))
      const [first, second] = yield* Ref.get(receiver.received)
      assert.deepStrictEqual(Object.keys(first).sort(), [
        "cost_estimate_usd",
        "event",
        "event_id",
        "latency_ms",
        "model",
        "timestamp",
        "tokens_used"
      ])
      assert.deepStrictEqual({ ...first, event_id: "x" }, {
        event: "llm_prompt_completed",
        event_id: "x",
        timestamp: "2024-05-01T10:00:00.000Z",
        model: "gpt-4o-mini",
        latency_ms: 101,
        tokens_used: 42,
        cost_estimate_usd: 0.000084
      })
      assert.match(first.event_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      assert.notStrictEqual(first.event_id, second.event_id)
      assert.strictEqual(second.cost_estimate_usd, 0.0001)
      yield* close
      assert.deepStrictEqual(yield* outboxLines, [])
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("each event is in the outbox file before its first delivery attempt, and leaves it once acknowledged", () =>
    Effect.gen(function*() {
      const control = yield* MemoryFileSystem.MemoryFileSystem
      const inFileWhenSent: Array<boolean> = []
      const client = HttpClient.make((request) =>
        Effect.gen(function*() {
          const body = request.body._tag === "Uint8Array" ? new TextDecoder().decode(request.body.body) : ""
          const id = (JSON.parse(body) as MetricsWebhook.Event).event_id
          inFileWhenSent.push(((yield* control.readText(outboxPath)) ?? "").includes(id))
          return HttpClientResponse.fromWeb(request, new Response(null, { status: 204 }))
        })
      )
      const scope = yield* Scope.make()
      const context = yield* MetricsWebhook.layer({ url: "http://127.0.0.1:9/hook", outboxPath }).pipe(
        Layer.provide(Layer.succeed(HttpClient.HttpClient, client)),
        Layer.buildWithScope(scope)
      )
      const webhook = Context.get(context, MetricsWebhook.MetricsWebhook)
      for (const i of [1, 2, 3]) yield* webhook.publish(record(i))
      yield* TestHelpers.eventually(Effect.map(webhook.pending, (n) => n === 0))
      assert.deepStrictEqual(inFileWhenSent, [true, true, true])
      yield* TestHelpers.eventually(Effect.map(outboxLines, (lines) => lines.length === 0))
      yield* Scope.close(scope, Exit.void)
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("over any Outbox: store, then claim; acknowledge after a 2xx, release after a failure", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver
      yield* Ref.set(receiver.mode, "503")
      const scope = yield* Scope.make()
      const context = yield* MetricsWebhook.layerDelivery({ url: "http://127.0.0.1:9/hook" }).pipe(
        Layer.provideMerge(TestOutbox.layer()),
        Layer.provide(receiver.layer),
        Layer.buildWithScope(scope)
      )
      const webhook = Context.get(context, MetricsWebhook.MetricsWebhook)
      yield* webhook.publish(record(1))
      yield* TestHelpers.eventually(Effect.map(Effect.provide(TestOutbox.journal, context), (ops) => ops.length === 3))
      yield* Ref.set(receiver.mode, "up")
      yield* TestClock.adjust("1 second")
      yield* TestHelpers.eventually(Effect.map(webhook.pending, (n) => n === 0))
      const journal = yield* Effect.provide(TestOutbox.journal, context)
      const [id] = (yield* Ref.get(receiver.received)).map((e) => e.event_id)
      assert.deepStrictEqual(journal, [
        { op: "store", eventIds: [id] },
        { op: "claim", eventIds: [id] },
        { op: "release", eventIds: [id] },
        { op: "claim", eventIds: [id] },
        { op: "acknowledge", eventIds: [id] }
      ])
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("publish waits at most storeTimeout for a stuck outbox, even from a finalizer; the store goes on", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver
      const memory = yield* Outbox.makeMemory()
      const gate = yield* Deferred.make<void>()
      const stuck: Outbox.Service = {
        ...memory,
        store: (events) => Effect.zipRight(Deferred.await(gate), memory.store(events))
      }
      const scope = yield* Scope.make()
      const webhook = yield* MetricsWebhook.make({ url: "http://127.0.0.1:9/hook", storeTimeout: "1 second" }).pipe(
        Effect.provide(receiver.layer),
        Effect.provideService(Outbox.Outbox, stuck),
        Scope.extend(scope)
      )
      const call = yield* Effect.fork(Effect.uninterruptible(webhook.publish(record(1))))
      yield* TestClock.adjust("999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(call)))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(call), 0.000084)
      assert.strictEqual(yield* webhook.pending, 1)
      yield* Deferred.succeed(gate, undefined)
      yield* TestHelpers.eventually(Effect.map(Ref.get(receiver.received), (r) => r.length === 1))
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("the call does not wait for the webhook: a hanging receiver costs the caller nothing", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver
      yield* Ref.set(receiver.mode, "hang")
      const { close, webhook } = yield* startWebhook(receiver)
      // A "call" that takes 120 ms of its own and then publishes its event.
      const call = Effect.gen(function*() {
        const start = yield* Clock.currentTimeMillis
        yield* Effect.sleep("120 millis")
        yield* webhook.publish(record(1))
        return (yield* Clock.currentTimeMillis) - start
      })
      const fiber = yield* Effect.fork(call)
      yield* TestClock.adjust("120 millis")
      const exit = yield* fiber.await
      assert.deepStrictEqual(exit, Exit.succeed(120))
      // The event was stored before its delivery started (at 120 ms); the delivery is still hanging, and at its 3 s
      // timeout it counts as failed while the event stays in the outbox for the next try.
      assert.strictEqual(yield* webhook.pending, 1)
      assert.strictEqual(yield* webhook.outboxSize, 1)
      assert.strictEqual((yield* outboxLines).length, 1)
      const timeouts = Metric.tagged(Metrics.webhookFailures, "reason", "timeout")
      const before = (yield* Metric.value(timeouts)).count
      yield* TestClock.adjust("2999 millis")
      assert.strictEqual((yield* Metric.value(timeouts)).count - before, 0)
      yield* TestClock.adjust("1 millis")
      yield* TestHelpers.eventually(Effect.map(Metric.value(timeouts), (state) => state.count - before === 1))
      assert.strictEqual(yield* webhook.outboxSize, 1)
      assert.strictEqual((yield* outboxLines).length, 1)
      yield* close
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("receiver down: events go to the outbox; back: each arrives exactly once and the outbox empties", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver
      yield* Ref.set(receiver.mode, "down")
      const failuresBefore = (yield* Metric.value(Metric.tagged(Metrics.webhookFailures, "reason", "transport"))).count
      const { close, webhook } = yield* startWebhook(receiver, {
        redelivery: { initialDelay: "1 second", maxDelay: "8 seconds" }
      })
      yield* Effect.forEach([1, 2, 3, 4, 5], (i) => webhook.publish(record(i)), { discard: true })
      yield* TestHelpers.eventually(Effect.map(webhook.outboxSize, (n) => n === 5))
      const kept = yield* outboxLines
      assert.strictEqual(kept.length, 5)
      assert.deepStrictEqual(kept.map((e) => e.latency_ms), [101, 102, 103, 104, 105])
      assert.strictEqual(MetricsWebhook.defaultOutboxPath, "./llm-webhook-outbox.jsonl")
      assert.strictEqual(yield* Metric.value(Metrics.outboxSize).pipe(Effect.map((s) => s.value)), 5)

      // Still down through a few backoff rounds (1 s, 2 s, 4 s): nothing is lost, nothing duplicated.
      yield* TestClock.adjust("7 seconds")
      assert.strictEqual(yield* webhook.outboxSize, 5)
      yield* Ref.set(receiver.mode, "up")
      yield* webhook.publish(record(6)) // joins the outbox behind the older ones
      yield* TestClock.adjust("8 seconds")
      yield* TestHelpers.eventually(Effect.map(webhook.outboxSize, (n) => n === 0))

      const received = yield* Ref.get(receiver.received)
      const ids = received.map((e) => e.event_id)
      assert.strictEqual(ids.length, 6)
      assert.strictEqual(new Set(ids).size, 6)
      assert.deepStrictEqual(received.map((e) => e.latency_ms), [101, 102, 103, 104, 105, 106])
      assert.deepStrictEqual(new Set(ids), new Set([...kept.map((e) => e.event_id), ids[5]]))
      assert.deepStrictEqual(yield* outboxLines, [])
      assert.strictEqual(yield* webhook.pending, 0)
      const failuresAfter = (yield* Metric.value(Metric.tagged(Metrics.webhookFailures, "reason", "transport"))).count
      assert.isAtLeast(failuresAfter - failuresBefore, 5)
      yield* close
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("a non-2xx answer is a failed delivery", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver
      yield* Ref.set(receiver.mode, "503")
      const { close, webhook } = yield* startWebhook(receiver)
      yield* webhook.publish(record(1))
      yield* TestHelpers.eventually(Effect.map(webhook.outboxSize, (n) => n === 1))
      yield* close
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("closing the scope keeps what is queued or in flight; the next start delivers it", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver
      yield* Ref.set(receiver.mode, "hang")
      const first = yield* startWebhook(receiver)
      yield* first.webhook.publish(record(1))
      yield* first.webhook.publish(record(2))
      yield* TestHelpers.eventually(Effect.map(first.webhook.pending, (n) => n === 2))
      yield* first.close
      const kept = yield* outboxLines
      assert.deepStrictEqual(kept.map((e) => e.latency_ms).sort(), [101, 102])

      yield* Ref.set(receiver.mode, "up")
      const second = yield* startWebhook(receiver)
      assert.strictEqual(yield* second.webhook.outboxSize, 2)
      yield* TestHelpers.eventually(Effect.map(second.webhook.outboxSize, (n) => n === 0))
      const received = yield* Ref.get(receiver.received)
      assert.deepStrictEqual(received.map((e) => e.event_id).sort(), kept.map((e) => e.event_id).sort())
      // The acknowledgements reach the file right after they leave the outbox's count.
      yield* TestHelpers.eventually(Effect.map(outboxLines, (lines) => lines.length === 0))
      yield* second.close
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("a full outbox drops its oldest events, counted; a torn outbox line is skipped on load", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const receiver = yield* makeReceiver
      yield* Ref.set(receiver.mode, "down")
      const dropped = Metric.tagged(Metrics.outboxDropped, "reason", "full")
      const before = (yield* Metric.value(dropped)).count
      const first = yield* startWebhook(receiver, { maxOutboxEntries: 3 })
      for (const i of [1, 2, 3, 4, 5]) {
        yield* first.webhook.publish(record(i))
        yield* TestHelpers.eventually(Effect.map(first.webhook.pending, (n) => n === Math.min(i, 3)))
      }
      assert.deepStrictEqual((yield* outboxLines).map((e) => e.latency_ms), [103, 104, 105])
      assert.strictEqual((yield* Metric.value(dropped)).count - before, 2)
      yield* first.close

      yield* fs.writeFileString(outboxPath, "{\"event\":\"llm_prompt_comp", { flag: "a" })
      yield* Ref.set(receiver.mode, "up")
      const second = yield* startWebhook(receiver, { maxOutboxEntries: 3 })
      yield* TestHelpers.eventually(Effect.map(second.webhook.outboxSize, (n) => n === 0))
      assert.deepStrictEqual((yield* Ref.get(receiver.received)).map((e) => e.latency_ms), [103, 104, 105])
      yield* second.close
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("an outbox that cannot be written (no space) keeps events in memory, counted, and delivers them later", () =>
    Effect.gen(function*() {
      const control = yield* MemoryFileSystem.MemoryFileSystem
      const receiver = yield* makeReceiver
      yield* Ref.set(receiver.mode, "down")
      const failures = Metric.tagged(Metrics.outboxWriteFailures, "operation", "append")
      const before = (yield* Metric.value(failures)).count
      yield* control.setCapacity(0)
      const { close, webhook } = yield* startWebhook(receiver)
      yield* webhook.publish(record(1))
      yield* TestHelpers.eventually(Effect.map(webhook.outboxSize, (n) => n === 1))
      assert.strictEqual((yield* Metric.value(failures)).count - before, 1)
      yield* control.setCapacity(undefined)
      yield* Ref.set(receiver.mode, "up")
      yield* TestClock.adjust("1 second")
      yield* TestHelpers.eventually(Effect.map(webhook.outboxSize, (n) => n === 0))
      assert.strictEqual((yield* Ref.get(receiver.received)).length, 1)
      yield* close
      assert.deepStrictEqual(yield* outboxLines, [])
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("an unreadable outbox fails the layer with a typed error", () =>
    Effect.gen(function*() {
      const control = yield* MemoryFileSystem.MemoryFileSystem
      const receiver = yield* makeReceiver
      yield* control.inject({ errno: "EACCES", path: outboxPath, operations: ["read"] })
      const error = yield* Effect.flip(Effect.scoped(
        Layer.build(
          MetricsWebhook.layer({ url: "http://127.0.0.1:9/hook", outboxPath }).pipe(
            Layer.provide(receiver.layer)
          )
        )
      ))
      assert.strictEqual(error._tag, "OutboxError")
      assert.strictEqual(error._tag === "OutboxError" && error.reason, "permission-denied")
    }).pipe(Effect.provide(MemoryFileSystem.layer({ files: { [outboxPath]: "" } }))))

  it.effect("layerConfig: no COST_TRACKING_WEBHOOK is the noop; a bad URL is an error that does not repeat it", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver
      const withEnv =
        (env: Record<string, string>) => (effect: Effect.Effect<number, unknown, MetricsWebhook.MetricsWebhook>) =>
          effect.pipe(
            Effect.provide(MetricsWebhook.layerConfig()),
            Effect.provide(receiver.layer),
            Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
          )
      const publish = Effect.flatMap(MetricsWebhook.MetricsWebhook, (w) => w.publish(record(1)))
      assert.strictEqual(yield* withEnv({})(publish), 0.000084)
      assert.deepStrictEqual(yield* Ref.get(receiver.received), [])
      const error = yield* Effect.flip(withEnv({ COST_TRACKING_WEBHOOK: "ftp://user:s3cret@host" })(publish))
      assert.notInclude(String(error), "s3cret")
      assert.include(String(error), "COST_TRACKING_WEBHOOK")
    }).pipe(Effect.provide(MemoryFileSystem.layer())))
})
