/**
 * The gateway for Node: `Gateway`, `TokenProvider` and `IdGenerator` over Node's HTTP client (undici), with the
 * hosts of a region domain or explicit URLs, from options or from the environment (see `GatewayConfig`).
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const ids = yield* IdGenerator.IdGenerator
 *   const done = yield* Gateway.complete({ payload, idempotencyKey: yield* ids.next })
 * }).pipe(Effect.provide(NodeGateway.layerConfig))
 * ```
 *
 * @since 0.1.0
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import { CircuitBreaker, Gateway, IdGenerator, RateBudget, RetryBudget, TokenProvider } from "@genesys-llm/core"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as GatewayConfig from "./GatewayConfig.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends Gateway.CallOptions, RateBudget.Options, CircuitBreaker.Options, RetryBudget.Options {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  /** The region domain, `mypurecloud.com` by default; ignored for a URL given explicitly. */
  readonly env?: string | undefined
  /** The API base URL; default `https://api.{env}`. */
  readonly apiUrl?: string | undefined
  /** The login base URL; default the `apiUrl` when that is given, else `https://login.{env}`. */
  readonly loginUrl?: string | undefined
  readonly chatPath?: string | undefined
  readonly backoffBaseMillis?: number | undefined
  readonly backoffCapMillis?: number | undefined
  readonly retryAfterCapMillis?: number | undefined
  /** See `TokenProvider.Options`. */
  readonly refreshSkewMillis?: number | undefined
  readonly tokenRequestTimeoutMillis?: number | undefined
  /**
   * The rules every call shares (`Gateway.layerGuarded`): by default `layerGuards(options)`, the memory layers of
   * one process; a layer of your own to share them between instances (a Redis `RateBudget`); `false` for none,
   * each call on its own as with `Gateway.layer`.
   */
  readonly guards?: Layer.Layer<Gateway.Guards> | false | undefined
}

/**
 * The shared rules of one process: `RateBudget.layerMemory`, `CircuitBreaker.layer` and `RetryBudget.layer` with
 * the options' settings.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerGuards = (
  options: RateBudget.Options & CircuitBreaker.Options & RetryBudget.Options = {}
): Layer.Layer<Gateway.Guards> =>
  Layer.mergeAll(
    RateBudget.layerMemory({
      rateLimitPerMinute: options.rateLimitPerMinute,
      learnBeforeBurst: options.learnBeforeBurst
    }),
    CircuitBreaker.layer({
      circuitFailures: options.circuitFailures,
      circuitCooldownMillis: options.circuitCooldownMillis
    }),
    RetryBudget.layer({ retryBudget: options.retryBudget })
  )

/**
 * The login and API base URLs the options resolve to.
 *
 * @since 0.1.0
 * @category utils
 */
export const resolveUrls = (
  options: Pick<Options, "env" | "apiUrl" | "loginUrl">
): { readonly apiUrl: string; readonly loginUrl: string } => {
  const hosts = GatewayConfig.hostsFor(options.env ?? "mypurecloud.com")
  const apiUrl = options.apiUrl ?? hosts.apiUrl
  const loginUrl = options.loginUrl ?? (options.apiUrl !== undefined ? options.apiUrl : hosts.loginUrl)
  return { apiUrl, loginUrl }
}

/**
 * The services over a given `HttpClient` layer, for callers that bring their own client (a proxy agent, a test).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWithoutHttpClient = (
  options: Options
): Layer.Layer<
  Gateway.Gateway | TokenProvider.TokenProvider | IdGenerator.IdGenerator,
  never,
  HttpClient.HttpClient
> => {
  const { apiUrl, loginUrl } = resolveUrls(options)
  const tokens = TokenProvider.layer({
    loginUrl,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    refreshSkewMillis: options.refreshSkewMillis,
    requestTimeoutMillis: options.tokenRequestTimeoutMillis
  })
  const gateway = options.guards === false
    ? Gateway.layer({ ...options, apiUrl })
    : Gateway.layerGuarded({ ...options, apiUrl }).pipe(Layer.provide(options.guards ?? layerGuards(options)))
  return Layer.mergeAll(gateway.pipe(Layer.provideMerge(tokens)), IdGenerator.layer)
}

/**
 * The services over Node's undici HTTP client. Closing the layer closes its connections.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<Gateway.Gateway | TokenProvider.TokenProvider | IdGenerator.IdGenerator> =>
  layerWithoutHttpClient(options).pipe(Layer.provide(NodeHttpClient.layerUndici))

/**
 * The options of a configuration read by `GatewayConfig.config`.
 *
 * @since 0.1.0
 * @category utils
 */
export const optionsFromConfig = (config: GatewayConfig.GatewayConfig): Options => ({
  clientId: config.clientId,
  clientSecret: config.clientSecret,
  env: config.env,
  apiUrl: config.apiUrl,
  loginUrl: config.loginUrl,
  maxLatencyMillis: config.maxLatencyMillis,
  fallbackText: config.fallbackText,
  maxAttempts: config.maxAttempts,
  frameGapMillis: config.frameGapMillis,
  callTimeoutMillis: config.callTimeoutMillis,
  maxFrameBytes: config.maxFrameBytes,
  rateLimitPerMinute: config.rateLimitPerMinute,
  circuitFailures: config.circuitFailures,
  circuitCooldownMillis: config.circuitCooldownMillis,
  retryBudget: config.retryBudget
})

/**
 * The services configured from the environment (the current `ConfigProvider`). A missing or malformed setting
 * fails the layer with a `ConfigError` naming the variable.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<
  Gateway.Gateway | TokenProvider.TokenProvider | IdGenerator.IdGenerator,
  ConfigError.ConfigError
> = Layer.unwrapEffect(Effect.map(GatewayConfig.config, (config) => layer(optionsFromConfig(config))))
