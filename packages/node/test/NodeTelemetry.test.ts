// The OpenTelemetry layer: spans of the Effect.fn stages and the core metrics reach an exporter.
import { assert, describe, it } from "@effect/vitest"
import { type AuditEntry, AuditSink, Metrics } from "@genesys-llm/core"
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader
} from "@opentelemetry/sdk-metrics"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as NodeTelemetry from "../src/NodeTelemetry.js"

const record: AuditEntry.CallRecord = {
  kind: "call",
  timestamp: "2024-05-01T10:00:00.000Z",
  idempotencyKey: "llm-gw-otel",
  modelId: "gpt-4o-mini",
  latencyMs: 250,
  tokensUsed: 12,
  status: "success",
  systemInstructionCount: 1,
  contextMessageCount: 1,
  attempts: 2,
  droppedContextMessages: 0,
  safetyRuleIds: []
}

// What a stage does: a traced method (the fan-out's write) and the metrics of a finished call.
const work = Effect.gen(function*() {
  yield* AuditSink.fanOut({ noop: AuditSink.noop }).write(record)
  yield* Metrics.recordCall(record, { timeToFirstFrameMs: 80, costUsd: 0.000024 })
})

describe("NodeTelemetry", () => {
  it.live("exports the stages' spans and the call metrics (in-memory exporters)", () =>
    Effect.gen(function*() {
      const spans = new InMemorySpanExporter()
      const metrics = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
      // Read while the SDK is up: shutting it down empties the in-memory span exporter.
      const finished = yield* work.pipe(
        Effect.zipRight(Effect.sync(() => spans.getFinishedSpans())),
        Effect.provide(NodeTelemetry.layer({
          exporter: "none",
          serviceName: "telemetry-test",
          spanProcessors: [new SimpleSpanProcessor(spans)],
          metricReaders: [new PeriodicExportingMetricReader({ exporter: metrics, exportIntervalMillis: 60_000 })]
        }))
      )
      assert.include(finished.map((s) => s.name), "AuditSink.fanOut.write")
      assert.strictEqual(finished[0].resource.attributes["service.name"], "telemetry-test")
      const names = metrics.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics))
        .map((m) => m.descriptor.name)
      for (const name of ["genesys_llm_calls_total", "genesys_llm_latency_ms", "genesys_llm_retries_total"]) {
        assert.include(names, name)
      }
    }))

  it.live("sends traces and metrics over OTLP/HTTP to a collector on 127.0.0.1", () =>
    Effect.gen(function*() {
      const received: Array<{ path: string; body: string }> = []
      const server = yield* Effect.acquireRelease(
        Effect.async<Http.Server>((resume) => {
          const s = Http.createServer((req, res) => {
            const chunks: Array<Buffer> = []
            req.on("data", (c: Buffer) => chunks.push(c))
            req.on("end", () => {
              received.push({ path: req.url ?? "", body: Buffer.concat(chunks).toString("utf8") })
              res.writeHead(200, { "content-type": "application/json" }).end("{}")
            })
          })
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) => Effect.async<void>((done) => void s.close(() => done(Effect.void)))
      )
      const port = (server.address() as AddressInfo).port
      yield* work.pipe(
        Effect.provide(NodeTelemetry.layer({ exporter: "otlp", endpoint: `http://127.0.0.1:${port}/` }))
      )
      const traces = received.filter((r) => r.path === "/v1/traces")
      const exported = received.filter((r) => r.path === "/v1/metrics")
      assert.isAtLeast(traces.length, 1)
      assert.isTrue(traces.some((r) => r.body.includes("AuditSink.fanOut.write")))
      assert.isAtLeast(exported.length, 1)
      assert.isTrue(exported.some((r) => r.body.includes("genesys_llm_calls_total")))
    }).pipe(Effect.scoped))
})
