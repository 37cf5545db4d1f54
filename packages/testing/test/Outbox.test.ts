import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Metrics, Outbox } from "@genesys-llm/core"
import { MemoryFileSystem } from "@genesys-llm/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"

const path = "/var/lib/llm/outbox.jsonl"

const event = (i: number): Outbox.Event => ({
  event: "llm_prompt_completed",
  event_id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
  timestamp: "2024-05-01T10:00:00.000Z",
  model: "gpt-4o-mini",
  latency_ms: i,
  tokens_used: 10,
  cost_estimate_usd: 0.00002
})

const ids = (entries: ReadonlyArray<Outbox.Entry>) => entries.map((e) => e.event.latency_ms)

const lease = "30 seconds"

// The same contract for every layer.
const layers: ReadonlyArray<
  readonly [string, (options?: { maxEntries?: number }) => Layer.Layer<Outbox.Outbox | FileSystem.FileSystem, unknown>]
> = [
  ["memory", (options) => Layer.merge(Outbox.layerMemory(options), MemoryFileSystem.layer())],
  ["file", (options) => Outbox.layerFile({ path, ...options }).pipe(Layer.provideMerge(MemoryFileSystem.layer()))]
]

for (const [name, layerOf] of layers) {
  describe(`Outbox (${name})`, () => {
    it.effect("store keeps each event_id once, oldest first", () =>
      Effect.gen(function*() {
        const outbox = yield* Outbox.Outbox
        yield* outbox.store([event(1), event(2)])
        yield* outbox.store([event(2), event(3), event(3)])
        assert.strictEqual(yield* outbox.count, 3)
        assert.deepStrictEqual(ids(yield* outbox.list()), [1, 2, 3])
        assert.deepStrictEqual(ids(yield* outbox.list({ limit: 2 })), [1, 2])
      }).pipe(Effect.provide(layerOf())))

    it.effect("claim hands out due events oldest first, each to one claimer until its lease runs out", () =>
      Effect.gen(function*() {
        const outbox = yield* Outbox.Outbox
        yield* outbox.store([1, 2, 3].map(event))
        assert.deepStrictEqual(ids(yield* outbox.claim({ max: 2, lease })), [1, 2])
        assert.deepStrictEqual(ids(yield* outbox.claim({ max: 2, lease })), [3])
        assert.deepStrictEqual(yield* outbox.claim({ max: 2, lease }), [])
        yield* TestClock.adjust("29999 millis")
        assert.deepStrictEqual(yield* outbox.claim({ max: 5, lease }), [])
        yield* TestClock.adjust("1 millis")
        // The claimer died: its events are due again.
        assert.deepStrictEqual(ids(yield* outbox.claim({ max: 5, lease })), [1, 2, 3])
      }).pipe(Effect.provide(layerOf())))

    it.effect("release gives events back, due after their delay, with the attempt counted", () =>
      Effect.gen(function*() {
        const outbox = yield* Outbox.Outbox
        yield* outbox.store([event(1), event(2)])
        yield* outbox.claim({ max: 2, lease })
        yield* outbox.release([event(1).event_id], { delay: "2 seconds" })
        yield* outbox.release([event(2).event_id])
        const now = yield* outbox.claim({ max: 5, lease })
        assert.deepStrictEqual(now.map((e) => [e.event.latency_ms, e.attempts]), [[2, 1]])
        yield* TestClock.adjust("2 seconds")
        const later = yield* outbox.claim({ max: 5, lease })
        assert.deepStrictEqual(later.map((e) => [e.event.latency_ms, e.attempts]), [[1, 1]])
      }).pipe(Effect.provide(layerOf())))

    it.effect("acknowledge removes events for good; unknown ids are ignored", () =>
      Effect.gen(function*() {
        const outbox = yield* Outbox.Outbox
        yield* outbox.store([1, 2, 3].map(event))
        yield* outbox.claim({ max: 3, lease })
        yield* outbox.acknowledge([event(1).event_id, event(3).event_id, event(9).event_id])
        assert.deepStrictEqual(ids(yield* outbox.list()), [2])
        yield* TestClock.adjust("1 minute")
        assert.deepStrictEqual(ids(yield* outbox.claim({ max: 3, lease })), [2])
        assert.strictEqual(yield* Metric.value(Metrics.outboxSize).pipe(Effect.map((s) => s.value)), 1)
      }).pipe(Effect.provide(layerOf())))

    it.effect("beyond its bound the oldest events are dropped, counted", () =>
      Effect.gen(function*() {
        const outbox = yield* Outbox.Outbox
        const dropped = Metric.tagged(Metrics.outboxDropped, "reason", "full")
        const before = (yield* Metric.value(dropped)).count
        yield* outbox.store([1, 2].map(event))
        yield* outbox.store([3, 4, 5].map(event))
        assert.deepStrictEqual(ids(yield* outbox.list()), [3, 4, 5])
        assert.strictEqual((yield* Metric.value(dropped)).count - before, 2)
      }).pipe(Effect.provide(layerOf({ maxEntries: 3 }))))

    it.effect("awaitWork returns when an event is stored, or after its timeout", () =>
      Effect.gen(function*() {
        const outbox = yield* Outbox.Outbox
        yield* outbox.awaitWork("1 millis").pipe(Effect.fork, Effect.tap(() => TestClock.adjust("1 millis")))
        const waiting = yield* Effect.fork(outbox.awaitWork("1 hour"))
        yield* TestClock.adjust("1 minute")
        assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)))
        yield* outbox.store([event(1)])
        yield* Fiber.join(waiting)
        const idle = yield* Effect.fork(outbox.awaitWork("1 second"))
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(idle)
      }).pipe(Effect.provide(layerOf())))
  })
}

