/**
 * The retry budget of a process, a token bucket as in the AWS SDK v3's retry quota: every call's retries draw on
 * one bucket, so that when the gateway fails everything, the process stops multiplying its requests.
 *
 * - The bucket holds `retryBudget` tokens (default 500) and starts full.
 * - A retry takes 5 tokens, or 10 when the attempt before it timed out (a 408, a 504, a transport timeout).
 * - Every attempt that opens an answer puts 1 token back, up to the capacity. (The AWS SDK gives a successful retry
 *   back its own cost instead of 1; here every success is worth 1.)
 * - Without the tokens a retry does not happen: the call ends as it would have after its last attempt
 *   (`RetriesExhausted`). First attempts never ask the budget and never wait for it.
 * - `retryBudget: 0` (`LLM_RETRY_BUDGET=0`) turns the budget off: retries are bounded by `maxAttempts` alone, as
 *   without this service. To turn retries off, set `maxAttempts` to 1.
 *
 * `Metrics.retryBudgetTokens` shows the tokens left.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Metrics from "./Metrics.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The bucket's capacity in tokens; 0 turns the budget off. Default 500. */
  readonly retryBudget?: number | undefined
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const defaults = {
  retryBudget: 500,
  retryCost: 5,
  timeoutRetryCost: 10,
  successRefund: 1
} as const

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Takes the cost of one retry; `false` when the bucket cannot pay it (nothing is taken then). */
  readonly withdraw: (afterTimeout: boolean) => Effect.Effect<boolean>
  /** An attempt opened an answer: a token back. */
  readonly refund: Effect.Effect<void>
  /** The tokens left; `Infinity` when the budget is off. */
  readonly tokens: Effect.Effect<number>
}

/**
 * @since 0.1.0
 * @category context
 */
export class RetryBudget extends Context.Tag("@genesys-llm/core/RetryBudget")<RetryBudget, Service>() {}

const unlimited: Service = {
  withdraw: () => Effect.succeed(true),
  refund: Effect.void,
  tokens: Effect.succeed(Number.POSITIVE_INFINITY)
}

/**
 * A bucket of one process.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service> =>
  Effect.suspend(() => {
    const capacity = options.retryBudget ?? defaults.retryBudget
    if (capacity === 0) return Effect.succeed(unlimited)
    let tokens = capacity
    const show = Effect.suspend(() => Metric.set(Metrics.retryBudgetTokens, tokens))
    return Effect.as(
      show,
      {
        withdraw: (afterTimeout) =>
          Effect.suspend(() => {
            const cost = afterTimeout ? defaults.timeoutRetryCost : defaults.retryCost
            if (tokens < cost) return Effect.succeed(false)
            tokens -= cost
            return Effect.as(show, true)
          }),
        refund: Effect.suspend(() => {
          if (tokens >= capacity) return Effect.void
          tokens = Math.min(capacity, tokens + defaults.successRefund)
          return show
        }),
        tokens: Effect.sync(() => tokens)
      } satisfies Service
    )
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<RetryBudget> => Layer.effect(RetryBudget, make(options))

/**
 * For tests: a bucket of its own for each test.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = (options: Options = {}): Layer.Layer<RetryBudget> => layer(options)

/**
 * No budget: every retry allowed by `maxAttempts` goes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNoop: Layer.Layer<RetryBudget> = Layer.succeed(RetryBudget, unlimited)

/**
 * `LLM_RETRY_BUDGET` (a whole number of tokens, 0 or more, default 500; 0 turns the budget off).
 *
 * @since 0.1.0
 * @category constructors
 */
export const config: Config.Config<Options> = Config.all({
  retryBudget: Config.integer("LLM_RETRY_BUDGET").pipe(
    Config.validate({ message: "expected a whole number of tokens, 0 or more", validation: (n) => n >= 0 }),
    Config.withDefault(defaults.retryBudget)
  )
})

/**
 * `layer` configured from `config`, `options` winning where they say something.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (options: Options = {}): Layer.Layer<RetryBudget, ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Effect.map(config, (fromEnv) => layer({ retryBudget: options.retryBudget ?? fromEnv.retryBudget }))
  )
