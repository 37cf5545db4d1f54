// One writer per audit log, across real processes: a child process (test/fixtures/sinkProcess.ts) holds the log
// while this process tries to open it.
import { NodeFileSystem } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { AuditLog, Metrics } from "@genesys-llm/core"
import { NodeFileLock } from "@genesys-llm/node"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Os from "node:os"
import { spawn } from "./child.js"
import { callRecord } from "./fixtures/records.js"

const platform = Layer.merge(NodeFileSystem.layer, NodeFileLock.layer)

const record = (i: number) => callRecord("parent", i)

const tempLog = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "genesys-llm-writer-" })
  return { fs, dir, path: `${dir}/llm-audit.log` }
})

// Log lines of this process, as text, and a latch that opens on the first one that includes `awaited`.
const captureLogs = (awaited: string) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const seen = yield* Deferred.make<void>()
    const logger = Logger.make(({ message }) => {
      const text = (Array.isArray(message) ? message : [message]).map(String).join(" ")
      lines.push(text)
      if (text.includes(awaited)) Deferred.unsafeDone(seen, Effect.void)
    })
    return { lines, seen: Deferred.await(seen), layer: Logger.replace(Logger.defaultLogger, logger) }
  })

const keysOf = (text: string) =>
  text.split("\n").filter((l) => l !== "").map((l) => (JSON.parse(l) as { idempotencyKey?: string }).idempotencyKey)

const writeOne = (path: string, i: number, lockWait: number) =>
  Effect.scoped(Effect.flatMap(AuditLog.make({ path, lockWait }), (sink) => sink.write(record(i))))

describe("one writer per audit log, across processes", () => {
  it.live("a second writer is refused at once with lockWait 0, the error naming the file and the holder", () =>
    Effect.gen(function*() {
      const { path } = yield* tempLog
      const holder = yield* spawn(["audit", path, "2", "child"])
      yield* holder.line("ready")
      const error = yield* Effect.flip(writeOne(path, 0, 0))
      assert.strictEqual(error._tag, "FileLockError")
      if (error._tag !== "FileLockError") return
      assert.strictEqual(error.reason, "held")
      assert.strictEqual(error.path, path)
      assert.deepStrictEqual([error.holder?.pid, error.holder?.host], [holder.pid, Os.hostname()])
      assert.include(error.message, path)
      assert.include(error.message, `pid ${holder.pid} on host ${Os.hostname()}`)
      // A second process is refused just the same.
      const other = yield* spawn(["audit", path, "1", "other"], { LOCK_WAIT_MS: "0" })
      const refused = yield* other.line("error ")
      assert.include(refused, "FileLockError")
      assert.include(refused, `pid ${holder.pid}`)
      assert.strictEqual(yield* other.exit, 1)
      yield* holder.endInput
      assert.strictEqual(yield* holder.exit, 0)
      const result = yield* AuditLog.verify(path)
      assert.deepStrictEqual(result._tag === "Intact" && result.entries, 2)
    }).pipe(Effect.provide(platform), Effect.scoped))

  it.live("a second writer waits while the first writes on, then continues the chain after it", () =>
    Effect.gen(function*() {
      const { fs, path } = yield* tempLog
      const holder = yield* spawn(["audit", path, "3", "child"])
      yield* holder.line("ready")
      const logs = yield* captureLogs("waiting for the lock")
      const waiter = yield* Effect.fork(
        Effect.scoped(Effect.gen(function*() {
          const sink = yield* AuditLog.make({ path, lockWait: "5 minutes" })
          yield* sink.write(record(0))
          yield* sink.write(record(1))
        })).pipe(Effect.provide(logs.layer))
      )
      // Either the waiter waits (it logs so) or, without a lock, it has already written.
      yield* Effect.raceFirst(logs.seen, Effect.asVoid(Fiber.await(waiter)))
      yield* holder.send("write 2")
      yield* holder.line("wrote")
      yield* holder.endInput
      assert.strictEqual(yield* holder.exit, 0)
      yield* Fiber.join(waiter)
      const result = yield* AuditLog.verify(path)
      assert.deepStrictEqual(result._tag === "Intact" ? result.entries : result, 7)
      assert.deepStrictEqual(keysOf(yield* fs.readFileString(path)), [
        ...[0, 1, 2, 3, 4].map((i) => `llm-gw-child-${i}`),
        "llm-gw-parent-0",
        "llm-gw-parent-1"
      ])
    }).pipe(Effect.provide(platform), Effect.scoped))

  it.live("the lock of a SIGKILLed writer is taken over at once, and its torn tail is kept aside", () =>
    Effect.gen(function*() {
      const { dir, fs, path } = yield* tempLog
      const holder = yield* spawn(["audit", path, "3", "child"])
      yield* holder.line("ready")
      // While it lives, it holds the log.
      const refused = yield* Effect.flip(writeOne(path, 0, 0))
      assert.strictEqual(refused._tag, "FileLockError")
      // Killed in the middle of a line.
      yield* holder.send("tear")
      yield* holder.line("torn")
      assert.strictEqual(yield* holder.kill("SIGKILL"), "SIGKILL")

      const recoveries = Metric.tagged(Metrics.auditRecoveries, "reason", "no-trailing-newline")
      const before = (yield* Metric.value(recoveries)).count
      const logs = yield* captureLogs("took over the lock")
      yield* writeOne(path, 0, 0).pipe(Effect.provide(logs.layer))
      assert.isTrue(
        logs.lines.some((line) => line.includes(`took over the lock of ${path} from pid ${holder.pid}`)),
        logs.lines.join("\n")
      )
      assert.strictEqual((yield* Metric.value(recoveries)).count - before, 1)
      const sides = (yield* fs.readDirectory(dir)).filter((name) => name.startsWith("llm-audit.log.torn-"))
      assert.strictEqual(sides.length, 1)
      assert.strictEqual(yield* fs.readFileString(`${dir}/${sides[0]}`), "{\"kind\":\"call\",\"timest")
      const result = yield* AuditLog.verify(path)
      assert.deepStrictEqual(result._tag === "Intact" ? [result.entries, result.recoveries] : result, [4, 1])
    }).pipe(Effect.provide(platform), Effect.scoped))
})
