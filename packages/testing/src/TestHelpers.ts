/**
 * Small helpers for tests written with `@effect/vitest`, shared by every test folder of the repository.
 *
 * - `failureOf(exit)`: the typed error of a failed exit, or an assertion failure naming what happened instead (a
 *   success, a defect, an interruption), so that a test never skips its checks on a defect.
 * - `eventually(condition)`: lets other fibers (and, past a few rounds, the real clock) run until a condition
 *   holds, without moving `TestClock`; fails naming the condition when it never does.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as TestServices from "effect/TestServices"

/**
 * Thrown by `failureOf` when the exit is not a typed failure.
 *
 * @since 0.1.0
 * @category errors
 */
export class AssertionFailed extends Error {
  override readonly name = "AssertionError"
}

/**
 * The typed error of a failed exit. Throws, naming what the exit was, when it succeeded or ended with a defect or
 * an interruption rather than a failure.
 *
 * @since 0.1.0
 * @category utils
 */
export const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new AssertionFailed("expected a failure, the effect succeeded")
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) {
    throw new AssertionFailed(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  }
  return failure.value
}

/**
 * The typed error of a failed exit, which must carry the tag `tag` (throws naming the tag it had otherwise).
 *
 * @since 0.1.0
 * @category utils
 */
export const failureTagged = <A, E extends { readonly _tag: string }, T extends E["_tag"]>(
  exit: Exit.Exit<A, E>,
  tag: T
): Extract<E, { readonly _tag: T }> => {
  const error = failureOf(exit)
  if (error._tag !== tag) throw new AssertionFailed(`expected a failure tagged ${tag}, got ${error._tag}`)
  return error as Extract<E, { readonly _tag: T }>
}

/**
 * Options of `eventually`.
 *
 * @since 0.1.0
 * @category models
 */
export interface EventuallyOptions {
  /** Rounds of `Effect.yieldNow` before the first wait on the real clock. Default 1000. */
  readonly yields?: number | undefined
  /** Most milliseconds waited on the real clock, 5 at a time. Default 10000. */
  readonly liveMillis?: number | undefined
  /** What the condition is, for the message when it never holds. */
  readonly what?: string | undefined
}

/**
 * Waits until `condition` (run in the test's own context) holds: first by yielding to the other fibers, then by
 * short waits on the real clock (a socket, a child process), never by moving `TestClock`. Dies naming the
 * condition when it does not hold in time.
 *
 * @since 0.1.0
 * @category utils
 */
export const eventually = <E, R>(
  condition: Effect.Effect<boolean, E, R>,
  options: EventuallyOptions = {}
): Effect.Effect<void, E, R> =>
  Effect.gen(function*() {
    const yields = options.yields ?? 1000
    for (let i = 0; i < yields; i++) {
      if (yield* condition) return
      yield* Effect.yieldNow()
    }
    const rounds = Math.ceil((options.liveMillis ?? 10_000) / 5)
    for (let i = 0; i < rounds; i++) {
      if (yield* condition) return
      yield* TestServices.provideLive(Effect.sleep("5 millis"))
    }
    if (yield* condition) return
    return yield* Effect.dieMessage(`the condition never held${options.what === undefined ? "" : `: ${options.what}`}`)
  })
