import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import type * as AuditEntry from "../src/AuditEntry.js"
import * as AuditSink from "../src/AuditSink.js"
import * as Metrics from "../src/Metrics.js"

const record: AuditEntry.CallRecord = {
  kind: "call",
  timestamp: "2024-05-01T10:00:00.000Z",
  idempotencyKey: "llm-gw-1",
  modelId: "gpt-4o-mini",
  latencyMs: 5,
  tokensUsed: 1,
  status: "success",
  systemInstructionCount: 0,
  contextMessageCount: 1,
  attempts: 1,
  droppedContextMessages: 0,
  safetyRuleIds: []
}

const recording = Effect.gen(function*() {
  const written = yield* Ref.make<ReadonlyArray<AuditEntry.CallRecord>>([])
  const sink: AuditSink.Service = {
    write: (r) => Effect.zipRight(Effect.sleep(0), Ref.update(written, (all) => [...all, r]))
  }
  return { sink, written }
})

const failing = (reason: AuditSink.WriteFailureReason): AuditSink.Service => ({
  write: () => Effect.fail(new AuditSink.AuditWriteError({ reason, operation: "write", path: "/audit.log" }))
})

const failuresOf = (sink: string) =>
  Effect.map(Metric.value(Metric.tagged(Metrics.auditWriteFailures, "sink", sink)), (s) => s.count)

describe("AuditSink.fanOut", () => {
  it.effect("writes to every sink; one failing does not stop the others; the failure is typed and counted", () =>
    Effect.gen(function*() {
      const a = yield* recording
      const b = yield* recording
      const before = yield* failuresOf("disk")
      const sink = AuditSink.fanOut({ a: a.sink, disk: failing("no-space"), b: b.sink })
      const error = yield* Effect.flip(sink.write(record))
      assert.strictEqual(error._tag, "AuditFanOutError")
      if (error._tag !== "AuditFanOutError") return
      assert.deepStrictEqual(error.failures.map((f) => f.sink), ["disk"])
      assert.strictEqual(error.sinks, 3)
      assert.include(error.message, "no-space")
      assert.deepStrictEqual(yield* Ref.get(a.written), [record])
      assert.deepStrictEqual(yield* Ref.get(b.written), [record])
      assert.strictEqual((yield* failuresOf("disk")) - before, 1)
    }))

  it.effect("all succeeding is a success; nested fan-outs name the inner sink", () =>
    Effect.gen(function*() {
      const a = yield* recording
      yield* AuditSink.fanOut({ a: a.sink, noop: AuditSink.noop }).write(record)
      assert.strictEqual((yield* Ref.get(a.written)).length, 1)
      const nested = AuditSink.fanOut({ outer: AuditSink.fanOut({ inner: failing("permission-denied") }) })
      const error = yield* Effect.flip(nested.write(record))
      assert.deepStrictEqual(error._tag === "AuditFanOutError" && error.failures.map((f) => f.sink), ["outer/inner"])
    }))

  it.effect("layerFanOut builds each sink from its layer", () =>
    Effect.gen(function*() {
      const a = yield* recording
      const layer = AuditSink.layerFanOut({
        memory: Layer.succeed(AuditSink.AuditSink, a.sink),
        noop: AuditSink.layerNoop
      })
      yield* Effect.flatMap(AuditSink.AuditSink, (sink) => sink.write(record)).pipe(Effect.provide(layer))
      assert.strictEqual((yield* Ref.get(a.written)).length, 1)
    }))

  it.effect("the noop sink still refuses an invalid record", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(AuditSink.noop.write({ ...record, modelId: "a prompt sentence" }))
      assert.strictEqual(error._tag, "InvalidAuditEntryError")
    }))
})

describe("Metrics.recordCall", () => {
  it.effect("counts the call by status, its tokens, retries and latency", () =>
    Effect.gen(function*() {
      const calls = Metric.tagged(Metrics.calls, "status", "fallback")
      const tokens = Metric.tagged(Metrics.tokens, "model", "m-1")
      const before = [(yield* Metric.value(calls)).count, (yield* Metric.value(tokens)).count]
      const retries = (yield* Metric.value(Metrics.retries)).count
      const latency = (yield* Metric.value(Metrics.latency)).count
      yield* Metrics.recordCall({ ...record, status: "fallback", modelId: "m-1", tokensUsed: 30, attempts: 3 }, {
        timeToFirstFrameMs: 40,
        costUsd: 0.00006
      })
      assert.strictEqual((yield* Metric.value(calls)).count - before[0], 1)
      assert.strictEqual((yield* Metric.value(tokens)).count - before[1], 30)
      assert.strictEqual((yield* Metric.value(Metrics.retries)).count - retries, 2)
      assert.strictEqual((yield* Metric.value(Metrics.latency)).count - latency, 1)
    }))
})
