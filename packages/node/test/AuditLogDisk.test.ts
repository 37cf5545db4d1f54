// The file sink on a real disk through NodeFileSystem: concurrency, tampering and a torn tail.
import { NodeFileSystem } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { type AuditEntry, AuditLog } from "@genesys-llm/core"
import { NodeFileLock } from "@genesys-llm/node"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const platform = Layer.merge(NodeFileSystem.layer, NodeFileLock.layer)

const record = (i: number): AuditEntry.CallRecord => ({
  kind: "call",
  timestamp: new Date(Date.UTC(2024, 0, 1) + i).toISOString(),
  idempotencyKey: `llm-gw-${i}`,
  modelId: "gpt-4o-mini",
  latencyMs: i,
  tokensUsed: i % 100,
  status: i % 10 === 0 ? "fallback" : "success",
  systemInstructionCount: 1,
  contextMessageCount: 2,
  attempts: 1,
  droppedContextMessages: 0,
  safetyRuleIds: []
})

const tempLog = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "genesys-llm-audit-" })
  return `${dir}/llm-audit.log`
})

const rewriteLines = (path: string, edit: (lines: Array<string>) => void) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const lines = (yield* fs.readFileString(path)).split("\n").slice(0, -1)
    edit(lines)
    yield* fs.writeFileString(path, lines.map((l) => `${l}\n`).join(""))
  })

const broken = (path: string) =>
  Effect.map(AuditLog.verify(path), (result) => result._tag === "Broken" ? [result.line, result.reason] : result._tag)

describe("AuditLog on a real disk", () => {
  it.scoped("1,000 concurrent writes: 1,000 whole lines, none interleaved, the chain verifies", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* tempLog
      yield* Effect.scoped(Effect.gen(function*() {
        const sink = yield* AuditLog.make({ path })
        yield* Effect.forEach(Array.from({ length: 1000 }, (_, i) => i), (i) => sink.write(record(i)), {
          concurrency: "unbounded",
          discard: true
        })
      }))
      const text = yield* fs.readFileString(path)
      const lines = text.split("\n")
      assert.strictEqual(lines.pop(), "")
      assert.strictEqual(lines.length, 1000)
      const keys = new Set(lines.map((line) => (JSON.parse(line) as AuditEntry.AuditEntry).idempotencyKey))
      assert.strictEqual(keys.size, 1000)
      const result = yield* AuditLog.verify(path)
      assert.deepStrictEqual(result._tag === "Intact" && [result.lines, result.entries], [1000, 1000])
    }).pipe(Effect.provide(platform)))

  it.scoped("an edit, a deletion and a swap of a middle line are each found at that line", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* tempLog
      yield* Effect.scoped(
        Effect.flatMap(AuditLog.make({ path }), (sink) =>
          Effect.forEach(
            Array.from({ length: 10 }, (_, i) => i),
            (i) => sink.write(record(i)),
            { discard: true }
          ))
      )
      const original = yield* fs.readFileString(path)

      yield* rewriteLines(path, (lines) => {
        lines[4] = lines[4].replace("\"status\":\"success\"", "\"status\":\"error\"")
      })
      assert.deepStrictEqual(yield* broken(path), [5, "edited"])

      yield* fs.writeFileString(path, original)
      yield* rewriteLines(path, (lines) => void lines.splice(6, 1))
      assert.deepStrictEqual(yield* broken(path), [7, "removed-or-reordered"])

      yield* fs.writeFileString(path, original)
      yield* rewriteLines(path, (lines) => void ([lines[2], lines[3]] = [lines[3], lines[2]]))
      assert.deepStrictEqual(yield* broken(path), [3, "removed-or-reordered"])

      yield* fs.writeFileString(path, original)
      assert.strictEqual(yield* broken(path), "Intact")
    }).pipe(Effect.provide(platform)))

  it.scoped("a torn tail is moved aside on open and the chain goes on through a recovery entry", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* tempLog
      yield* Effect.scoped(Effect.flatMap(AuditLog.make({ path }), (sink) => sink.write(record(0))))
      yield* fs.writeFileString(path, "{\"kind\":\"call\",\"times", { flag: "a" })
      yield* Effect.scoped(Effect.flatMap(AuditLog.make({ path }), (sink) => sink.write(record(1))))
      const result = yield* AuditLog.verify(path)
      assert.deepStrictEqual(result._tag === "Intact" && [result.entries, result.recoveries], [2, 1])
      const dir = path.slice(0, path.lastIndexOf("/"))
      const sides = (yield* fs.readDirectory(dir)).filter((name) => name.startsWith("llm-audit.log.torn-"))
      assert.strictEqual(sides.length, 1)
      assert.strictEqual(yield* fs.readFileString(`${dir}/${sides[0]}`), "{\"kind\":\"call\",\"times")
    }).pipe(Effect.provide(platform)))
})
