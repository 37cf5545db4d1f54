/**
 * Everything instances share through one Redis, as one layer: the token cache (`TokenStore`), the rate budget's
 * permit counters (`RateLimiterStore`) and its 429 block (`RateBlock`). Provide it under the gateway and the rate
 * budget layers in place of the memory ones.
 *
 * | variable | default | meaning |
 * | --- | --- | --- |
 * | `GENESYS_LLM_REDIS_URL` | required | `redis://[user:password@]host[:port][/db]`, `rediss://` for TLS |
 * | `GENESYS_LLM_REDIS_PREFIX` | `genesys-llm:` | the start of every key |
 * | `GENESYS_LLM_REDIS_TOKEN_KEY` | none | 32 bytes (64 hex digits or base64): the token is kept encrypted |
 *
 * At start, Redis must answer a `PING` within `connectTimeoutMillis`, else the layer fails with `RedisUnavailable`
 * naming the setting. Once started, nothing fails because Redis is lost; see each store for what it does then.
 *
 * @since 0.1.0
 */
import type * as RateLimiter from "@effect/experimental/RateLimiter"
import type { RateBlock, TokenStore } from "@genesys-llm/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as RedisClient from "./RedisClient.js"
import type { RedisStartError } from "./RedisError.js"
import * as RedisRateBlock from "./RedisRateBlock.js"
import * as RedisRateLimiterStore from "./RedisRateLimiterStore.js"
import * as RedisTokenStore from "./RedisTokenStore.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends RedisClient.Options, RedisTokenStore.Options {}

/**
 * @since 0.1.0
 * @category models
 */
export type Services = TokenStore.TokenStore | RateLimiter.RateLimiterStore | RateBlock.RateBlock

/**
 * The shared stores over one checked connection (and the rate limiter's own).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Services, RedisStartError> =>
  Layer.mergeAll(
    RedisTokenStore.layer(options),
    RedisRateBlock.layer(options),
    RedisRateLimiterStore.layer(options)
  ).pipe(Layer.provide(RedisClient.layer(options)))

/**
 * The settings of `layerConfig`: `GENESYS_LLM_REDIS_URL` (unless `url` is given, as by a command-line flag),
 * `GENESYS_LLM_REDIS_PREFIX` and `GENESYS_LLM_REDIS_TOKEN_KEY`.
 *
 * @since 0.1.0
 * @category utils
 */
export const config = (url?: Redacted.Redacted<string>): Config.Config<Options> =>
  Config.all({
    url: url === undefined ? Config.redacted(RedisClient.urlSetting) : Config.succeed(url),
    prefix: Config.option(Config.string(RedisTokenStore.settings.prefix)),
    encryptionKey: Config.option(Config.redacted(RedisTokenStore.settings.encryptionKey))
  }).pipe(Config.map(({ encryptionKey, prefix, url }): Options => ({
    url,
    prefix: Option.getOrUndefined(prefix),
    encryptionKey: Option.getOrUndefined(encryptionKey)
  })))

/**
 * `layer` with the settings of the environment (the current `ConfigProvider`). A `url` given here (with the
 * `setting` it came from, such as `--redis-url`) replaces `GENESYS_LLM_REDIS_URL`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Omit<Options, "url" | "prefix" | "encryptionKey"> & { readonly url?: Redacted.Redacted<string> } = {}
): Layer.Layer<Services, RedisStartError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(config(options.url), (settings) => layer({ ...options, ...settings })))
