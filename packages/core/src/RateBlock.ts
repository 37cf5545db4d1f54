/**
 * The store of throttle blocks: after a `429 Retry-After: N` (or an answer whose `inin-ratelimit-count` reached its
 * `inin-ratelimit-allowed`) the OAuth client's key is blocked for N seconds, and every call that shares the store
 * waits out that block or falls back, instead of sending into the throttle.
 *
 * The store speaks in durations, never in instants, so that instances whose clocks disagree can share one (the
 * Redis store of `@genesys-llm/redis` keeps a block as a key with a `PX` expiry). A block only ever grows: a
 * shorter block on a key already blocked for longer changes nothing.
 *
 * `layerMemory` keeps the blocks of one process, on the `Clock` (deterministic under `TestClock`).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

/**
 * The store could not be read or written (a shared store that is down). The rate budget lets a call go on such an
 * error rather than stop every call of the process on a broken store.
 *
 * @since 0.1.0
 * @category errors
 */
export class RateBlockError extends Schema.TaggedError<RateBlockError>("@genesys-llm/core/RateBlockError")(
  "RateBlockError",
  {
    operation: Schema.Literal("block", "remaining"),
    cause: Schema.optional(Schema.Defect)
  }
) {
  override get message(): string {
    return `the rate block store failed to ${this.operation === "block" ? "record a block" : "read a block"}`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Blocks `key` for `millis` milliseconds from now, unless it is already blocked for longer. A `millis` of 0 or
   * less changes nothing.
   */
  readonly block: (key: string, millis: number) => Effect.Effect<void, RateBlockError>
  /** The milliseconds left of the block on `key`; 0 when it is not blocked. */
  readonly remaining: (key: string) => Effect.Effect<number, RateBlockError>
}

/**
 * @since 0.1.0
 * @category context
 */
export class RateBlock extends Context.Tag("@genesys-llm/core/RateBlock")<RateBlock, Service>() {}

/**
 * The blocks of one process, kept in a map on the `Clock`; an expired block is removed when it is next read.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<Service> = Effect.sync(() => {
  const until = new Map<string, number>()
  return {
    block: (key, millis) =>
      millis > 0
        ? Effect.map(Clock.currentTimeMillis, (now) => {
          const end = now + millis
          if ((until.get(key) ?? 0) < end) until.set(key, end)
        })
        : Effect.void,
    remaining: (key) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const end = until.get(key)
        if (end === undefined) return 0
        if (end <= now) {
          until.delete(key)
          return 0
        }
        return end - now
      })
  }
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<RateBlock> = Layer.effect(RateBlock, makeMemory)

/**
 * For tests: the memory store, which runs on the `TestClock` of the test.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest: Layer.Layer<RateBlock> = layerMemory
