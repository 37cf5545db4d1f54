import { assert, describe, it } from "@effect/vitest"
import type { AuditEntry } from "@genesys-llm/core"
import { AuditLog, AuditSink } from "@genesys-llm/core"
import { TestAuditSink } from "@genesys-llm/testing"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"

const record = (i: number): AuditEntry.CallRecord => ({
  kind: "call",
  timestamp: "2024-05-01T10:00:00.000Z",
  idempotencyKey: `llm-gw-${i}`,
  modelId: "gpt-4o-mini",
  latencyMs: i,
  tokensUsed: 0,
  status: "blocked",
  systemInstructionCount: 0,
  contextMessageCount: 1,
  attempts: 0,
  droppedContextMessages: 0,
  safetyRuleIds: ["us-ssn"]
})

describe("TestAuditSink", () => {
  it.effect("keeps chained entries that verify like a file, and fails on demand", () =>
    Effect.gen(function*() {
      const sink = yield* AuditSink.AuditSink
      const control = yield* TestAuditSink.TestAuditSink
      yield* Effect.forEach([0, 1, 2], (i) => sink.write(record(i)), { concurrency: "unbounded", discard: true })
      const entries = yield* Ref.get(control.entries)
      assert.deepStrictEqual(entries.map((e) => e.seq), [1, 2, 3])
      assert.strictEqual(entries[1].prevHash, entries[0].hash)
      assert.strictEqual(AuditLog.verifyBytes(yield* control.text)._tag, "Intact")

      yield* control.failWith("no-space")
      const error = yield* Effect.flip(sink.write(record(3)))
      assert.strictEqual(error._tag === "AuditWriteError" && error.reason, "no-space")
      yield* control.failWith(undefined)
      yield* sink.write(record(4))
      assert.strictEqual((yield* Ref.get(control.entries)).length, 4)
      const invalid = yield* Effect.flip(sink.write({ ...record(5), errorTag: "not an identifier" }))
      assert.strictEqual(invalid._tag, "InvalidAuditEntryError")
    }).pipe(Effect.provide(TestAuditSink.layer)))
})
