/**
 * The rate budget of an OAuth client, shared by every call of a process (or, with a shared store, of every
 * instance): before each attempt the gateway takes a permit for the client's key.
 *
 * - Permits come from `@effect/experimental`'s `RateLimiter`, fixed-window: `rateLimitPerMinute` (default 300,
 *   Genesys's published limit for a client-credentials token) a minute per key. Its counters live in a
 *   `RateLimiterStore`: `RateLimiter.layerStoreMemory` for one process, `@effect/experimental/RateLimiter/Redis`'s
 *   store to share them.
 * - The limit is learnt from the answers: `inin-ratelimit-allowed` replaces the configured limit for that key, and
 *   an answer whose `inin-ratelimit-count` reached it blocks the key until `inin-ratelimit-reset`.
 * - A `429` blocks the key for its `Retry-After` (else its `inin-ratelimit-reset`, else one second), never longer
 *   than a window, for every call that shares the `RateBlock` store, not only the one that received it.
 * - A call waits for a permit or for the end of a block only when the wait ends before its deadline (the first
 *   frame's): otherwise `take` refuses at once, without waiting, and the gateway ends the call with the fallback
 *   (reason `rate-limited`) without sending anything.
 * - A store that fails (a shared store that is down) is logged and the permit granted: a broken store must not
 *   stop every call.
 *
 * @since 0.1.0
 */
import * as RateLimiter from "@effect/experimental/RateLimiter"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Metrics from "./Metrics.js"
import * as RateBlock from "./RateBlock.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Permits a minute per key until the gateway says otherwise (`inin-ratelimit-allowed`). Default 300. */
  readonly rateLimitPerMinute?: number | undefined
  /**
   * Until the gateway has answered a key once, one attempt at a time for it: the configured limit is a guess, and
   * calls started together would otherwise send a burst into a lower limit before the first answer tells it
   * (`inin-ratelimit-allowed`). The others wait for that answer, at most `firstAnswerWaitMillis` and never past
   * their deadline, then go on. Default `true`; `false` in `layerTest` unless set.
   */
  readonly learnBeforeBurst?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const defaults = {
  rateLimitPerMinute: 300,
  /** The block after a `429` that says nothing of how long. */
  blockMillisWithoutRetryAfter: 1_000,
  windowMillis: 60_000,
  /** The longest wait for a key's first answer before the other attempts go on without it. */
  firstAnswerWaitMillis: 2_000
} as const

/**
 * What an answer of the gateway said of its limit; every field is optional, as the headers are.
 *
 * @since 0.1.0
 * @category models
 */
