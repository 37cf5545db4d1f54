import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { AuditEntry, AuditLog, AuditSink, Metrics } from "@genesys-llm/core"
import { MemoryFileSystem, TestAuditSink } from "@genesys-llm/testing"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"

const path = "/var/log/llm-audit.log"

const record = (i: number): AuditEntry.CallRecord => ({
  kind: "call",
  timestamp: new Date(Date.UTC(2024, 0, 1) + i).toISOString(),
  idempotencyKey: `llm-gw-${i}`,
  modelId: "gpt-4o-mini",
  latencyMs: i % 5000,
  tokensUsed: i % 300,
  status: "success",
  systemInstructionCount: 1,
  contextMessageCount: 2,
  attempts: 1,
  droppedContextMessages: 0,
  safetyRuleIds: i % 3 === 0 ? ["us-ssn"] : []
})

const writeAll = (from: number, to: number, options: Partial<AuditLog.Options> = {}) =>
  Effect.scoped(Effect.gen(function*() {
    const sink = yield* AuditLog.make({ path, ...options })
    for (let i = from; i < to; i++) yield* sink.write(record(i))
  }))

const linesOf = (text: string | undefined) => (text ?? "").split("\n").slice(0, -1)

const failures = (reason: string, operation: string) =>
  Effect.map(
    Metric.value(Metric.tagged(Metric.tagged(Metrics.auditWriteFailures, "reason", reason), "operation", operation)),
    (state) => state.count
  )

