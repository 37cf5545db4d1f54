/**
 * A `TokenStore` on Redis: one access token per OAuth client for every instance that shares the Redis.
 *
 * - The token is kept under `{prefix}token:{sha256(loginUrl, clientId)}`: neither the client id nor the secret is in
 *   a key or a value. It expires in Redis at the refresh time the provider computed (`expires_in` less the skew), so
 *   no instance is handed a token about to expire.
 * - One instance at a time asks the login server: it holds `{key}:lock` (`SET NX PX`, a random owner, released by a
 *   compare-and-delete script); the lock expires after `lockTtlMillis` if its holder dies. The others poll for the
 *   value with a growing delay on the `Clock`, and take the lock when it is free and there is still no value, for at
 *   most `maxWaitMillis`.
 * - `invalidate` (a 401) drops the value only if it still holds the refused token (a script compares its
 *   fingerprint), so a late 401 never drops a newer token.
 * - With `encryptionKey`, the token is kept encrypted (AES-256-GCM, the Redis key as additional data).
 * - While Redis cannot be reached (a command fails or times out), a provider asks the login server itself, as without
 *   a store, and logs a warning; its own cache keeps that token. Nothing fails because Redis is gone.
 *
 * @since 0.1.0
 */
import { GatewayError, TokenStore } from "@genesys-llm/core"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { Redis } from "ioredis"
import * as Keys from "./internal/keys.js"
import * as Scripts from "./internal/scripts.js"
import * as TokenValue from "./internal/tokenValue.js"
import { RedisClient, run } from "./RedisClient.js"
import { InvalidRedisSetting, type RedisCommandFailed } from "./RedisError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The start of every key. Default `genesys-llm:`. */
  readonly prefix?: string | undefined
  /** 32 bytes as 64 hex digits or base64: the token is then kept encrypted. */
  readonly encryptionKey?: Redacted.Redacted<string> | undefined
  /** How long a lock holder may take before another instance may fetch. Default 15 000 ms. */
  readonly lockTtlMillis?: number | undefined
  /** The longest a caller waits for another instance's fetch. Default 30 000 ms. */
  readonly maxWaitMillis?: number | undefined
  /** The first delay between polls while another instance fetches; it doubles up to 500 ms. Default 25 ms. */
  readonly pollMillis?: number | undefined
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const defaults = {
  prefix: "genesys-llm:",
  lockTtlMillis: 15_000,
  maxWaitMillis: 30_000,
  pollMillis: 25,
  pollMaxMillis: 500
} as const

/**
 * The settings `layerConfig` reads besides the URL.
 *
 * @since 0.1.0
 * @category models
 */
export const settings = {
  prefix: "GENESYS_LLM_REDIS_PREFIX",
  encryptionKey: "GENESYS_LLM_REDIS_TOKEN_KEY"
} as const

/**
 * The Redis key of a client's token (its lock is this key and `:lock`).
 *
 * @since 0.1.0
 * @category utils
 */
export const tokenKey = (prefix: string, key: TokenStore.Key): string =>
  `${prefix}token:${Keys.hashed(key.loginUrl, key.clientId)}`

type Lookup = Effect.Effect<Option.Option<TokenStore.Entry>, RedisCommandFailed>

