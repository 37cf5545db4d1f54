import * as Schema from "effect/Schema"
import * as AuditEntry from "../AuditEntry.js"

/**
 * The webhook's payload: the specification's fields plus `event_id`. Here, so that the outbox and the webhook
 * share it without importing each other.
 * @internal
 */
export const Event = Schema.Struct({
  event: Schema.Literal("llm_prompt_completed"),
  event_id: Schema.String.pipe(
    Schema.filter((s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s), {
      message: () => "expected a UUID"
    })
  ),
  timestamp: AuditEntry.Timestamp,
  model: AuditEntry.ModelId,
  latency_ms: Schema.NonNegativeInt,
  tokens_used: Schema.NonNegativeInt,
  cost_estimate_usd: Schema.NonNegative
}).annotations({ identifier: "MetricsWebhookEvent" })

/** @internal */
export type Event = typeof Event.Type
