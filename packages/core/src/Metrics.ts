/**
 * The Effect metrics of the pipeline. They are plain `Metric`s: any metrics backend attached to the runtime (the
 * OpenTelemetry layer of `@genesys-llm/node`, a Prometheus exporter, a test reading `Metric.value`) sees them.
 * Tags are low-cardinality identifiers: statuses, model ids, reasons, sink names — never text.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type * as AuditEntry from "./AuditEntry.js"

const millisBoundaries = MetricBoundaries.exponential({ start: 5, factor: 2, count: 15 })

/**
 * Calls by how they ended; tagged `status` (success, fallback, error, blocked, invalid, cancelled).
 *
 * @since 0.1.0
 * @category metrics
 */
export const calls = Metric.counter("genesys_llm_calls_total", {
  description: "Prompt calls by final status",
  incremental: true
})

/**
 * Whole-call latency in milliseconds.
 *
 * @since 0.1.0
 * @category metrics
 */
export const latency = Metric.histogram("genesys_llm_latency_ms", millisBoundaries, "Prompt call latency (ms)")

/**
 * Time from the start of a call to the first frame of the answer, in milliseconds (retries included).
 *
 * @since 0.1.0
 * @category metrics
 */
export const timeToFirstFrame = Metric.histogram(
  "genesys_llm_time_to_first_frame_ms",
  millisBoundaries,
  "Time to the first answer frame (ms)"
)

/**
 * Completion tokens used; tagged `model`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const tokens = Metric.counter("genesys_llm_tokens_total", {
  description: "Completion tokens used",
  incremental: true
})

/**
 * Estimated cost in USD; tagged `model`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const cost = Metric.counter("genesys_llm_cost_usd_total", {
  description: "Estimated cost (USD)",
  incremental: true
})

/**
 * Gateway attempts beyond the first.
 *
 * @since 0.1.0
 * @category metrics
 */
export const retries = Metric.counter("genesys_llm_retries_total", {
  description: "Gateway retries",
  incremental: true
})

/**
 * Audit writes that failed; tagged `reason` and `operation` (file sink) or `sink` (fan-out).
 *
 * @since 0.1.0
 * @category metrics
 */
export const auditWriteFailures = Metric.counter("genesys_llm_audit_write_failures_total", {
  description: "Audit writes that failed",
  incremental: true
})

/**
 * Torn tails a file sink moved aside on open.
 *
 * @since 0.1.0
 * @category metrics
 */
export const auditRecoveries = Metric.counter("genesys_llm_audit_recoveries_total", {
  description: "Torn audit log tails recovered on open",
  incremental: true
})

/**
 * Webhook deliveries that failed; tagged `reason` (timeout, transport, status).
 *
 * @since 0.1.0
 * @category metrics
 */
export const webhookFailures = Metric.counter("genesys_llm_webhook_failures_total", {
  description: "Metrics webhook deliveries that failed",
  incremental: true
})

/**
 * Webhook events delivered.
 *
 * @since 0.1.0
 * @category metrics
 */
export const webhookDelivered = Metric.counter("genesys_llm_webhook_delivered_total", {
  description: "Metrics webhook events delivered",
  incremental: true
})

/**
 * Events waiting in the webhook's outbox.
 *
 * @since 0.1.0
 * @category metrics
 */
export const outboxSize = Metric.gauge("genesys_llm_webhook_outbox_size", {
  description: "Events waiting in the metrics webhook outbox"
})

/**
 * Events dropped from a full outbox (the oldest go first); tagged `reason`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const outboxDropped = Metric.counter("genesys_llm_webhook_outbox_dropped_total", {
  description: "Events dropped from the metrics webhook outbox",
  incremental: true
})

/**
 * Outbox file operations that failed (the events stay in memory and are written again later).
 *
 * @since 0.1.0
 * @category metrics
 */
export const outboxWriteFailures = Metric.counter("genesys_llm_webhook_outbox_write_failures_total", {
  description: "Metrics webhook outbox writes that failed",
  incremental: true
})

/**
 * Permits left in the current window of the rate budget, as of the last permit taken.
 *
 * @since 0.1.0
 * @category metrics
 */
export const ratePermitsLeft = Metric.gauge("genesys_llm_rate_permits_left", {
  description: "Permits left in the current window of the rate budget"
})

/**
 * Milliseconds left of the throttle block (after a 429) on the client's key, as of the last attempt; 0 when none.
 *
 * @since 0.1.0
 * @category metrics
 */
export const rateBlockedMillis = Metric.gauge("genesys_llm_rate_blocked_ms", {
  description: "Milliseconds left of the throttle block on the client's key"
})

/**
 * The circuit breaker's state: 0 closed, 1 half-open (a probe may go), 2 open (calls fall back at once).
 *
 * @since 0.1.0
 * @category metrics
 */
export const circuitState = Metric.gauge("genesys_llm_circuit_state", {
  description: "Circuit breaker state: 0 closed, 1 half-open, 2 open"
})

/**
 * Tokens left in the retry budget.
 *
 * @since 0.1.0
 * @category metrics
 */
export const retryBudgetTokens = Metric.gauge("genesys_llm_retry_budget_tokens", {
  description: "Tokens left in the retry budget"
})

/**
 * Calls that ended with the fallback, tagged `reason`: `deadline`, `rate-limited`, `circuit-open`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const fallbacks = Metric.counter("genesys_llm_fallbacks_total", {
  description: "Calls that ended with the fallback, by reason",
  incremental: true
})

/**
 * What a finished call adds to the metrics beyond its audit record.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallMeasurements {
  readonly timeToFirstFrameMs?: number | undefined
  readonly costUsd?: number | undefined
}

/**
 * Records a finished call: its status, latency, tokens, retries, and, when known, time to first frame and cost.
 *
 * @since 0.1.0
 * @category utils
 */
export const recordCall = (
  record: AuditEntry.CallRecord,
  measurements: CallMeasurements = {}
): Effect.Effect<void> =>
  Effect.all([
    Metric.increment(Metric.tagged(calls, "status", record.status)),
    Metric.update(latency, record.latencyMs),
    record.tokensUsed > 0
      ? Metric.incrementBy(Metric.tagged(tokens, "model", record.modelId), record.tokensUsed)
      : Effect.void,
    record.attempts > 1 ? Metric.incrementBy(retries, record.attempts - 1) : Effect.void,
    record.fallbackReason !== undefined
      ? Metric.increment(Metric.tagged(fallbacks, "reason", record.fallbackReason))
      : Effect.void,
    measurements.timeToFirstFrameMs !== undefined
      ? Metric.update(timeToFirstFrame, measurements.timeToFirstFrameMs)
      : Effect.void,
    measurements.costUsd !== undefined && measurements.costUsd > 0
      ? Metric.incrementBy(Metric.tagged(cost, "model", record.modelId), measurements.costUsd)
      : Effect.void
  ], { discard: true })
