/**
 * A `MetricsWebhook` for tests: it keeps every published call record, and the flat event the real webhook would
 * POST for it, in memory. Nothing leaves the process and `publish` returns the same cost estimate as the real one.
 * Event ids are counted (`00000000-0000-4000-8000-000000000001`, ...), so a test can assert whole events.
 *
 * ```ts
 * const published = yield* TestMetricsWebhook.records
 * assert.deepStrictEqual(published.map((r) => r.status), ["success"])
 * ```
 *
 * @since 0.1.0
 */
import { type AuditEntry, MetricsWebhook } from "@genesys-llm/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"

/**
 * @since 0.1.0
 * @category models
 */
export interface Control {
  /** The records published so far, oldest first. */
  readonly records: Effect.Effect<ReadonlyArray<AuditEntry.CallRecord>>
  /** The webhook payloads of those records, in the same order. */
  readonly events: Effect.Effect<ReadonlyArray<MetricsWebhook.Event>>
}

/**
 * What the double was given.
 *
 * @since 0.1.0
 * @category context
 */
export class Published extends Context.Tag("@genesys-llm/testing/TestMetricsWebhook/Published")<
  Published,
  Control
>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Prices per token; default the specification's 0.000002 USD. */
  readonly costs?: MetricsWebhook.CostTable | undefined
}

/**
 * The event id of the `n`th published record (from 1): a UUID v4 in form, counted rather than random.
 *
 * @since 0.1.0
 * @category utils
 */
export const eventId = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`

/**
 * Builds the webhook double and its control.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<{ readonly webhook: MetricsWebhook.Service; readonly control: Control }> =>
  Effect.gen(function*() {
    const costs = options.costs ?? MetricsWebhook.defaultCosts
    const published = yield* Ref.make<ReadonlyArray<{ record: AuditEntry.CallRecord; event: MetricsWebhook.Event }>>(
      []
    )
    const webhook: MetricsWebhook.Service = {
      publish: (record) =>
        Ref.modify(published, (all) => {
          const event = MetricsWebhook.eventOf(record, eventId(all.length + 1), costs)
          return [event.cost_estimate_usd, [...all, { record, event }]]
        }),
      outboxSize: Effect.succeed(0),
      pending: Effect.succeed(0)
    }
    const control: Control = {
      records: Effect.map(Ref.get(published), (all) => all.map((p) => p.record)),
      events: Effect.map(Ref.get(published), (all) => all.map((p) => p.event))
    }
    return { webhook, control }
  })

/**
 * The double as the `MetricsWebhook`, with its `Published` control.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<MetricsWebhook.MetricsWebhook | Published> =>
  Layer.effectContext(
    Effect.map(
      make(options),
      ({ control, webhook }) =>
        Context.make(MetricsWebhook.MetricsWebhook, webhook).pipe(Context.add(Published, control))
    )
  )

/**
 * The records published so far.
 *
 * @since 0.1.0
 * @category utils
 */
export const records: Effect.Effect<ReadonlyArray<AuditEntry.CallRecord>, never, Published> = Effect.flatMap(
  Published,
  (control) => control.records
)

/**
 * The webhook payloads published so far.
 *
 * @since 0.1.0
 * @category utils
 */
export const events: Effect.Effect<ReadonlyArray<MetricsWebhook.Event>, never, Published> = Effect.flatMap(
  Published,
  (control) => control.events
)
