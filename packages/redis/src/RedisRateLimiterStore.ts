/**
 * The rate budget's permit counters (`@effect/experimental`'s `RateLimiterStore`) on Redis: `@effect/experimental`'s
 * own `RateLimiter/Redis` store, so every instance that shares the Redis takes its permits from one budget per OAuth
 * client.
 *
 * Two things are added around it: the budget's key (the client id) is hashed into the Redis key
 * (`{prefix}ratelimit:{sha256(key)}`), and while Redis cannot be reached (a command fails or times out within
 * `commandTimeoutMillis`) the store counts in the process's own memory instead (`RateLimiter.layerStoreMemory`) and
 * logs a warning: calls go on, each instance keeping to the whole limit by itself, so a fleet of N may send up to N
 * times the limit until Redis is back. The gateway's own 429s (and the shared block) are the backstop then.
 *
 * The store has its own ioredis connection (built by `@effect/experimental` from the same options); it does not wait
 * for it at start. `RedisLayers.layer` checks the Redis with a `PING` before building it.
 *
 * @since 0.1.0
 */
import * as RateLimiter from "@effect/experimental/RateLimiter"
import * as RateLimiterRedis from "@effect/experimental/RateLimiter/Redis"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Keys from "./internal/keys.js"
import * as RedisClient from "./RedisClient.js"
import type { InvalidRedisSetting } from "./RedisError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends RedisClient.Options {
  /** The start of every key (`ratelimit:` is added). Default `genesys-llm:`. */
  readonly prefix?: string | undefined
}

type ExperimentalOptions = Parameters<typeof RateLimiterRedis.make>[0]

// RateLimitExceeded and RateLimitStoreError share their tag; only a store error falls back.
const isStoreError = (error: RateLimiter.RateLimiterError): error is RateLimiter.RateLimitStoreError =>
  error.reason === "StoreError"

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<RateLimiter.RateLimiterStore["Type"], InvalidRedisSetting, Scope.Scope> =>
  Effect.gen(function*() {
    const redisOptions = yield* RedisClient.redisOptions(options)
    const remote = yield* RateLimiterRedis.make(
      // ioredis' own RedisOptions allow `undefined` where the declarations of @effect/experimental (built from
      // ioredis' sources) do not, under exactOptionalPropertyTypes; the values are the same.
      { ...redisOptions, prefix: `${options.prefix ?? "genesys-llm:"}ratelimit:` } as ExperimentalOptions
    )
    const local = yield* Effect.provide(RateLimiter.RateLimiterStore, RateLimiter.layerStoreMemory)
    const fallBack = (error: RateLimiter.RateLimitStoreError) =>
      Effect.logWarning("Redis is unreachable; the rate budget counts for this instance alone").pipe(
        Effect.annotateLogs("error", error.message)
      )
    return RateLimiter.RateLimiterStore.of({
      fixedWindow: (o) =>
        remote.fixedWindow({ ...o, key: Keys.hashed(o.key) }).pipe(
          Effect.catchIf(isStoreError, (error) => Effect.zipRight(fallBack(error), local.fixedWindow(o)))
        ),
      tokenBucket: (o) =>
        remote.tokenBucket({ ...o, key: Keys.hashed(o.key) }).pipe(
          Effect.catchIf(isStoreError, (error) => Effect.zipRight(fallBack(error), local.tokenBucket(o)))
        )
    })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<RateLimiter.RateLimiterStore, InvalidRedisSetting> =>
  Layer.scoped(RateLimiter.RateLimiterStore, make(options))
