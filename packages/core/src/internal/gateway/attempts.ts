/**
 * The attempt loop of a call, up to its first frame: one attempt after another until one opens the answer, and
 * the rules that decide what follows a failed one (a new token after a 401, a retry after a transient failure,
 * the end of the call when the attempts are spent or the next sleep would pass the deadline).
 *
 * The `Policy` is where rules shared by every call of a process plug in: `beforeAttempt` runs before anything of
 * an attempt is sent and may end the call with the fallback; `afterAttempt` hears how each attempt ended.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import type * as Gateway from "../../Gateway.js"
import {
  AuthenticationFailed,
  CallTimeout,
  type GatewayError,
  InvalidAnswer,
  RetriesExhausted
} from "../../GatewayError.js"
import { defined } from "../defined.js"
import * as Retry from "../retry.js"
import * as Attempt from "./attempt.js"
import * as Call from "./call.js"

/** The call ends with the fallback, for this reason. @internal */
export interface FellBack {
  readonly _tag: "FellBack"
  readonly reason: Gateway.FallbackReason
}

/** @internal */
export interface Policy {
  /**
   * Before an attempt sends anything: `undefined` lets it go, a `FellBack` (or an error) ends the call with nothing
   * more sent. The attempt is not counted until it is let go.
   */
  readonly beforeAttempt: (call: Call.Call) => Effect.Effect<FellBack | undefined, GatewayError>
  /** After an attempt, whatever its end, before the loop decides what follows. */
  readonly afterAttempt: (call: Call.Call, exit: Exit.Exit<Attempt.Result, GatewayError>) => Effect.Effect<void>
  /**
   * Before the sleep of a retry after a transient failure (never before a first attempt, nor before the retry
   * after a 401): `false` ends the call as if its attempts were spent.
   */
  readonly mayRetry: (call: Call.Call, result: Attempt.Transient) => Effect.Effect<boolean>
}

/** No rule beyond the call's own. @internal */
export const noPolicy: Policy = {
  beforeAttempt: () => Effect.succeed(undefined),
  afterAttempt: () => Effect.void,
  mayRetry: () => Effect.succeed(true)
}

interface Retrying {
  readonly _tag: "Retrying"
  /** Whether the next attempt counts against `maxAttempts` (the retry after a 401 does not). */
  readonly counted: boolean
}

/**
 * Attempts until the answer opens or the call ends. The attempt that opened the answer keeps its scope, a child of
 * `scope`, open for the pull; every other attempt's scope is closed when it ends.
 *
 * @internal
 */
export const open = (
  env: Attempt.Env,
  policy: Policy,
  call: Call.Call,
  scope: Scope.Scope
): Effect.Effect<Attempt.Opened | FellBack, GatewayError> =>
  Effect.gen(function*() {
    let counted = true
    for (;;) {
      const refused = yield* policy.beforeAttempt(call)
      if (refused !== undefined) return refused
      call.attempts++
      if (counted) call.countedAttempts++
      const result = yield* attempt(env, policy, call, scope)
      const next = yield* afterResult(env, policy, call, result)
      if (next._tag !== "Retrying") return next
      counted = next.counted
    }
  })

const attempt = (env: Attempt.Env, policy: Policy, call: Call.Call, scope: Scope.Scope) =>
  Effect.flatMap(
    Scope.fork(scope, ExecutionStrategy.sequential),
    (attemptScope) =>
      Attempt.run(env, call, attemptScope).pipe(
        Effect.onExit((exit) =>
          Effect.zipRight(
            policy.afterAttempt(call, exit),
            Exit.isSuccess(exit) && exit.value._tag === "Opened" ? Effect.void : Scope.close(attemptScope, exit)
          )
        ),
        Effect.withSpan("Gateway.attempt", { attributes: { attempt: call.attempts }, captureStackTrace: false })
      )
  )

const afterResult = (
  env: Attempt.Env,
  policy: Policy,
  call: Call.Call,
  result: Attempt.Result
): Effect.Effect<Attempt.Opened | FellBack | Retrying, GatewayError> => {
  switch (result._tag) {
    case "Opened":
      return Effect.succeed(result)
    case "Unauthorized":
      return refreshToken(env, call, result)
    case "Transient":
      return retryAfter(policy, call, result)
  }
}

// A 401: the token is dropped and the call retries at once with a new one, once.
const refreshToken = (
  env: Attempt.Env,
  call: Call.Call,
  result: Attempt.Unauthorized
): Effect.Effect<Retrying, AuthenticationFailed> =>
  Effect.gen(function*() {
    yield* env.tokens.invalidate(result.token)
    if (call.refreshedToken) {
      return yield* new AuthenticationFailed(defined({
        source: "gateway",
        status: 401,
        correlationId: result.correlationId,
        attempts: call.attempts
      }))
    }
    call.refreshedToken = true
    call.lastStatus = 401
    call.lastError = "HTTP 401: the access token was refused"
    yield* Effect.logDebug("gateway answered 401; retrying once with a new token")
    return { _tag: "Retrying", counted: false } satisfies Retrying
  })

// A transient failure: retried after a full-jitter backoff or the server's `Retry-After`, unless the attempts are
// spent or the sleep would reach the deadline.
const retryAfter = (
  policy: Policy,
  call: Call.Call,
  result: Attempt.Transient
): Effect.Effect<FellBack | Retrying, RetriesExhausted | InvalidAnswer | CallTimeout> =>
  Effect.gen(function*() {
    call.lastStatus = result.status
    call.lastError = result.description
    const settings = call.settings
    if (call.countedAttempts >= settings.maxAttempts) return yield* spent(call, result)
    const random = yield* Random.next
    const delay = Retry.retryDelay(
      {
        failures: call.countedAttempts,
        baseMillis: settings.backoffBaseMillis,
        capMillis: settings.backoffCapMillis,
        retryAfterCapMillis: settings.retryAfterCapMillis
      },
      result.retryAfter,
      random
    )
    const now = yield* Clock.currentTimeMillis
    if (Retry.passesDeadline(now, delay, call.openDeadline)) {
      if (!call.fallsBack) {
        return yield* new CallTimeout({ timeoutMillis: settings.callTimeoutMillis, ...Call.shared(call) })
      }
      return { _tag: "FellBack", reason: "retry-past-deadline" } satisfies FellBack
    }
    if (!(yield* policy.mayRetry(call, result))) return yield* spent(call, result)
    yield* Effect.logDebug("gateway attempt failed; retrying").pipe(
      Effect.annotateLogs({
        attempt: call.attempts,
        status: result.status ?? "none",
        delayMillis: delay,
        idempotencyKey: call.idempotencyKey
      })
    )
    yield* Effect.sleep(Duration.millis(delay))
    return { _tag: "Retrying", counted: true } satisfies Retrying
  })

// The end of a call whose last attempt failed and that will not retry.
const spent = (call: Call.Call, result: Attempt.Transient): Effect.Effect<never, RetriesExhausted | InvalidAnswer> =>
  result.invalidAnswer !== undefined
    ? new InvalidAnswer(defined({
      ...result.invalidAnswer,
      ...Call.shared(call),
      responseBody: result.responseBody
    }))
    : new RetriesExhausted(defined({
      lastStatus: result.status,
      lastError: result.description,
      ...Call.shared(call),
      responseBody: result.responseBody
    }))
