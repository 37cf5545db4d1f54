/**
 * The gateway client: one logical call is one POST of the payload to the chat endpoint, streamed back as NDJSON
 * frames, and one `Stream` of events for the caller.
 *
 * What a call guarantees:
 * - The body bytes are computed once and the same bytes and the same `Idempotency-Key` go out on every attempt.
 * - Retries happen only before the first frame reached the caller, on 408, 429, 500, 502, 503, 504, transport
 *   errors (including a body that breaks or ends mid-line before the first frame) and a failed token request. The
 *   sleep is the server's `retry-after-ms` or `Retry-After` (seconds or HTTP date), capped at
 *   `retryAfterCapMillis`, or else a full-jitter backoff `random(0, min(cap, base * 2^(n-1)))` from Effect's
 *   `Random`. `maxAttempts` (default 3) bounds the attempts.
 * - A success status is an answer only when its content type is NDJSON or JSON (or absent) and its body holds a
 *   frame with content or usage. Anything else (the HTML page of a proxy, an empty body, JSON of another shape) is
 *   retried like a transient failure, and ends the call as `InvalidAnswer` once the attempts are spent. A last
 *   line without its newline is a frame when the server closed the stream cleanly after it and it is whole JSON;
 *   a line cut by a broken connection never is.
 * - A 401 invalidates the token it was sent with, fetches a new one and retries once, immediately; that retry does
 *   not count against `maxAttempts`. A second 401 is `AuthenticationFailed`. A 403 is `AuthorizationFailed`. Any
 *   other 4xx is `GatewayRejected`; nothing of these is retried.
 * - Once a frame reached the caller nothing is retried, so no text is ever duplicated; a break after that point
 *   is `StreamInterrupted` carrying the text delivered.
 * - Deadlines: the first frame must arrive within `maxLatencyMillis` of the call's start, retries included, or the
 *   call ends with the fallback text (a `Fallback` event, then `Done` with outcome `"fallback"`). A retry whose sleep
 *   would reach that deadline is not attempted: the call falls back at once. Once streaming, the connection may
 *   stay silent at most `frameGapMillis`, and the whole call lasts at most `callTimeoutMillis`.
 * - A line longer than `maxFrameBytes` fails the call as soon as it is seen. Reading stays bounded by that limit;
 *   what grows with the answer is only the text kept for `Done.text` and `StreamInterrupted.deliveredText`, and a
 *   call with `retainText: false` keeps none, so a stream of any length runs in bounded memory.
 * - Interrupting the consumer of the stream aborts the HTTP request and every fiber of the call.
 * - With `makeGuarded`/`layerGuarded`, the calls of a process also share a `CircuitBreaker`, a `RateBudget` and a
 *   `RetryBudget` (see those modules): a refused call sends nothing and ends with the fallback (`circuit-open`,
 *   `rate-limited`), a retry the budget cannot pay is not made.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as CircuitBreaker from "./CircuitBreaker.js"
import { type GatewayError, GatewayRequestInvalid } from "./GatewayError.js"
import * as Attempt from "./internal/gateway/attempt.js"
import * as Attempts from "./internal/gateway/attempts.js"
import * as Call from "./internal/gateway/call.js"
import * as SharedRules from "./internal/gateway/guards.js"
import * as CallPull from "./internal/gateway/pull.js"
import * as Settings from "./internal/gateway/settings.js"
import type * as Prompt from "./Prompt.js"
import * as RateBudget from "./RateBudget.js"
import * as RetryBudget from "./RetryBudget.js"
import { TokenProvider } from "./TokenProvider.js"

export * from "./GatewayError.js"

/**
 * Settings that a single call may override.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  /** Time to the first frame, retries included, before the fallback. Default 5000 ms. */
  readonly maxLatencyMillis?: number | undefined
  /** The longest silence on the connection once the answer started. Default 10 000 ms. */
  readonly frameGapMillis?: number | undefined
  /** The bound on the whole call. Default 60 000 ms. */
  readonly callTimeoutMillis?: number | undefined
  /** Attempts before `RetriesExhausted`, the 401 refresh not counted. Default 3. */
  readonly maxAttempts?: number | undefined
  /** The text the call ends with when the first frame is late. Default `defaults.fallbackText`. */
  readonly fallbackText?: string | undefined
  /** Fail on a frame that is not JSON or not a frame, instead of skipping and counting it. Default false. */
  readonly strictFrames?: boolean | undefined
  /** The largest accepted frame line in bytes. Default 1 MiB. */
  readonly maxFrameBytes?: number | undefined
  /**
   * Keep the text of the answer for `Done.text` and `StreamInterrupted.deliveredText`. Default true. With false the
   * text goes only to the `Delta` events: `Done.text` of a complete answer and `deliveredText` are empty
   * (`deliveredCharacters` still counts it), and memory stays bounded by the frame size whatever the answer's length.
   */
  readonly retainText?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends CallOptions {
  /** The API base URL, such as `https://api.mypurecloud.com`. */
  readonly apiUrl: string
  /**
   * The OAuth client the calls are made for: the key of its rate budget (`layerGuarded`). Default: the API URL.
   */
  readonly clientId?: string | undefined
  /** Default `/api/v2/ai/llm-gateway/chat`. */
  readonly chatPath?: string | undefined
  /** The first backoff ceiling. Default 250 ms. */
  readonly backoffBaseMillis?: number | undefined
  /** The largest backoff ceiling. Default 2000 ms. */
  readonly backoffCapMillis?: number | undefined
  /** The longest `Retry-After` honoured; a longer one is cut to this. Default 30 000 ms. */
  readonly retryAfterCapMillis?: number | undefined
}