// The file layer's own promises.
const open = (scope: Scope.Scope, options: Partial<Outbox.FileOptions> = {}) =>
  Outbox.makeFile({ path, ...options }).pipe(Scope.extend(scope))

const fileText = Effect.flatMap(MemoryFileSystem.MemoryFileSystem, (control) => control.readText(path))

describe("Outbox (file)", () => {
  it.effect("an event is in the file when store returns; what was not acknowledged is there after a restart", () =>
    Effect.gen(function*() {
      const first = yield* Scope.make()
      const outbox = yield* open(first)
      yield* outbox.store([event(1)])
      assert.include(yield* fileText, event(1).event_id)
      yield* outbox.store([event(2), event(3)])
      yield* outbox.claim({ max: 3, lease })
      yield* outbox.acknowledge([event(2).event_id])
      // Claims live in memory and end with the outbox (as at a restart); the acknowledgement is in the file.
      const second = yield* Scope.make()
      yield* Scope.close(first, Exit.void)
      const restarted = yield* open(second)
      assert.deepStrictEqual(ids(yield* restarted.list()).sort(), [1, 3])
      assert.deepStrictEqual(ids(yield* restarted.claim({ max: 5, lease })), [1, 3])
      yield* Scope.close(second, Exit.void)
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("the file is emptied when the last event is acknowledged, and compacted when mostly dead", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const outbox = yield* open(scope)
      yield* outbox.store([event(1)])
      yield* outbox.acknowledge([event(1).event_id])
      assert.strictEqual(yield* fileText, "")
      const many = Array.from({ length: 600 }, (_, i) => event(i + 10))
      yield* outbox.store(many)
      for (const e of many.slice(0, 590)) yield* outbox.acknowledge([e.event_id])
      const lines = (yield* fileText)!.split("\n").filter((l) => l !== "")
      assert.isBelow(lines.length, 300, "rewritten once most lines were dead")
      yield* Scope.close(scope, Exit.void)
      const again = yield* Scope.make()
      assert.strictEqual(yield* (yield* open(again)).count, 10)
      yield* Scope.close(again, Exit.void)
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("lines that cannot be read are kept aside, byte for byte, and counted; the rest is delivered", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const control = yield* MemoryFileSystem.MemoryFileSystem
      yield* TestClock.setTime(1_700_000_000_000)
      const torn = "{\"event\":\"llm_prompt_comp"
      yield* fs.writeFileString(path, `${JSON.stringify(event(1))}\nnot json\n${JSON.stringify(event(2))}\n${torn}`)
      const unreadable = Metric.tagged(Metrics.outboxDropped, "reason", "unreadable")
      const before = (yield* Metric.value(unreadable)).count
      const scope = yield* Scope.make()
      const outbox = yield* open(scope)
      assert.deepStrictEqual(ids(yield* outbox.list()), [1, 2])
      assert.strictEqual(yield* control.readText(`${path}.unreadable-1700000000000`), `not json\n${torn}`)
      assert.strictEqual((yield* Metric.value(unreadable)).count - before, 2)
      assert.strictEqual(yield* fileText, `${JSON.stringify(event(1))}\n${JSON.stringify(event(2))}\n`)
      yield* Scope.close(scope, Exit.void)
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("an outbox that cannot be read fails to open with a typed error", () =>
    Effect.gen(function*() {
      const control = yield* MemoryFileSystem.MemoryFileSystem
      yield* control.inject({ errno: "EACCES", path, operations: ["read"] })
      const error = yield* Effect.flip(Effect.scoped(Outbox.makeFile({ path })))
      assert.strictEqual(error._tag, "OutboxError")
      assert.strictEqual(error._tag === "OutboxError" && error.reason, "permission-denied")
    }).pipe(Effect.provide(MemoryFileSystem.layer({ files: { [path]: "" } }))))
})