export interface Answer {
  /** The answer's HTTP status; `0` when the attempt got none (a transport error, a failed token request, a cut). */
  readonly status: number
  /** `Retry-After` (or `retry-after-ms`) in milliseconds. */
  readonly retryAfterMillis?: number | undefined
  /** `inin-ratelimit-allowed`: requests allowed in a window. */
  readonly allowed?: number | undefined
  /** `inin-ratelimit-count`: requests counted in the current window, this one included. */
  readonly count?: number | undefined
  /** `inin-ratelimit-reset`, in milliseconds: the time left of the current window. */
  readonly resetMillis?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Takes a permit for `key`, waiting for a block to end or for the window to let one through, but only when that
   * wait ends before `deadline` (epoch milliseconds on the `Clock`). `true`: granted; `false`: the wait would pass the
   * deadline (or the wait for the key's first answer reached it), and nothing was taken.
   */
  readonly take: (key: string, deadline: number) => Effect.Effect<boolean>
  /** Learns from an answer of the gateway to `key`: its limit headers, and a `429`'s block. */
  readonly learn: (key: string, answer: Answer) => Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category context
 */
export class RateBudget extends Context.Tag("@genesys-llm/core/RateBudget")<RateBudget, Service>() {}

const isCount = (n: number | undefined): n is number => n !== undefined && Number.isSafeInteger(n) && n > 0

/**
 * The budget over the `RateLimiter` and the `RateBlock` store in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<Service, never, RateLimiter.RateLimiter | RateBlock.RateBlock> =>
  Effect.gen(function*() {
    const limiter = yield* RateLimiter.RateLimiter
    const blocks = yield* RateBlock.RateBlock
    const configured = options.rateLimitPerMinute ?? defaults.rateLimitPerMinute
    // What each key's answers said; every instance learns it from its own answers.
    const learnt = new Map<string, number>()

    const blockedFor = (key: string) =>
      blocks.remaining(key).pipe(
        Effect.tap((millis) => Metric.set(Metrics.rateBlockedMillis, millis)),
        Effect.catchAll((error) => Effect.as(Effect.logWarning(error.message), 0))
      )

    // The wait before a permit for `key`: 0 when one was taken.
    const consume = (key: string) =>
      limiter.consume({
        algorithm: "fixed-window",
        onExceeded: "fail",
        window: Duration.millis(defaults.windowMillis),
        limit: learnt.get(key) ?? configured,
        key
      }).pipe(
        Effect.tap((result) => Metric.set(Metrics.ratePermitsLeft, result.remaining)),
        Effect.as(0),
        Effect.catchTags({
          RateLimiterError: (error) =>
            error.reason === "Exceeded"
              ? Effect.succeed(Math.max(1, Duration.toMillis(error.retryAfter)))
              : Effect.as(Effect.logWarning("the rate limiter store failed; the permit is granted"), 0)
        })
      )

    const firstAnswer = awaitingFirstAnswer(options.learnBeforeBurst ?? true)

    const take = (key: string, deadline: number): Effect.Effect<boolean> =>
      Effect.gen(function*() {
        if (!(yield* firstAnswer.await(key, deadline))) return false
        for (;;) {
          const blocked = yield* blockedFor(key)
          const wait = blocked > 0 ? blocked : yield* consume(key)
          if (wait === 0) return true
          const now = yield* Clock.currentTimeMillis
          if (now + wait >= deadline) return false
          yield* Effect.sleep(Duration.millis(wait))
        }
      })

    const learn = (key: string, answer: Answer): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (isCount(answer.allowed)) learnt.set(key, answer.allowed)
        firstAnswer.heard(key)
        const block = blockOf(answer)
        return block > 0
          ? blocks.block(key, Math.min(block, defaults.windowMillis)).pipe(
            Effect.catchAll((error) => Effect.logWarning(error.message))
          )
          : Effect.void
      })

    return { take, learn }
  })

// The first attempt for a key goes at once and the others wait for its answer (`heard`), within a bound; once a key
// was answered, or its first answer was waited for in vain, nobody waits for it again.
const awaitingFirstAnswer = (enabled: boolean) => {
  const settled = new Set<string>()
  const pending = new Map<string, Deferred.Deferred<void>>()
  const settle = (key: string) => {
    settled.add(key)
    const waiting = pending.get(key)
    if (waiting === undefined) return
    pending.delete(key)
    Deferred.unsafeDone(waiting, Exit.void)
  }
  // `false`: the call's deadline came before the answer; it must not send with nothing left of its time.
  const wait = (key: string, deadline: number, answer: Deferred.Deferred<void>) =>
    Effect.gen(function*() {
      const untilDeadline = deadline - (yield* Clock.currentTimeMillis)
      if (untilDeadline <= 0) return false
      const bound = Math.min(defaults.firstAnswerWaitMillis, untilDeadline)
      const heard = yield* Effect.timeoutOption(Deferred.await(answer), bound)
      if (Option.isSome(heard)) return true
      if (bound < defaults.firstAnswerWaitMillis) return false
      settle(key)
      return true
    })
  return {
    await: (key: string, deadline: number): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        if (!enabled || settled.has(key)) return Effect.succeed(true)
        const answer = pending.get(key)
        if (answer !== undefined) return wait(key, deadline, answer)
        pending.set(key, Deferred.unsafeMake<void>(FiberId.none))
        return Effect.succeed(true)
      }),
    heard: settle
  }
}

// How long an answer blocks its key: a 429 for its Retry-After; a success that used the last permit of the window
// until the window resets.
const blockOf = (answer: Answer): number => {
  if (answer.status === 429) {
    return answer.retryAfterMillis ?? answer.resetMillis ?? defaults.blockMillisWithoutRetryAfter
  }
  if (isCount(answer.allowed) && answer.count !== undefined && answer.count >= answer.allowed) {
    return answer.resetMillis ?? 0
  }
  return 0
}

/**
 * The budget over a `RateLimiterStore` and a `RateBlock` store: the layer a shared store plugs into.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<RateBudget, never, RateLimiter.RateLimiterStore | RateBlock.RateBlock> =>
  Layer.effect(RateBudget, make(options)).pipe(Layer.provide(RateLimiter.layer))

/**
 * The budget of one process: `layer` over `RateLimiter.layerStoreMemory` and `RateBlock.layerMemory`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options: Options = {}): Layer.Layer<RateBudget> =>
  layer(options).pipe(Layer.provide(Layer.merge(RateLimiter.layerStoreMemory, RateBlock.layerMemory)))

/**
 * For tests: the memory budget, which runs on the `TestClock` of the test.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = (options: Options = {}): Layer.Layer<RateBudget> =>
  layerMemory({ ...options, learnBeforeBurst: options.learnBeforeBurst ?? false })

/**
 * No budget: every permit is granted at once and nothing is learnt.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNoop: Layer.Layer<RateBudget> = Layer.succeed(RateBudget, {
  take: () => Effect.succeed(true),
  learn: () => Effect.void
})

/**
 * `LLM_RATE_LIMIT_PER_MINUTE` (a positive whole number, default 300).
 *
 * @since 0.1.0
 * @category constructors
 */
export const config: Config.Config<Options> = Config.all({
  rateLimitPerMinute: Config.integer("LLM_RATE_LIMIT_PER_MINUTE").pipe(
    Config.validate({ message: "expected a positive whole number of requests a minute", validation: (n) => n > 0 }),
    Config.withDefault(defaults.rateLimitPerMinute)
  )
})

/**
 * `layer` configured from `config`, `options` winning where they say something.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Options = {}
): Layer.Layer<RateBudget, ConfigError.ConfigError, RateLimiter.RateLimiterStore | RateBlock.RateBlock> =>
  Layer.unwrapEffect(
    Effect.map(
      config,
      (fromEnv) => layer({ ...options, rateLimitPerMinute: options.rateLimitPerMinute ?? fromEnv.rateLimitPerMinute })
    )
  )
