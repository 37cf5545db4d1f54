/**
 * One ioredis connection as a service: connected (and checked with a `PING`) when the layer starts, so an
 * unreachable Redis is a `RedisUnavailable` naming the setting at start and not a hang on the first call; closed with
 * the layer. Every command is bounded by `commandTimeoutMillis`, so a lost Redis makes a command fail within that
 * bound rather than wait for the reconnection (ioredis keeps reconnecting in the background).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { Redis, type RedisOptions } from "ioredis"
import { InvalidRedisSetting, RedisCommandFailed, type RedisStartError, RedisUnavailable } from "./RedisError.js"

/**
 * @since 0.1.0
 * @category context
 */
export class RedisClient extends Context.Tag("@genesys-llm/redis/RedisClient")<RedisClient, Redis>() {}

/**
 * The environment variable the configured layers read.
 *
 * @since 0.1.0
 * @category models
 */
export const urlSetting = "GENESYS_LLM_REDIS_URL"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** `redis://[user:password@]host[:port][/db]` or `rediss://` for TLS. A password in it is a secret. */
  readonly url: string | Redacted.Redacted<string>
  /** Where the URL came from, for errors: `GENESYS_LLM_REDIS_URL` by default, `--redis-url` from the CLI. */
  readonly setting?: string | undefined
  /** The bound on connecting at start. Default 5000 ms. */
  readonly connectTimeoutMillis?: number | undefined
  /** The bound on each command; past it the command fails. Default 1000 ms. */
  readonly commandTimeoutMillis?: number | undefined
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const defaults = {
  setting: urlSetting,
  connectTimeoutMillis: 5_000,
  commandTimeoutMillis: 1_000
} as const

/**
 * A URL as it may be shown: scheme, host, port and database, without user name or password.
 *
 * @since 0.1.0
 * @category utils
 */
export const displayUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === "/" ? "" : parsed.pathname}`
  } catch {
    return "(a malformed URL)"
  }
}

/**
 * The ioredis options of a URL and the bounds of `options`: what this package's connections and
 * `@effect/experimental`'s `RateLimiter/Redis` store are built from.
 *
 * @since 0.1.0
 * @category utils
 */
export const redisOptions = (options: Options): Effect.Effect<RedisOptions, InvalidRedisSetting> =>
  Effect.suspend(() => {
    const setting = options.setting ?? defaults.setting
    const url = Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      return Effect.fail(new InvalidRedisSetting({ setting, description: "is not a URL (redis://host:port)" }))
    }
    if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
      return Effect.fail(
        new InvalidRedisSetting({
          setting,
          description: `must start with redis:// or rediss://, not ${parsed.protocol}//`
        })
      )
    }
    const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0
    if (!Number.isInteger(db) || db < 0) {
      return Effect.fail(new InvalidRedisSetting({ setting, description: "the path must be a database number" }))
    }
    const port = parsed.port.length > 0 ? Number(parsed.port) : 6379
    return Effect.succeed<RedisOptions>({
      host: parsed.hostname.replace(/^\[|\]$/g, ""),
      port,
      db,
      ...(parsed.username.length > 0 ? { username: decodeURIComponent(parsed.username) } : {}),
      ...(parsed.password.length > 0 ? { password: decodeURIComponent(parsed.password) } : {}),
      ...(parsed.protocol === "rediss:" ? { tls: { servername: parsed.hostname } } : {}),
      connectTimeout: options.connectTimeoutMillis ?? defaults.connectTimeoutMillis,
      commandTimeout: options.commandTimeoutMillis ?? defaults.commandTimeoutMillis,
      // A command waits for at most one reconnection before it fails; commandTimeout bounds it in any case.
      maxRetriesPerRequest: 1
    })
  })

const connect = (
  redis: Redis,
  options: Options,
  timeout: number,
  firstError: () => unknown
): Effect.Effect<void, RedisUnavailable> => {
  const unavailable = (description: string, cause?: unknown) =>
    new RedisUnavailable({
      setting: options.setting ?? defaults.setting,
      target: displayUrl(Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url),
      description,
      ...(cause === undefined ? {} : { cause })
    })
  return Effect.tryPromise({
    try: () => redis.connect().then(() => redis.ping()),
    catch: (cause) => unavailable(describe(firstError() ?? cause), cause)
  }).pipe(
    Effect.timeoutFail({
      duration: Duration.millis(timeout),
      onTimeout: () => unavailable(`no answer within ${timeout} ms`)
    }),
    Effect.asVoid
  )
}

/**
 * A connected client, closed with the scope. Fails with `RedisUnavailable` when Redis does not answer a `PING`
 * within `connectTimeoutMillis`, and then stops reconnecting.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Redis, RedisStartError, Scope.Scope> =>
  Effect.gen(function*() {
    const redisOpts = yield* redisOptions(options)
    const timeout = options.connectTimeoutMillis ?? defaults.connectTimeoutMillis
    const redis = yield* Effect.acquireRelease(
      Effect.sync(() => new Redis({ ...redisOpts, lazyConnect: true })),
      (redis) => Effect.sync(() => redis.disconnect())
    )
    // ioredis reports connection errors as events (and `connect` fails with only "Connection is closed."): the
    // first one says why the start failed; later ones are in the failure of the command they hit.
    let firstError: unknown = undefined
    redis.on("error", (error: unknown) => {
      firstError ??= error
    })
    yield* connect(redis, options, timeout, () => firstError)
    return redis
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<RedisClient, RedisStartError> =>
  Layer.scoped(RedisClient, make(options))

/**
 * The URL from `GENESYS_LLM_REDIS_URL` (the current `ConfigProvider`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Omit<Options, "url"> = {}
): Layer.Layer<RedisClient, RedisStartError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.redacted(urlSetting), (url) => layer({ ...options, url })))

/**
 * Runs one command, failing with `RedisCommandFailed` (its name and the error's words, never its arguments).
 *
 * @since 0.1.0
 * @category utils
 */
export const run = <A>(command: string, f: () => Promise<A>): Effect.Effect<A, RedisCommandFailed> =>
  Effect.tryPromise({ try: f, catch: (cause) => new RedisCommandFailed({ command, description: describe(cause) }) })

const describe = (cause: unknown): string =>
  cause instanceof Error && cause.message.length > 0 ? cause.message.slice(0, 200) : "unknown error"
