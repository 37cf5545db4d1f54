/**
 * The circuit breaker of a process's gateway calls: when the gateway looks unwell, calls stop sending and end with
 * the fallback at once, instead of each waiting out its own attempts and backoffs.
 *
 * - Closed: every attempt goes. An attempt that says the gateway is unwell (a 5xx, a 408, a transport error, a
 *   timeout before the first frame, a 200 that is not an answer) counts a failure; an answer of the gateway (a
 *   success, or a 400/403/422 and other 4xx: the gateway is alive and decided) resets the count. A 429, a 401 and a
 *   failed token request count neither way; a safety block never reaches the gateway. `circuitFailures` failures in
 *   a row (default 5) open it.
 * - Open: calls end at once with the fallback (reason `circuit-open`), sending nothing, for `circuitCooldownMillis`
 *   (default 10 000 ms, on the `Clock`).
 * - Half-open: after the cooldown one attempt, the probe, is let through; every other call still falls back. The
 *   probe's success closes the circuit, its failure opens it for another cooldown; a probe that ends neither way
 *   (a 429, or a call that gave up before sending) lets the next call probe, and so does a probe that has not told
 *   its end within a cooldown.
 *
 * The state is one process's (`layer`); `Metrics.circuitState` shows it (0 closed, 1 half-open, 2 open).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
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
  /** Unwell attempts in a row that open the circuit. Default 5. */
  readonly circuitFailures?: number | undefined
  /** How long the circuit stays open before a probe. Default 10 000 ms. */
  readonly circuitCooldownMillis?: number | undefined
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const defaults = {
  circuitFailures: 5,
  circuitCooldownMillis: 10_000
} as const

/**
 * @since 0.1.0
 * @category models
 */
export type State = "closed" | "open" | "half-open"

/**
 * What an attempt may do: go (`closed`), go as the one probe (`probe`: its outcome must be recorded with
 * `probe: true`), or not go (`open`).
 *
 * @since 0.1.0
 * @category models
 */
export type Admission = "closed" | "probe" | "open"

/**
 * How an attempt ended, as far as the gateway's health goes.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = "success" | "failure" | "neutral"

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Asks before an attempt sends anything. */
  readonly admit: Effect.Effect<Admission>
  /** Tells how an admitted attempt ended; `probe` when it was admitted as the probe. */
  readonly record: (outcome: Outcome, probe: boolean) => Effect.Effect<void>
  readonly state: Effect.Effect<State>
}

/**
 * @since 0.1.0
 * @category context
 */
export class CircuitBreaker extends Context.Tag("@genesys-llm/core/CircuitBreaker")<CircuitBreaker, Service>() {}

const gaugeValue: Record<State, number> = { closed: 0, "half-open": 1, open: 2 }

/**
 * A breaker of one process.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service> =>
  Effect.sync(() => {
    const threshold = options.circuitFailures ?? defaults.circuitFailures
    const cooldown = options.circuitCooldownMillis ?? defaults.circuitCooldownMillis
    let state: State = "closed"
    let failures = 0
    let openedAt = 0
    let probing = false
    let probeSince = 0

    const moveTo = (next: State, now: number) => {
      if (next === "open") openedAt = now
      if (next !== "half-open") probing = false
      if (next === "closed") failures = 0
      state = next
      return Metric.set(Metrics.circuitState, gaugeValue[next])
    }

    const admit: Effect.Effect<Admission> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (state === "closed") return Effect.succeed("closed" as const)
      if (state === "open") {
        if (now - openedAt < cooldown) return Effect.succeed("open" as const)
        probing = true
        probeSince = now
        return Effect.as(moveTo("half-open", now), "probe" as const)
      }
      // A probe that never told its end (its call cut off before its attempt began) stands for one cooldown.
      if (probing && now - probeSince < cooldown) return Effect.succeed("open" as const)
      probing = true
      probeSince = now
      return Effect.succeed("probe" as const)
    })

    const record = (outcome: Outcome, probe: boolean): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        if (probe && state === "half-open") {
          if (outcome === "success") return moveTo("closed", now)
          if (outcome === "failure") return moveTo("open", now)
          probing = false
          return Effect.void
        }
        // An attempt admitted before the circuit opened tells nothing new once it is open.
        if (state !== "closed") return Effect.void
        if (outcome === "success") failures = 0
        if (outcome === "failure" && ++failures >= threshold) return moveTo("open", now)
        return Effect.void
      })

    return { admit, record, state: Effect.sync(() => state) }
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<CircuitBreaker> => Layer.effect(CircuitBreaker, make(options))

/**
 * For tests: a breaker of its own for each test, on the `TestClock`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = (options: Options = {}): Layer.Layer<CircuitBreaker> => layer(options)

/**
 * A breaker that never opens.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNoop: Layer.Layer<CircuitBreaker> = Layer.succeed(CircuitBreaker, {
  admit: Effect.succeed<Admission>("closed"),
  record: () => Effect.void,
  state: Effect.succeed<State>("closed")
})

/**
 * `LLM_CIRCUIT_FAILURES` (a positive whole number, default 5) and `LLM_CIRCUIT_COOLDOWN_MS` (a positive whole
 * number of milliseconds, default 10 000).
 *
 * @since 0.1.0
 * @category constructors
 */
export const config: Config.Config<Options> = Config.all({
  circuitFailures: Config.integer("LLM_CIRCUIT_FAILURES").pipe(
    Config.validate({ message: "expected a positive whole number of failures", validation: (n) => n > 0 }),
    Config.withDefault(defaults.circuitFailures)
  ),
  circuitCooldownMillis: Config.integer("LLM_CIRCUIT_COOLDOWN_MS").pipe(
    Config.validate({ message: "expected a positive whole number of milliseconds", validation: (n) => n > 0 }),
    Config.withDefault(defaults.circuitCooldownMillis)
  )
})

/**
 * `layer` configured from `config`, `options` winning where they say something.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (options: Options = {}): Layer.Layer<CircuitBreaker, ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(config, (fromEnv) =>
    layer({
      circuitFailures: options.circuitFailures ?? fromEnv.circuitFailures,
      circuitCooldownMillis: options.circuitCooldownMillis ?? fromEnv.circuitCooldownMillis
    })))