/**
 * The defaults of every setting.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaults = Settings.defaults

/**
 * One logical call: the payload, and the idempotency key that every attempt of it carries.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  readonly payload: Prompt.PromptPayload
  readonly idempotencyKey: string
  readonly options?: CallOptions | undefined
}

/**
 * Text of the answer, in order; the concatenation of all deltas is the answer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Delta {
  readonly _tag: "Delta"
  readonly text: string
}

/**
 * Why a call fell back:
 * - `first-frame-timeout`: the first frame did not arrive in time;
 * - `retry-past-deadline`: the next retry would have slept past that deadline;
 * - `rate-limited`: the rate budget (a throttle block after a `429`, or the permits of the window) would have held
 *   the attempt past that deadline, so nothing was sent;
 * - `circuit-open`: the circuit breaker is open (the gateway failed again and again), so nothing was sent.
 *
 * The last two only come from a gateway built with `layerGuarded`. `fallbackCause` groups them as `Completion`,
 * the audit entry and the metrics say them.
 *
 * @since 0.1.0
 * @category models
 */
export type FallbackReason = "first-frame-timeout" | "retry-past-deadline" | "rate-limited" | "circuit-open"

/**
 * Why a call fell back, as the pipeline says it: `deadline` (the first frame was late, or a retry would have been),
 * `rate-limited`, `circuit-open`.
 *
 * @since 0.1.0
 * @category models
 */
export type FallbackCause = "deadline" | "rate-limited" | "circuit-open"

/**
 * The cause of a fallback: its reason, where a retry that would have passed the deadline because of a `429`'s
 * `Retry-After` counts as `rate-limited` (the gateway throttled the call), any other late retry or late first frame
 * as `deadline`.
 *
 * @since 0.1.0
 * @category utils
 */
export const fallbackCause = (fallback: Pick<Fallback, "reason" | "lastStatus">): FallbackCause => {
  switch (fallback.reason) {
    case "rate-limited":
    case "circuit-open":
      return fallback.reason
    case "retry-past-deadline":
      return fallback.lastStatus === 429 ? "rate-limited" : "deadline"
    case "first-frame-timeout":
      return "deadline"
  }
}

/**
 * The first frame did not arrive in time: this is the text to show instead. Followed by `Done`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fallback {
  readonly _tag: "Fallback"
  readonly text: string
  readonly reason: FallbackReason
  /** The status of the last failed attempt, when there was one with a status. */
  readonly lastStatus: number | undefined
  /**
   * What went wrong with the last failed attempt, when one failed, in our words: a status and a code, or a system
   * error code; never what the gateway wrote.
   */
  readonly lastError: string | undefined
}

/**
 * The last event of every call that does not fail.
 *
 * @since 0.1.0
 * @category models
 */
export interface Done {
  readonly _tag: "Done"
  readonly outcome: "complete" | "fallback"
  /**
   * The whole text: every delta, or the fallback text. Empty for a complete answer of a call made with
   * `retainText: false`.
   */
  readonly text: string
  /** The sum of `usage.completion_tokens` over the frames; 0 when none reported usage. */
  readonly completionTokens: number
  /** Whether any frame carried `usage.completion_tokens`. */
  readonly usageReported: boolean
  /** Requests sent to the gateway, or started (a failed token request counts as an attempt). */
  readonly attempts: number
  /** Lines of the answer that were not JSON or not a frame, skipped. */
  readonly skippedFrames: number
  readonly correlationId: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export type Event = Delta | Fallback | Done

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The events of one call: `Delta`s then `Done`, or `Fallback` then `Done`, or a `GatewayError`. */
  readonly stream: (request: Request) => Stream.Stream<Event, GatewayError>
  /**
   * The same call as `stream`, pulled by hand: it opens in the current scope (which aborts it when it closes) and
   * gives the effect that pulls the next events, then `Option.none()` once the call gave `Done` or failed. A consumer
   * that reads a call in one fiber (the pipeline does) saves the cost of a `Stream` this way.
   */
  readonly open: (request: Request) => Effect.Effect<Pull, GatewayError, Scope.Scope>
}

/**
 * The next events of an opened call; `Option.none()` when it ended, after its `Done`.
 *
 * @since 0.1.0
 * @category models
 */
export type Pull = Effect.Effect<Chunk.Chunk<Event>, Option.Option<GatewayError>>

