/**
 * The rules every call of a process shares, as the attempt loop's `Policy`: before an attempt the circuit breaker,
 * then the rate budget; after it, what the attempt says of the gateway's health, of its rate limit and of the
 * retry budget; before a retry, the retry budget.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as CircuitBreaker from "../../CircuitBreaker.js"
import type * as Gateway from "../../Gateway.js"
import { CallTimeout, type GatewayError } from "../../GatewayError.js"
import type * as RateBudget from "../../RateBudget.js"
import type * as RetryBudget from "../../RetryBudget.js"
import type * as Attempt from "./attempt.js"
import type * as Attempts from "./attempts.js"
import * as Call from "./call.js"

/** The shared services, and the rate budget's key: the OAuth client. @internal */
export interface Guards {
  readonly breaker: CircuitBreaker.Service
  readonly rate: RateBudget.Service
  readonly retries: RetryBudget.Service
  readonly key: string
}

/** @internal */
export const policy = (guards: Guards): Attempts.Policy => ({
  beforeAttempt: (call) => admit(guards, call),
  afterAttempt: (call, exit) => settle(guards, call, exit),
  mayRetry: (_call, result) => guards.retries.withdraw(timedOut(result))
})

const noAnswer: RateBudget.Answer = { status: 0 }

const fellBack = (reason: Gateway.FallbackReason): Attempts.FellBack => ({ _tag: "FellBack", reason })

// The breaker first: an open circuit must not use up the rate budget's permits. A probe that is refused a permit,
// or whose wait for one is interrupted, goes back, so that the next call can probe.
const admit = (guards: Guards, call: Call.Call): Effect.Effect<Attempts.FellBack | undefined, GatewayError> =>
  Effect.gen(function*() {
    const admission = yield* guards.breaker.admit
    if (admission === "open") return fellBack("circuit-open")
    call.probe = admission === "probe"
    const releaseProbe = Effect.suspend(() => {
      if (!call.probe) return Effect.void
      call.probe = false
      return guards.breaker.record("neutral", true)
    })
    const granted = yield* guards.rate.take(guards.key, call.openDeadline).pipe(Effect.onInterrupt(() => releaseProbe))
    if (granted) return undefined
    yield* releaseProbe
    if (!call.fallsBack) {
      return yield* new CallTimeout({ timeoutMillis: call.settings.callTimeoutMillis, ...Call.shared(call) })
    }
    return fellBack("rate-limited")
  })

const settle = (
  guards: Guards,
  call: Call.Call,
  exit: Exit.Exit<Attempt.Result, GatewayError>
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const probe = call.probe
    call.probe = false
    yield* guards.breaker.record(yield* health(call, exit), probe)
    // An attempt that got no answer says so too, so that calls waiting for a key's first answer do not wait for it.
    yield* guards.rate.learn(guards.key, call.rateAnswer ?? noAnswer)
    if (Exit.isSuccess(exit) && exit.value._tag === "Opened") yield* guards.retries.refund
  })

// What an attempt says of the gateway's health. Unwell: a 5xx or 408, a transport error, an answer that broke or
// was not an answer, a timeout before the first frame. Well: an answer, or a 4xx the gateway decided (400, 403,
// 422). Neither: a 429 (throttled, not ill), a 401, a failed token request, a frame we refused, a cancelled call.
const health = (
  call: Call.Call,
  exit: Exit.Exit<Attempt.Result, GatewayError>
): Effect.Effect<CircuitBreaker.Outcome> => {
  if (Exit.isSuccess(exit)) {
    const result = exit.value
    if (result._tag === "Opened") return Effect.succeed("success")
    if (result._tag === "Unauthorized" || result.fromToken || result.status === 429) return Effect.succeed("neutral")
    return Effect.succeed("failure")
  }
  if (Cause.isInterruptedOnly(exit.cause)) {
    // The first-frame (or call) deadline interrupted the attempt: a timeout before the first frame.
    return Effect.map(Clock.currentTimeMillis, (now) => now >= call.openDeadline ? "failure" : "neutral")
  }
  const error = Cause.failureOption(exit.cause)
  if (error._tag === "Some") {
    switch (error.value._tag) {
      case "GatewayRejected":
      case "AuthorizationFailed":
        return Effect.succeed("success")
    }
  }
  return Effect.succeed("neutral")
}

// A retry after a timeout costs the retry budget more.
const timedOut = (result: Attempt.Transient): boolean =>
  result.status === 408 || result.status === 504 || /TIMEDOUT|_TIMEOUT/.test(result.description)
