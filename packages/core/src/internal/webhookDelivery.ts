import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type * as Outbox from "../Outbox.js"

/** @internal */
export interface DeliveryConfig {
  readonly outbox: Outbox.Service
  /** One delivery: succeeds when the receiver acknowledged the event. */
  readonly post: (event: Outbox.Event) => Effect.Effect<void, unknown>
  readonly concurrency: number
  readonly lease: Duration.Duration
  readonly initialDelay: Duration.Duration
  readonly maxDelay: Duration.Duration
  /** The longest the loop sleeps with nothing to deliver before it looks again (for outboxes it shares). */
  readonly idle: Duration.Duration
}

type Round = "idle" | "delivered" | "failed"

// Claims a batch, posts it, acknowledges what the receiver took and gives the rest back, due after `delay`.
// Claimed events are never left claimed: an interruption (the webhook closing) gives the whole batch back.
const round = (config: DeliveryConfig, delay: Duration.Duration): Effect.Effect<Round> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const batch = yield* config.outbox.claim({ max: config.concurrency, lease: config.lease })
      if (batch.length === 0) return "idle"
      const ids = batch.map((entry) => entry.event.event_id)
      const results = yield* Effect.exit(restore(
        Effect.forEach(batch, (entry) => Effect.either(config.post(entry.event)), {
          concurrency: config.concurrency
        })
      ))
      if (Exit.isFailure(results)) {
        yield* config.outbox.release(ids)
        return yield* Effect.failCause(results.cause)
      }
      const delivered = ids.filter((_, i) => Either.isRight(results.value[i]))
      const failed = ids.filter((_, i) => Either.isLeft(results.value[i]))
      if (delivered.length > 0) yield* config.outbox.acknowledge(delivered)
      if (failed.length === 0) return "delivered"
      yield* config.outbox.release(failed, { delay })
      return "failed"
    })
  )

/**
 * Delivers what the outbox holds, oldest first, `concurrency` at a time. A failed delivery gives its events back
 * to be due after the current backoff, and the loop waits that long before it claims again (so a receiver that is
 * down gets one batch per backoff, not every new event); the backoff doubles while the receiver keeps failing and
 * starts over once a batch went through.
 * @internal
 */
export const deliveryLoop = (config: DeliveryConfig): Effect.Effect<never> =>
  Effect.gen(function*() {
    let delay = config.initialDelay
    for (;;) {
      const outcome = yield* round(config, delay)
      if (outcome === "idle") {
        yield* config.outbox.awaitWork(config.idle)
      } else if (outcome === "delivered") {
        delay = config.initialDelay
      } else {
        yield* Effect.sleep(delay)
        delay = Duration.min(Duration.times(delay, 2), config.maxDelay)
      }
    }
  })
