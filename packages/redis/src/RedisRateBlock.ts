/**
 * The 429 block of the rate budget (`RateBlock` of `@genesys-llm/core`) on Redis: a `Retry-After` seen by one
 * instance holds every instance that shares the Redis.
 *
 * A block is a key `{prefix}block:{sha256(key)}` with a `PX` expiry of the block's length, set by a script only if
 * the key's `PTTL` is lower (a block only grows), read with `PTTL`. Only durations cross the wire, so instances whose
 * clocks disagree agree on the block.
 *
 * Every block is also kept in the process's own memory, and `remaining` is the longer of the two: while Redis cannot
 * be reached (a command fails or times out), an instance still keeps to the blocks it saw itself, and logs a
 * warning; the blocks other instances saw are then not known to it.
 *
 * @since 0.1.0
 */
import { RateBlock } from "@genesys-llm/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Keys from "./internal/keys.js"
import { RedisClient, run } from "./RedisClient.js"
import type { RedisCommandFailed } from "./RedisError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The start of every key. Default `genesys-llm:`. */
  readonly prefix?: string | undefined
}

/**
 * Sets KEYS[1] to expire in ARGV[1] ms unless it already expires later (PTTL is -2 for no key).
 *
 * @since 0.1.0
 * @category utils
 */
export const extendScript = `
local ms = tonumber(ARGV[1])
if redis.call("PTTL", KEYS[1]) < ms then
  redis.call("SET", KEYS[1], "1", "PX", ms)
  return 1
end
return 0
`

/**
 * The Redis key of the block on `key`.
 *
 * @since 0.1.0
 * @category utils
 */
export const blockKey = (prefix: string, key: string): string => `${prefix}block:${Keys.hashed(key)}`

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<RateBlock.Service, never, RedisClient> =>
  Effect.gen(function*() {
    const redis = yield* RedisClient
    const local = yield* RateBlock.makeMemory
    const prefix = options.prefix ?? "genesys-llm:"
    const warn = (message: string) => (error: RedisCommandFailed) =>
      Effect.logWarning(message).pipe(Effect.annotateLogs("error", error.message))

    const block = (key: string, millis: number) =>
      millis <= 0 ? Effect.void : Effect.zipRight(
        local.block(key, millis),
        run("EVAL extend", () => redis.eval(extendScript, 1, blockKey(prefix, key), Math.ceil(millis))).pipe(
          Effect.asVoid,
          Effect.catchAll(warn("Redis is unreachable; the 429 block holds this instance only"))
        )
      )

    const remaining = (key: string) =>
      Effect.zipWith(
        local.remaining(key),
        run("PTTL", () => redis.pttl(blockKey(prefix, key))).pipe(
          Effect.map((ttl) => Math.max(0, ttl)),
          Effect.catchAll((error) =>
            Effect.as(warn("Redis is unreachable; only this instance's 429 blocks hold")(error), 0)
          )
        ),
        Math.max
      )

    return {
      block: (key, millis) => Effect.withSpan(block(key, millis), "RedisRateBlock.block", { captureStackTrace: false }),
      remaining: (key) => Effect.withSpan(remaining(key), "RedisRateBlock.remaining", { captureStackTrace: false })
    } satisfies RateBlock.Service
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<RateBlock.RateBlock, never, RedisClient> =>
  Layer.effect(RateBlock.RateBlock, make(options))