/**
 * A store over the `RedisClient` in context. Fails with `InvalidRedisSetting` when the encryption key is not 32 bytes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<TokenStore.Service, InvalidRedisSetting, RedisClient> =>
  Effect.gen(function*() {
    const redis = yield* RedisClient
    const codec = TokenValue.makeCodec(yield* encryptionKeyOf(options.encryptionKey))
    const prefix = options.prefix ?? defaults.prefix
    const lockTtl = options.lockTtlMillis ?? defaults.lockTtlMillis
    const maxWait = options.maxWaitMillis ?? defaults.maxWaitMillis
    const firstPoll = options.pollMillis ?? defaults.pollMillis

    const lookup = (name: string): Lookup => lookupEntry(redis, codec, name)

    const fetchHolding = (
      name: string,
      owner: string,
      fetch: Effect.Effect<TokenStore.Entry, GatewayError.AuthError>
    ) =>
      Effect.acquireUseRelease(
        Effect.void,
        // The previous holder may have stored a token between our lookup and our lock.
        () =>
          Effect.flatMap(
            lookup(name),
            (kept) =>
              Option.isSome(kept) ? Effect.succeed(kept.value) : Effect.tap(fetch, (entry) => store(name, entry))
          ),
        () => release(redis, `${name}:lock`, owner)
      )

    const store = (name: string, entry: TokenStore.Entry) =>
      Effect.gen(function*() {
        if (entry.refreshAt === undefined) return
        const ttl = Math.floor(entry.refreshAt - (yield* Clock.currentTimeMillis))
        if (ttl <= 0) return
        const value = codec.encode(name, entry.token)
        yield* run("SET", () => redis.set(name, value, "PX", ttl))
      }).pipe(Effect.catchAll(warn("the token could not be stored in Redis; other instances fetch their own")))

    const shared = (key: TokenStore.Key, fetch: Effect.Effect<TokenStore.Entry, GatewayError.AuthError>) =>
      Effect.gen(function*() {
        const name = tokenKey(prefix, key)
        const deadline = (yield* Clock.currentTimeMillis) + maxWait
        let delay = firstPoll
        while (true) {
          const kept = yield* lookup(name)
          if (Option.isSome(kept)) return kept.value
          const owner = TokenValue.lockOwner()
          const locked = yield* run("SET NX", () => redis.set(`${name}:lock`, owner, "PX", lockTtl, "NX"))
          if (locked === "OK") return yield* fetchHolding(name, owner, fetch)
          const now = yield* Clock.currentTimeMillis
          if (now >= deadline) {
            return yield* new GatewayError.TokenRequestFailed({
              reason: "timeout",
              description: `another instance held the token lock and no token reached Redis within ${maxWait} ms`
            })
          }
          yield* Effect.sleep(Duration.millis(Math.min(delay, deadline - now)))
          delay = Math.min(delay * 2, defaults.pollMaxMillis)
        }
      })

    return {
      get: (key, fetch) =>
        shared(key, fetch).pipe(
          Effect.catchTag("RedisCommandFailed", (error) =>
            Effect.zipRight(
              Effect.logWarning("Redis is unreachable; fetching the token without the shared cache").pipe(
                Effect.annotateLogs("error", error.message)
              ),
              fetch
            )),
          Effect.withSpan("RedisTokenStore.get", { captureStackTrace: false })
        ),
      invalidate: (key, token) =>
        run(
          "EVAL deleteIfPrefixed",
          () => redis.eval(Scripts.deleteIfPrefixed, 1, tokenKey(prefix, key), codec.prefixOf(token))
        ).pipe(
          Effect.asVoid,
          Effect.catchAll(warn("the refused token could not be dropped from Redis")),
          Effect.withSpan("RedisTokenStore.invalidate", { captureStackTrace: false })
        )
    } satisfies TokenStore.Service
  })

const lookupEntry = (redis: Redis, codec: TokenValue.Codec, name: string): Lookup =>
  Effect.gen(function*() {
    const raw = yield* run("EVAL readWithTtl", () => redis.eval(Scripts.readWithTtl, 1, name))
    if (!Array.isArray(raw) || typeof raw[0] !== "string" || typeof raw[1] !== "number" || raw[1] <= 0) {
      return Option.none()
    }
    const token = codec.decode(name, raw[0])
    if (Option.isNone(token)) {
      yield* Effect.logWarning("a token in Redis could not be read (another format or encryption key); replacing it")
      return Option.none()
    }
    const now = yield* Clock.currentTimeMillis
    return Option.some<TokenStore.Entry>({ token: token.value, refreshAt: now + raw[1] })
  })

const release = (redis: Redis, lock: string, owner: string) =>
  run("EVAL deleteIfEqual", () => redis.eval(Scripts.deleteIfEqual, 1, lock, owner)).pipe(
    Effect.asVoid,
    Effect.catchAll(warn("the token lock could not be released; it expires by itself"))
  )

const warn = (message: string) => (error: RedisCommandFailed) =>
  Effect.logWarning(message).pipe(Effect.annotateLogs("error", error.message))

const encryptionKeyOf = (
  key: Redacted.Redacted<string> | undefined
): Effect.Effect<Buffer | undefined, InvalidRedisSetting> => {
  if (key === undefined) return Effect.succeed(undefined)
  const parsed = TokenValue.parseKey(Redacted.value(key))
  return parsed === undefined
    ? Effect.fail(
      new InvalidRedisSetting({
        setting: settings.encryptionKey,
        description: "must be 32 bytes as 64 hex digits or base64 (openssl rand -base64 32)"
      })
    )
    : Effect.succeed(parsed)
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<TokenStore.TokenStore, InvalidRedisSetting, RedisClient> =>
  Layer.effect(TokenStore.TokenStore, make(options))

/**
 * The prefix from `GENESYS_LLM_REDIS_PREFIX` and the key from `GENESYS_LLM_REDIS_TOKEN_KEY`, both optional.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Omit<Options, "prefix" | "encryptionKey"> = {}
): Layer.Layer<TokenStore.TokenStore, InvalidRedisSetting | ConfigError.ConfigError, RedisClient> =>
  Layer.unwrapEffect(
    Effect.map(
      Config.all({
        prefix: Config.option(Config.string(settings.prefix)),
        encryptionKey: Config.option(Config.redacted(settings.encryptionKey))
      }),
      (config) =>
        layer({
          ...options,
          prefix: Option.getOrUndefined(config.prefix),
          encryptionKey: Option.getOrUndefined(config.encryptionKey)
        })
    )
  )
