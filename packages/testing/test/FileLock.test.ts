import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { type AuditEntry, AuditLog, FileLock, MetricsWebhook, Outbox } from "@genesys-llm/core"
import { MemoryFileSystem } from "@genesys-llm/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"

const path = "/var/log/llm-audit.log"

const record = (i: number): AuditEntry.CallRecord => ({
  kind: "call",
  timestamp: new Date(Date.UTC(2024, 0, 1) + i).toISOString(),
  idempotencyKey: `llm-gw-${i}`,
  modelId: "gpt-4o-mini",
  latencyMs: i,
  tokensUsed: 1,
  status: "success",
  systemInstructionCount: 1,
  contextMessageCount: 1,
  attempts: 1,
  droppedContextMessages: 0,
  safetyRuleIds: []
})

const unusedHttp = Layer.succeed(HttpClient.HttpClient, HttpClient.make(() => Effect.dieMessage("no request")))

const held = (scope: Scope.Scope, options: FileLock.MemoryOptions = {}) =>
  Effect.flatMap(FileLock.FileLock, (lock) => lock.tryAcquire(path)).pipe(
    Effect.provide(FileLock.layerMemory(options)),
    Scope.extend(scope)
  )

describe("FileLock", () => {
  it.effect("acquire fails at once with wait 0, naming the file and the holder", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2024, 4, 1, 10))
      const first = yield* Scope.make()
      yield* FileLock.acquire(path).pipe(Scope.extend(first))
      const error = yield* Effect.flip(Effect.scoped(FileLock.acquire(path, { wait: 0 })))
      assert.strictEqual(error.reason, "held")
      assert.deepStrictEqual(error.holder, { pid: 7, host: "web-1", since: "2024-05-01T10:00:00.000Z" })
      assert.strictEqual(
        error.message,
        `${path} is in use by another writer: pid 7 on host web-1 since 2024-05-01T10:00:00.000Z`
      )
      yield* Scope.close(first, Exit.void)
      yield* Effect.scoped(FileLock.acquire(path, { wait: 0 }))
    }).pipe(Effect.provide(FileLock.layerMemory({ pid: 7, host: "web-1" }))))

  it.effect("acquire waits for the holder to let go, within its bound", () =>
    Effect.gen(function*() {
      const first = yield* Scope.make()
      yield* FileLock.acquire(path).pipe(Scope.extend(first))
      // Each retry is a sleep TestClock must run: a short wait keeps the test cheap on a loaded machine.
      const waiter = yield* Effect.fork(Effect.scoped(FileLock.acquire(path, { wait: "2 seconds" })))
      yield* TestClock.adjust("1 second")
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiter)))
      yield* Scope.close(first, Exit.void)
      // The clock moves in small steps until the waiter's next retry has run, wherever its pauses fell (a waiter
      // that started late on a loaded machine has its retries later than one that started at once).
      for (let step = 0; step < 40 && Option.isNone(yield* Fiber.poll(waiter)); step++) {
        yield* TestClock.adjust("25 millis")
      }
      const taken = yield* Fiber.join(waiter)
      assert.strictEqual(taken._tag, "Acquired")
    }).pipe(Effect.provide(FileLock.layerMemory())))

  it.effect("acquire gives up once its wait has passed, saying how long it waited", () =>
    Effect.gen(function*() {
      yield* FileLock.acquire(path)
      const waiter = yield* Effect.fork(Effect.scoped(FileLock.acquire(path, { wait: "2 seconds" })))
      yield* TestClock.adjust("1999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiter)))
      yield* TestClock.adjust("1 millis")
      const error = yield* Effect.flip(Fiber.join(waiter))
      assert.strictEqual(error.reason, "held")
      assert.strictEqual(error.waitedMillis, 2000)
      assert.include(error.message, "gave up after 2s")
    }).pipe(Effect.provide(FileLock.layerMemory()), Effect.scoped))

  it.effect("two layers of memory locks do not see each other", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      assert.strictEqual((yield* held(scope))._tag, "Acquired")
      assert.strictEqual((yield* held(scope))._tag, "Acquired")
      yield* Scope.close(scope, Exit.void)
    }))
})

describe("file sinks take their file's lock", () => {
  it.effect("a second audit log on one file is refused with lockWait 0; the first writes on", () =>
    Effect.gen(function*() {
      const first = yield* Scope.make()
      const sink = yield* AuditLog.make({ path }).pipe(Scope.extend(first))
      yield* sink.write(record(0))
      const error = yield* Effect.flip(Effect.scoped(AuditLog.make({ path, lockWait: 0 })))
      assert.strictEqual(error._tag, "FileLockError")
      yield* sink.write(record(1))
      yield* Scope.close(first, Exit.void)
      const result = yield* AuditLog.verify(path)
      assert.deepStrictEqual(result._tag === "Intact" && result.entries, 2)
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("a second audit log on one file waits for the first to close, then continues its chain", () =>
    Effect.gen(function*() {
      const first = yield* Scope.make()
      const sink = yield* AuditLog.make({ path }).pipe(Scope.extend(first))
      yield* sink.write(record(0))
      const second = yield* Effect.fork(
        Effect.scoped(Effect.flatMap(AuditLog.make({ path, lockWait: "1 minute" }), (s) => s.write(record(2))))
      )
      yield* TestClock.adjust("1 second")
      assert.isTrue(Option.isNone(yield* Fiber.poll(second)))
      yield* sink.write(record(1))
      yield* Scope.close(first, Exit.void)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(second)
      const result = yield* AuditLog.verify(path)
      assert.deepStrictEqual(result._tag === "Intact" && [result.entries, result.head.seq], [3, 3])
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("a second file outbox on one file is refused; the webhook layer says so", () =>
    Effect.gen(function*() {
      const outboxPath = "/var/lib/llm/outbox.jsonl"
      const first = yield* Scope.make()
      yield* Outbox.makeFile({ path: outboxPath }).pipe(Scope.extend(first))
      const error = yield* Effect.flip(Effect.scoped(Layer.build(
        MetricsWebhook.layer({ url: "http://127.0.0.1:9/hook", outboxPath, lockWait: 0 }).pipe(
          Layer.provide(unusedHttp)
        )
      )))
      assert.strictEqual(error._tag, "FileLockError")
      assert.include(error.message, outboxPath)
      yield* Scope.close(first, Exit.void)
    }).pipe(Effect.provide(MemoryFileSystem.layer())))
})