/**
 * A gateway from its `stream` alone (a gateway layer of your own, a scripted one); `open` pulls that stream.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromStream = (stream: (request: Request) => Stream.Stream<Event, GatewayError>): Service => ({
  stream,
  open: (request) =>
    Effect.map(Stream.toPull(stream(request)), (pull) => {
      // A stream's pull fails again with the same error; an opened call says it ended after its failure.
      let over = false
      return Effect.suspend(() =>
        over ? Effect.fail(Option.none()) : Effect.tapError(pull, () =>
          Effect.sync(() => {
            over = true
          }))
      )
    })
})

/**
 * A gateway from its `open` alone; `stream` repeats the pull.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromOpen = (open: (request: Request) => Effect.Effect<Pull, GatewayError, Scope.Scope>): Service => ({
  open,
  stream: (request) => Stream.unwrapScoped(Effect.map(open(request), Stream.repeatEffectChunkOption))
})

/**
 * @since 0.1.0
 * @category context
 */
export class Gateway extends Context.Tag("@genesys-llm/core/Gateway")<Gateway, Service>() {}

/**
 * Runs a call to its end and returns its `Done` event.
 *
 * @since 0.1.0
 * @category utils
 */
export const collect = (events: Stream.Stream<Event, GatewayError>): Effect.Effect<Done, GatewayError> =>
  Stream.runLast(events).pipe(
    Effect.flatMap((last) =>
      Option.isSome(last) && last.value._tag === "Done"
        ? Effect.succeed(last.value)
        : Effect.dieMessage("a gateway stream ended without a Done event")
    )
  )

/**
 * Calls the gateway in context and runs the call to its end.
 *
 * @since 0.1.0
 * @category utils
 */
export const complete = (request: Request): Effect.Effect<Done, GatewayError, Gateway> =>
  Effect.flatMap(Gateway, (gateway) => collect(gateway.stream(request)))

/**
 * Builds the gateway over the `HttpClient` and `TokenProvider` in context, with no rule shared between calls: each
 * call retries on its own. For tests and scripted doubles; a service making many calls wants `makeGuarded`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, never, HttpClient.HttpClient | TokenProvider> =>
  makeWith(options, Attempts.noPolicy)

/**
 * The services a guarded gateway shares with every other call of the process.
 *
 * @since 0.1.0
 * @category models
 */
export type Guards = RateBudget.RateBudget | CircuitBreaker.CircuitBreaker | RetryBudget.RetryBudget

/**
 * Builds the gateway with the rules every call of the process shares: before each attempt the `CircuitBreaker`
 * (open: the call falls back at once, reason `circuit-open`) and a permit of the `RateBudget` for
 * `options.clientId` (a wait past the first-frame deadline: the call falls back at once, reason `rate-limited`);
 * before each retry the `RetryBudget` (empty: the call ends as after its last attempt). Nothing is sent for a call
 * that is refused.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeGuarded = (
  options: Options
): Effect.Effect<Service, never, HttpClient.HttpClient | TokenProvider | Guards> =>
  Effect.gen(function*() {
    const guards = SharedRules.policy({
      breaker: yield* CircuitBreaker.CircuitBreaker,
      rate: yield* RateBudget.RateBudget,
      retries: yield* RetryBudget.RetryBudget,
      key: options.clientId ?? options.apiUrl
    })
    return yield* makeWith(options, guards)
  })

const makeWith = (
  options: Options,
  policy: Attempts.Policy
): Effect.Effect<Service, never, HttpClient.HttpClient | TokenProvider> =>
  Effect.gen(function*() {
    const env = Attempt.makeEnv(
      yield* HttpClient.HttpClient,
      yield* TokenProvider,
      `${options.apiUrl.replace(/\/+$/, "")}${options.chatPath ?? defaults.chatPath}`
    )

    const open = (request: Request): Effect.Effect<Pull, GatewayError, Scope.Scope> =>
      Effect.gen(function*() {
        // The call's span lasts as long as its scope: until the stream ends, whatever ends it.
        const span = yield* Effect.makeSpanScoped("Gateway.stream", {
          attributes: { idempotencyKey: request.idempotencyKey },
          captureStackTrace: false
        })
        const call = Call.make(options, request, yield* Clock.currentTimeMillis)
        if (call instanceof GatewayRequestInvalid) return yield* call
        const scope = yield* Effect.scope
        const opened = yield* Attempts.open(env, policy, call, scope).pipe(
          Effect.withParentSpan(span),
          Effect.timeoutOption(Duration.millis(Math.max(0, call.openDeadline - call.startedAt)))
        )
        return yield* CallPull.make(call, opened)
      })

    return fromOpen(open)
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Gateway, never, HttpClient.HttpClient | TokenProvider> =>
  Layer.effect(Gateway, make(options))

/**
 * The gateway of `makeGuarded`: what a service making many calls should use (`@genesys-llm/node`'s layers do).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerGuarded = (
  options: Options
): Layer.Layer<Gateway, never, HttpClient.HttpClient | TokenProvider | Guards> =>
  Layer.effect(Gateway, makeGuarded(options))
