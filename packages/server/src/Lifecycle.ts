/**
 * What a service on a network keeps about itself: the calls in flight (bounded; past the bound a request is shed
 * at once with `503` and `Retry-After`), whether it is ready (a gateway token was obtained) and whether it is
 * draining (a shutdown began: new calls are refused, the calls in flight finish, up to a deadline, and those still
 * running then are cut, which the pipeline records as `cancelled`).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"

/**
 * Calls in flight.
 *
 * @since 0.1.0
 * @category metrics
 */
export const inFlightGauge = Metric.gauge("genesys_llm_server_in_flight", {
  description: "Data Action calls in flight"
})

/**
 * Requests refused at once with 503; tagged `reason` (`overloaded`, `draining`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const shedRequests = Metric.counter("genesys_llm_server_shed_total", {
  description: "Requests refused with 503 (over --max-in-flight, or draining)",
  incremental: true
})

/**
 * Why a call was not admitted.
 *
 * @since 0.1.0
 * @category models
 */
export type Refusal = "overloaded" | "draining"

/**
 * How an admitted call ended, or why it was refused.
 *
 * @since 0.1.0
 * @category models
 */
export type Admission<A> =
  | { readonly _tag: "Admitted"; readonly value: A }
  | { readonly _tag: "Refused"; readonly reason: Refusal }

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Runs a call counted in flight, or refuses it at once past `maxInFlight` or while draining. The fiber of a
   * call still running when the drain deadline passes is interrupted (an HTTP server answers such a request 503).
   */
  readonly admit: <A, E, R>(call: Effect.Effect<A, E, R>) => Effect.Effect<Admission<A>, E, R>
  readonly inFlight: Effect.Effect<number>
  readonly draining: Effect.Effect<boolean>
  /** Whether a gateway token was obtained since the start. */
  readonly tokenObtained: Effect.Effect<boolean>
  readonly markTokenObtained: Effect.Effect<void>
  /**
   * Stops admitting calls, waits for those in flight up to `timeout`, then cuts the rest and waits (briefly) for
   * them to record their end.
   */
  readonly drain: (timeout: Duration.DurationInput) => Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Lifecycle extends Context.Tag("@genesys-llm/server/Lifecycle")<Lifecycle, Service>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The most calls in flight; past it a call is refused with 503 at once (default 256). */
  readonly maxInFlight?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export const defaultMaxInFlight = 256

// How long cut calls get to record themselves once the drain deadline passed.
const cutGrace = Duration.seconds(5)

const poll = Schedule.spaced("20 millis")

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service> =>
  Effect.gen(function*() {
    const maxInFlight = options.maxInFlight ?? defaultMaxInFlight
    const inFlight = yield* Ref.make(0)
    const draining = yield* Ref.make(false)
    const token = yield* Ref.make(false)

    const enter = Effect.flatMap(Ref.get(draining), (isDraining) =>
      isDraining
        ? Effect.succeed<Refusal | undefined>("draining")
        : Ref.modify(
          inFlight,
          (n): [Refusal | undefined, number] => n >= maxInFlight ? ["overloaded", n] : [undefined, n + 1]
        ))
    const leave = Effect.flatMap(Ref.updateAndGet(inFlight, (n) => n - 1), (n) => Metric.set(inFlightGauge, n))

    // The fibers of the calls in flight, interrupted when the drain deadline passes.
    const running = new Set<Fiber.RuntimeFiber<unknown, unknown>>()

    const admit = <A, E, R>(call: Effect.Effect<A, E, R>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(enter, (refusal): Effect.Effect<Admission<A>, E, R> => {
          if (refusal !== undefined) {
            return Effect.as(
              Metric.increment(Metric.tagged(shedRequests, "reason", refusal)),
              { _tag: "Refused" as const, reason: refusal }
            )
          }
          return Effect.withFiberRuntime<Admission<A>, E, R>((fiber) => {
            running.add(fiber)
            return Effect.flatMap(Ref.get(inFlight), (n) => Metric.set(inFlightGauge, n)).pipe(
              Effect.zipRight(restore(call)),
              Effect.map((value) => ({ _tag: "Admitted" as const, value })),
              Effect.ensuring(Effect.zipRight(Effect.sync(() => running.delete(fiber)), leave))
            )
          })
        })
      )

    // Interruptible: the drain runs in a finalizer (uninterruptible), where a timeout could not stop the wait.
    const idle = Ref.get(inFlight).pipe(
      Effect.repeat({ until: (n) => n <= 0, schedule: poll }),
      Effect.asVoid,
      Effect.interruptible
    )

    const drain = (timeout: Duration.DurationInput) =>
      Effect.gen(function*() {
        yield* Ref.set(draining, true)
        const finished = yield* idle.pipe(Effect.timeout(timeout), Effect.isSuccess)
        if (finished) return
        yield* Effect.logWarning("drain deadline passed: cutting the calls still in flight")
        yield* Effect.forEach([...running], (fiber) => Fiber.interruptAsFork(fiber, FiberId.none), { discard: true })
        yield* idle.pipe(Effect.timeout(cutGrace), Effect.ignore)
      })

    return {
      admit,
      inFlight: Ref.get(inFlight),
      draining: Ref.get(draining),
      tokenObtained: Ref.get(token),
      markTokenObtained: Ref.set(token, true),
      drain
    }
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Lifecycle> => Layer.effect(Lifecycle, make(options))