describe("AuditLog file sink", () => {
  it.scoped("1,000 concurrent writes give exactly 1,000 whole lines, and the chain verifies", () =>
    Effect.gen(function*() {
      const control = yield* MemoryFileSystem.MemoryFileSystem
      const sink = yield* AuditLog.make({ path })
      yield* Effect.forEach(Array.from({ length: 1000 }, (_, i) => i), (i) => sink.write(record(i)), {
        concurrency: "unbounded",
        discard: true
      })
      const text = yield* control.readText(path)
      assert.isTrue(text!.endsWith("\n"))
      const lines = linesOf(text)
      assert.strictEqual(lines.length, 1000)
      const keys = new Set<string>()
      lines.forEach((line, index) => {
        const entry = JSON.parse(line) as AuditEntry.AuditEntry
        assert.strictEqual(entry.seq, index + 1)
        keys.add(entry.idempotencyKey)
      })
      assert.strictEqual(keys.size, 1000)
      const result = yield* AuditLog.verify(path)
      assert.strictEqual(result._tag, "Intact")
      assert.strictEqual(result._tag === "Intact" && result.entries, 1000)
    }).pipe(Effect.provide(MemoryFileSystem.layer({ writeChunkSize: 16 }))))

  it.effect("reopening continues the chain where it stopped", () =>
    Effect.gen(function*() {
      yield* writeAll(0, 3)
      yield* writeAll(3, 5)
      const result = yield* AuditLog.verify(path)
      assert.deepStrictEqual(result._tag === "Intact" && [result.lines, result.head.seq], [5, 5])
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  const recovers = (label: string, tail: string, reason: AuditEntry.RecoveryReason) =>
    it.effect(`recovers a torn tail on open: ${label}`, () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const control = yield* MemoryFileSystem.MemoryFileSystem
        yield* TestClock.setTime(1_700_000_000_000)
        yield* writeAll(0, 4)
        const good = (yield* control.readText(path))!
        yield* fs.writeFileString(path, tail, { flag: "a" })
        const recoveriesBefore = (yield* Metric.value(Metric.tagged(Metrics.auditRecoveries, "reason", reason))).count

        yield* writeAll(4, 6)

        // The torn bytes are kept, byte for byte, in the side file named by the recovery entry.
        const side = yield* control.readText(`${path}.torn-1700000000000`)
        assert.strictEqual(side, tail)
        const lines = linesOf(yield* control.readText(path))
        assert.strictEqual(lines.length, 7)
        assert.strictEqual(lines.slice(0, 4).map((l) => `${l}\n`).join(""), good)
        const recovery = JSON.parse(lines[4]) as AuditEntry.RecoveryEntry
        assert.strictEqual(recovery.kind, "recovery")
        assert.strictEqual(recovery.reason, reason)
        assert.strictEqual(recovery.seq, 5)
        assert.strictEqual(recovery.prevHash, (JSON.parse(lines[3]) as AuditEntry.AuditEntry).hash)
        assert.strictEqual(recovery.tornBytes, new TextEncoder().encode(tail).length)
        assert.strictEqual(recovery.tornSha256, AuditEntry.sha256(tail))
        assert.strictEqual(recovery.sideFile, ".torn-1700000000000")
        assert.strictEqual((JSON.parse(lines[5]) as AuditEntry.AuditEntry).seq, 6)
        const result = yield* AuditLog.verify(path)
        assert.deepStrictEqual(result._tag === "Intact" && [result.lines, result.entries, result.recoveries], [7, 6, 1])
        const recoveriesAfter = (yield* Metric.value(Metric.tagged(Metrics.auditRecoveries, "reason", reason))).count
        assert.strictEqual(recoveriesAfter - recoveriesBefore, 1)
      }).pipe(Effect.provide(MemoryFileSystem.layer())))

  recovers("a last line without a newline", "{\"kind\":\"call\",\"timestamp\":\"2024-", "no-trailing-newline")
  recovers("a last line that is not JSON", "{\"kind\":\"call\",\"timest\u0000\u0000\u0000\n", "invalid-json")
  recovers(
    "a last line from another chain",
    `${AuditEntry.encodeLine(AuditEntry.seal(record(99), AuditEntry.genesis))}\n`,
    "chain-broken"
  )

  it.effect("a file that holds only a torn first line starts a new chain after moving it aside", () =>
    Effect.gen(function*() {
      const control = yield* MemoryFileSystem.MemoryFileSystem
      yield* writeAll(0, 2)
      const lines = linesOf(yield* control.readText(path))
      assert.strictEqual((JSON.parse(lines[0]) as AuditEntry.RecoveryEntry).kind, "recovery")
      assert.strictEqual(yield* control.readText(`${path}.torn-0`), "{\"kind\":\"ca")
      assert.strictEqual((yield* AuditLog.verify(path))._tag, "Intact")
    }).pipe(Effect.provide(MemoryFileSystem.layer({ files: { [path]: "{\"kind\":\"ca" } }))))

  it.effect("a log broken before its last line is not repaired: opening fails as corrupt", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const control = yield* MemoryFileSystem.MemoryFileSystem
      yield* writeAll(0, 4)
      const lines = linesOf(yield* control.readText(path))
      lines[2] = "not json"
      yield* fs.writeFileString(path, lines.map((l) => `${l}\n`).join(""))
      const error = yield* Effect.flip(writeAll(4, 5))
      assert.strictEqual(error._tag, "AuditWriteError")
      assert.strictEqual(error._tag === "AuditWriteError" && error.reason, "corrupt")
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("no space: a typed error, counted, the partial line rolled back; later writes continue the chain", () =>
    Effect.gen(function*() {
      const control = yield* MemoryFileSystem.MemoryFileSystem
      const before = yield* failures("no-space", "write")
      yield* Effect.scoped(Effect.gen(function*() {
        const sink = yield* AuditLog.make({ path })
        yield* sink.write(record(0))
        // Room for half a line: the disk takes part of it, then ENOSPC.
        yield* control.setCapacity((yield* control.usedBytes) + 150)
        const error = yield* Effect.flip(sink.write(record(1)))
        assert.strictEqual(error._tag, "AuditWriteError")
        if (error._tag === "AuditWriteError") {
          assert.strictEqual(error.reason, "no-space")
          assert.strictEqual(error.operation, "write")
          assert.strictEqual(error.path, path)
          assert.notInclude(error.message, "llm-gw-1")
        }
        assert.strictEqual(linesOf(yield* control.readText(path)).length, 1)
        assert.isTrue((yield* control.readText(path))!.endsWith("\n"))
        yield* control.setCapacity(undefined)
        yield* sink.write(record(2))
      }))
      assert.strictEqual((yield* failures("no-space", "write")) - before, 1)
      const result = yield* AuditLog.verify(path)
      assert.deepStrictEqual(result._tag === "Intact" && result.lines, 2)
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("no permission: opening fails with a typed error, counted; so does a write refused later", () =>
    Effect.gen(function*() {
      const control = yield* MemoryFileSystem.MemoryFileSystem
      const openBefore = yield* failures("permission-denied", "open")
      const writeBefore = yield* failures("permission-denied", "write")
      yield* control.inject({ errno: "EACCES", operations: ["open"], path, times: 1 })
      const openError = yield* Effect.flip(writeAll(0, 1))
      assert.deepStrictEqual(
        openError._tag === "AuditWriteError" && [openError.reason, openError.operation],
        ["permission-denied", "open"]
      )
      assert.strictEqual((yield* failures("permission-denied", "open")) - openBefore, 1)

      yield* Effect.scoped(Effect.gen(function*() {
        const sink = yield* AuditLog.make({ path })
        yield* control.inject({ errno: "EACCES", operations: ["write"], path, times: 1 })
        const error = yield* Effect.flip(sink.write(record(0)))
        assert.deepStrictEqual(error._tag === "AuditWriteError" && error.reason, "permission-denied")
        yield* sink.write(record(1))
      }))
      assert.strictEqual((yield* failures("permission-denied", "write")) - writeBefore, 1)
      const result = yield* AuditLog.verify(path)
      assert.deepStrictEqual(result._tag === "Intact" && result.lines, 1)
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("a failed fsync (per-entry policy) means the line is not in the log", () =>
    Effect.gen(function*() {
      const control = yield* MemoryFileSystem.MemoryFileSystem
      yield* Effect.scoped(Effect.gen(function*() {
        const sink = yield* AuditLog.make({ path })
        yield* sink.write(record(0))
        yield* control.inject({ errno: "EIO", operations: ["sync"], times: 1 })
        const error = yield* Effect.flip(sink.write(record(1)))
        assert.deepStrictEqual(error._tag === "AuditWriteError" && [error.operation, error.reason], ["sync", "io"])
        yield* sink.write(record(2))
      }))
      const lines = linesOf(yield* control.readText(path))
      assert.deepStrictEqual(lines.map((l) => JSON.parse(l).idempotencyKey), ["llm-gw-0", "llm-gw-2"])
      assert.strictEqual((yield* AuditLog.verify(path))._tag, "Intact")
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("batched fsync syncs on its interval; a failure there is counted", () =>
    Effect.gen(function*() {
      const control = yield* MemoryFileSystem.MemoryFileSystem
      const before = yield* failures("io", "sync")
      const scope = yield* Scope.make()
      const sink = yield* AuditLog.make({ path, fsync: AuditLog.batched({ entries: 100, interval: "1 second" }) }).pipe(
        Scope.extend(scope)
      )
      yield* control.inject({ errno: "EIO", operations: ["sync"] })
      yield* sink.write(record(0))
      yield* sink.write(record(1))
      assert.strictEqual((yield* failures("io", "sync")) - before, 0)
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* failures("io", "sync")) - before, 1)
      yield* control.clearFaults
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(linesOf(yield* control.readText(path)).length, 2)
      const closed = yield* Effect.flip(sink.write(record(2)))
      assert.deepStrictEqual(closed._tag === "AuditWriteError" && closed.reason, "closed")
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("fan-out: the file sink out of space does not stop the memory sink; the failure names the file", () =>
    Effect.gen(function*() {
      const control = yield* MemoryFileSystem.MemoryFileSystem
      const memory = yield* TestAuditSink.make
      const layer = AuditSink.layerFanOut({
        file: AuditLog.layer({ path }),
        memory: Layer.succeed(AuditSink.AuditSink, memory.sink)
      })
      yield* Effect.gen(function*() {
        const sink = yield* AuditSink.AuditSink
        yield* sink.write(record(0))
        yield* control.setCapacity(yield* control.usedBytes)
        const error = yield* Effect.flip(sink.write(record(1)))
        assert.strictEqual(error._tag, "AuditFanOutError")
        if (error._tag === "AuditFanOutError") {
          assert.deepStrictEqual(
            error.failures.map((f) => [f.sink, f.error._tag === "AuditWriteError" && f.error.reason]),
            [
              ["file", "no-space"]
            ]
          )
        }
      }).pipe(Effect.provide(layer))
      assert.deepStrictEqual((yield* Ref.get(memory.control.entries)).map((e) => e.idempotencyKey), [
        "llm-gw-0",
        "llm-gw-1"
      ])
      assert.strictEqual(linesOf(yield* control.readText(path)).length, 1)
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("layerConfig writes to LLM_AUDIT_LOG_PATH", () =>
    Effect.gen(function*() {
      const control = yield* MemoryFileSystem.MemoryFileSystem
      yield* Effect.flatMap(AuditSink.AuditSink, (sink) => sink.write(record(0))).pipe(
        Effect.provide(AuditLog.layerConfig()),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["LLM_AUDIT_LOG_PATH", "/data/audit.jsonl"]])))
      )
      assert.strictEqual(linesOf(yield* control.readText("/data/audit.jsonl")).length, 1)
      assert.strictEqual(AuditLog.defaultPath, "./llm-audit.log")
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.effect("an invalid record is refused before anything is written", () =>
    Effect.gen(function*() {
      const control = yield* MemoryFileSystem.MemoryFileSystem
      const error = yield* Effect.flip(Effect.scoped(Effect.flatMap(
        AuditLog.make({ path }),
        (sink) => sink.write({ ...record(0), modelId: "Bearer abc.def" })
      )))
      assert.strictEqual(error._tag, "InvalidAuditEntryError")
      assert.strictEqual(yield* control.readText(path), "")
    }).pipe(Effect.provide(MemoryFileSystem.layer())))
})
