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
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Take from "effect/Take"
import {
  AuthenticationFailed,
  AuthorizationFailed,
  CallTimeout,
  FrameTooLarge,
  type GatewayError,
  GatewayRejected,
  GatewayRequestInvalid,
  MalformedFrame,
  requiredScope,
  RetriesExhausted,
  StreamInterrupted,
  TransportError
} from "./GatewayError.js"
import * as Http from "./internal/http.js"
import * as Ndjson from "./internal/ndjson.js"
import * as Retry from "./internal/retry.js"
import * as Text from "./internal/text.js"
import * as Prompt from "./Prompt.js"
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
export const defaults = {
  chatPath: "/api/v2/ai/llm-gateway/chat",
  maxLatencyMillis: 5_000,
  frameGapMillis: 10_000,
  callTimeoutMillis: 60_000,
  maxAttempts: 3,
  fallbackText: "Sorry, I cannot answer right now. Please try again in a moment.",
  strictFrames: false,
  maxFrameBytes: 1024 * 1024,
  retainText: true,
  backoffBaseMillis: 250,
  backoffCapMillis: 2_000,
  retryAfterCapMillis: 30_000
} as const

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
 * Why a call fell back: the first frame did not arrive in time, or the next retry would have slept past that
 * deadline.
 *
 * @since 0.1.0
 * @category models
 */
export type FallbackReason = "first-frame-timeout" | "retry-past-deadline"

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
  /** What went wrong with the last failed attempt, when one failed. */
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

// ---------------------------------------------------------------------------------------------------------------
// settings
// ---------------------------------------------------------------------------------------------------------------

interface Settings {
  readonly maxLatencyMillis: number
  readonly frameGapMillis: number
  readonly callTimeoutMillis: number
  readonly maxAttempts: number
  readonly fallbackText: string
  readonly strictFrames: boolean
  readonly maxFrameBytes: number
  readonly retainText: boolean
  readonly backoffBaseMillis: number
  readonly backoffCapMillis: number
  readonly retryAfterCapMillis: number
}

const positive = ["maxLatencyMillis", "frameGapMillis", "callTimeoutMillis", "maxFrameBytes"] as const
const nonNegative = ["backoffBaseMillis", "backoffCapMillis", "retryAfterCapMillis"] as const

const resolve = (options: Options, call: CallOptions | undefined): Settings | GatewayRequestInvalid => {
  const pick = <K extends keyof Settings>(key: K): Settings[K] =>
    (call?.[key as keyof CallOptions] ?? options[key] ?? defaults[key]) as Settings[K]
  const settings: Settings = {
    maxLatencyMillis: pick("maxLatencyMillis"),
    frameGapMillis: pick("frameGapMillis"),
    callTimeoutMillis: pick("callTimeoutMillis"),
    maxAttempts: pick("maxAttempts"),
    fallbackText: pick("fallbackText"),
    strictFrames: pick("strictFrames"),
    maxFrameBytes: pick("maxFrameBytes"),
    retainText: pick("retainText"),
    backoffBaseMillis: pick("backoffBaseMillis"),
    backoffCapMillis: pick("backoffCapMillis"),
    retryAfterCapMillis: pick("retryAfterCapMillis")
  }
  for (const key of positive) {
    const value = settings[key]
    if (!Number.isFinite(value) || value <= 0) {
      return new GatewayRequestInvalid({ field: key, problem: `must be a positive number, got ${value}` })
    }
  }
  for (const key of nonNegative) {
    const value = settings[key]
    if (!Number.isFinite(value) || value < 0) {
      return new GatewayRequestInvalid({ field: key, problem: `must be a non-negative number, got ${value}` })
    }
  }
  if (!Number.isSafeInteger(settings.maxAttempts) || settings.maxAttempts < 1) {
    return new GatewayRequestInvalid({
      field: "maxAttempts",
      problem: `must be a positive integer, got ${settings.maxAttempts}`
    })
  }
  if (typeof settings.fallbackText !== "string") {
    return new GatewayRequestInvalid({ field: "fallbackText", problem: "must be a string" })
  }
  if (typeof settings.retainText !== "boolean") {
    return new GatewayRequestInvalid({ field: "retainText", problem: "must be a boolean" })
  }
  return settings
}

const keyPattern = /^[\x21-\x7e]{1,255}$/

// ---------------------------------------------------------------------------------------------------------------
// one call
// ---------------------------------------------------------------------------------------------------------------

const encoder = new TextEncoder()

interface CallState {
  attempts: number
  correlationId: string | undefined
  // The text delivered, kept only with `retainText`; its length is counted either way.
  readonly delivered: Array<string>
  deliveredCharacters: number
  completionTokens: number
  usageReported: boolean
  lastStatus: number | undefined
  lastError: string | undefined
}

// The next piece of the answer's body, read in the caller's fiber.
type Body = Effect.Effect<Take.Take<Uint8Array, HttpClientError.ResponseError>>

interface Opened {
  readonly _tag: "Opened"
  readonly body: Body
  readonly decoder: Ndjson.Decoder
  readonly frames: ReadonlyArray<Ndjson.Frame>
  readonly failure: Ndjson.DecodeFailure | undefined
  readonly ended: boolean
}

interface Transient {
  readonly _tag: "Transient"
  readonly status: number | undefined
  readonly retryAfter: number | undefined
  readonly description: string
}

interface Unauthorized {
  readonly _tag: "Unauthorized"
  readonly token: Redacted.Redacted<string>
  readonly correlationId: string | undefined
}

type AttemptResult = Opened | Transient | Unauthorized

interface FellBack {
  readonly _tag: "FellBack"
  readonly reason: "first-frame-timeout" | "retry-past-deadline"
}

const withAttempts = (error: GatewayError, attempts: number): GatewayError =>
  error._tag === "AuthenticationFailed" && error.attempts === undefined
    ? new AuthenticationFailed({
      source: error.source,
      ...(error.status === undefined ? {} : { status: error.status }),
      ...(error.code === undefined ? {} : { code: error.code }),
      ...(error.correlationId === undefined ? {} : { correlationId: error.correlationId }),
      attempts
    })
    : error

const describeFailure = (failure: Ndjson.DecodeFailure): string => {
  switch (failure._tag) {
    case "FrameTooLarge":
      return `frame ${failure.line} is longer than the limit of ${failure.limit} bytes`
    case "InvalidUtf8":
      return `frame ${failure.line} is not valid UTF-8`
    case "Malformed":
      return `frame ${failure.line} is ${failure.reason === "not-json" ? "not JSON" : "not a frame"}`
    case "Truncated":
      return failure.insideCharacter
        ? `the stream ended inside a UTF-8 character of frame ${failure.line}`
        : `the stream ended inside frame ${failure.line}`
  }
}

const interruptionReason = (failure: Ndjson.DecodeFailure) =>
  failure._tag === "FrameTooLarge"
    ? "frame-too-large" as const
    : failure._tag === "Truncated"
    ? "truncated" as const
    : "malformed-frame" as const

/**
 * Builds the gateway over the `HttpClient` and `TokenProvider` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, never, HttpClient.HttpClient | TokenProvider> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const tokens = yield* TokenProvider
    const url = `${options.apiUrl.replace(/\/+$/, "")}${options.chatPath ?? defaults.chatPath}`

    const open = (request: Request): Effect.Effect<Pull, GatewayError, Scope.Scope> =>
      Effect.gen(function*() {
        // The call's span lasts as long as its scope: until the stream ends, whatever ends it.
        const span = yield* Effect.makeSpanScoped("Gateway.stream", {
          attributes: { idempotencyKey: request.idempotencyKey },
          captureStackTrace: false
        })
        const settings = resolve(options, request.options)
        if (settings instanceof GatewayRequestInvalid) return yield* settings
        if (typeof request.idempotencyKey !== "string" || !keyPattern.test(request.idempotencyKey)) {
          return yield* new GatewayRequestInvalid({
            field: "idempotencyKey",
            problem: "must be 1 to 255 printable ASCII characters without spaces"
          })
        }
        const scope = yield* Effect.scope
        const body = encoder.encode(Prompt.toJson(request.payload))
        const start = yield* Clock.currentTimeMillis
        const firstFrameDeadline = start + settings.maxLatencyMillis
        const callDeadline = start + settings.callTimeoutMillis
        // Before the first frame, whichever deadline comes first applies; the first-frame one falls back.
        const openDeadline = Math.min(firstFrameDeadline, callDeadline)
        const fallsBack = firstFrameDeadline <= callDeadline
        const state: CallState = {
          attempts: 0,
          correlationId: undefined,
          delivered: [],
          deliveredCharacters: 0,
          completionTokens: 0,
          usageReported: false,
          lastStatus: undefined,
          lastError: undefined
        }

        const httpRequest = (token: Redacted.Redacted<string>) =>
          HttpClientRequest.post(url).pipe(
            HttpClientRequest.setHeaders({
              authorization: `Bearer ${Redacted.value(token)}`,
              accept: "application/x-ndjson",
              "idempotency-key": request.idempotencyKey
            }),
            HttpClientRequest.bodyUint8Array(body, "application/json")
          )

        const readFirst = (
          response: HttpClientResponse.HttpClientResponse,
          attemptScope: Scope.Scope
        ): Effect.Effect<Opened | Transient, GatewayError> =>
          Effect.gen(function*() {
            // Pulled directly, without a fiber and a queue in between: the body is read as fast as the caller reads.
            // Whenever the attempt ends, a body not read to its end is interrupted, which aborts the request.
            const bodyScope = yield* Scope.fork(attemptScope, ExecutionStrategy.sequential)
            yield* Scope.addFinalizer(
              attemptScope,
              Effect.flatMap(Effect.fiberId, (id) => Scope.close(bodyScope, Exit.interrupt(id)))
            )
            const queue = Take.fromPull(yield* Stream.toPull(response.stream).pipe(Scope.extend(bodyScope)))
            const decoder = new Ndjson.Decoder({ maxFrameBytes: settings.maxFrameBytes, strict: settings.strictFrames })
            for (;;) {
              const take = yield* queue
              const result: Opened | Transient | Ndjson.DecodeFailure | undefined = Take.match(take, {
                onEnd: (): Opened | Ndjson.DecodeFailure => {
                  const out = decoder.end()
                  if (out.failure !== undefined) return out.failure
                  return { _tag: "Opened", body: queue, decoder, frames: [], failure: undefined, ended: true }
                },
                onFailure: (cause): Transient => ({
                  _tag: "Transient",
                  status: response.status,
                  retryAfter: undefined,
                  description: `the answer broke before its first frame: ${Text.describeCause(Cause.squash(cause))}`
                }),
                onSuccess: (chunk): Opened | Ndjson.DecodeFailure | undefined => {
                  const frames: Array<Ndjson.Frame> = []
                  let failure: Ndjson.DecodeFailure | undefined
                  for (const bytes of chunk) {
                    const out = decoder.push(bytes)
                    for (const frame of out.frames) frames.push(frame)
                    if (out.failure !== undefined) {
                      failure = out.failure
                      break
                    }
                  }
                  if (frames.length > 0) return { _tag: "Opened", body: queue, decoder, frames, failure, ended: false }
                  return failure
                }
              })
              if (result === undefined) continue
              if (result._tag === "Opened" || result._tag === "Transient") return result
              // A decode failure before any frame.
              switch (result._tag) {
                case "Truncated":
                  return {
                    _tag: "Transient",
                    status: response.status,
                    retryAfter: undefined,
                    description: describeFailure(result)
                  } satisfies Transient
                case "FrameTooLarge":
                  return yield* new FrameTooLarge({
                    limit: result.limit,
                    line: result.line,
                    attempts: state.attempts,
                    ...(state.correlationId === undefined ? {} : { correlationId: state.correlationId })
                  })
                case "InvalidUtf8":
                case "Malformed":
                  return yield* new MalformedFrame({
                    reason: result._tag === "InvalidUtf8" ? "invalid-utf8" : result.reason,
                    line: result.line,
                    attempts: state.attempts,
                    ...(state.correlationId === undefined ? {} : { correlationId: state.correlationId })
                  })
              }
            }
          })

        const attempt = (attemptScope: Scope.Scope): Effect.Effect<AttemptResult, GatewayError> =>
          Effect.gen(function*() {
            const token = yield* tokens.get.pipe(
              Effect.map(Option.some),
              Effect.catchTag("TokenRequestFailed", (error) => {
                state.lastStatus = undefined
                state.lastError = error.message
                return Effect.succeed(Option.none<Redacted.Redacted<string>>())
              })
            )
            if (Option.isNone(token)) {
              return {
                _tag: "Transient",
                status: undefined,
                retryAfter: undefined,
                description: state.lastError ?? "no access token"
              } satisfies Transient
            }
            const secrets = [Redacted.value(token.value)]
            const sent = yield* client.execute(httpRequest(token.value)).pipe(
              Effect.map((response) => ({ _tag: "Response", response }) as const),
              Effect.catchAll((error) =>
                error._tag === "RequestError" && error.reason !== "Transport"
                  ? new TransportError({ description: Text.describeCause(error, secrets), attempts: state.attempts })
                  : Effect.succeed(
                    {
                      _tag: "Transient",
                      status: undefined,
                      retryAfter: undefined,
                      description: `transport error: ${Text.describeCause(error, secrets)}`
                    } satisfies Transient
                  )
              )
            )
            if (sent._tag === "Transient") return sent
            const response = sent.response
            const correlationId = Http.correlationId(response.headers)
            if (correlationId !== undefined) state.correlationId = correlationId
            if (response.status >= 200 && response.status <= 299) return yield* readFirst(response, attemptScope)
            const now = yield* Clock.currentTimeMillis
            const text = yield* Http.readCapped(response).pipe(Effect.orElseSucceed(() => ""))
            const errorBody = Http.parseErrorBody(text, secrets)
            const correlation = correlationId ?? errorBody.contextId
            const withCorrelation = correlation === undefined ? {} : { correlationId: correlation }
            if (response.status === 401) {
              return { _tag: "Unauthorized", token: token.value, correlationId: correlation } satisfies Unauthorized
            }
            if (response.status === 403) {
              return yield* new AuthorizationFailed({
                status: 403,
                scope: requiredScope,
                ...(errorBody.code === undefined ? {} : { code: errorBody.code }),
                ...withCorrelation,
                attempts: state.attempts
              })
            }
            if (Retry.isRetryableStatus(response.status)) {
              const detail = [errorBody.code, errorBody.description].filter((s) => s !== undefined).join(": ")
              return {
                _tag: "Transient",
                status: response.status,
                retryAfter: Retry.parseRetryAfter(response.headers, now),
                description: `HTTP ${response.status}${detail.length > 0 ? ` ${detail}` : ""}`
              } satisfies Transient
            }
            return yield* new GatewayRejected({
              status: response.status,
              ...(errorBody.code === undefined ? {} : { code: errorBody.code }),
              ...(errorBody.description === undefined ? {} : { description: errorBody.description }),
              ...withCorrelation,
              attempts: state.attempts
            })
          })

        // Attempts until the first frame; the attempt that opened the stream keeps its scope open.
        const open: Effect.Effect<Opened | FellBack, GatewayError> = Effect.gen(function*() {
          let budgetUsed = 0
          let refreshed = false
          let retryOf401 = false
          for (;;) {
            state.attempts++
            if (!retryOf401) budgetUsed++
            retryOf401 = false
            const attemptScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
            const result = yield* attempt(attemptScope).pipe(
              Effect.onExit((exit) =>
                Exit.isSuccess(exit) && exit.value._tag === "Opened" ? Effect.void : Scope.close(attemptScope, exit)
              ),
              Effect.withSpan("Gateway.attempt", { attributes: { attempt: state.attempts }, captureStackTrace: false })
            )
            switch (result._tag) {
              case "Opened":
                return result
              case "Unauthorized": {
                yield* tokens.invalidate(result.token)
                if (refreshed) {
                  return yield* new AuthenticationFailed({
                    source: "gateway",
                    status: 401,
                    ...(result.correlationId === undefined ? {} : { correlationId: result.correlationId }),
                    attempts: state.attempts
                  })
                }
                refreshed = true
                retryOf401 = true
                state.lastStatus = 401
                state.lastError = "HTTP 401: the access token was refused"
                yield* Effect.logDebug("gateway answered 401; retrying once with a new token")
                continue
              }
              case "Transient": {
                state.lastStatus = result.status
                state.lastError = result.description
                if (budgetUsed >= settings.maxAttempts) {
                  return yield* new RetriesExhausted({
                    attempts: state.attempts,
                    ...(result.status === undefined ? {} : { lastStatus: result.status }),
                    lastError: result.description,
                    ...(state.correlationId === undefined ? {} : { correlationId: state.correlationId })
                  })
                }
                const random = yield* Random.next
                const delay = Retry.retryDelay(
                  {
                    failures: budgetUsed,
                    baseMillis: settings.backoffBaseMillis,
                    capMillis: settings.backoffCapMillis,
                    retryAfterCapMillis: settings.retryAfterCapMillis
                  },
                  result.retryAfter,
                  random
                )
                const now = yield* Clock.currentTimeMillis
                if (Retry.passesDeadline(now, delay, openDeadline)) {
                  if (!fallsBack) {
                    return yield* new CallTimeout({
                      timeoutMillis: settings.callTimeoutMillis,
                      attempts: state.attempts
                    })
                  }
                  return { _tag: "FellBack", reason: "retry-past-deadline" } satisfies FellBack
                }
                yield* Effect.logDebug("gateway attempt failed; retrying").pipe(
                  Effect.annotateLogs({
                    attempt: state.attempts,
                    status: result.status ?? "none",
                    delayMillis: delay,
                    idempotencyKey: request.idempotencyKey
                  })
                )
                yield* Effect.sleep(Duration.millis(delay))
              }
            }
          }
        })

        const remaining = Math.max(0, openDeadline - start)
        const opened = yield* open.pipe(
          Effect.withParentSpan(span),
          Effect.timeoutOption(Duration.millis(remaining)),
          Effect.mapError((error) => withAttempts(error, state.attempts))
        )

        const done = (outcome: "complete" | "fallback", text: string, skippedFrames: number): Done => ({
          _tag: "Done",
          outcome,
          text,
          completionTokens: state.completionTokens,
          usageReported: state.usageReported,
          attempts: state.attempts,
          skippedFrames,
          correlationId: state.correlationId
        })

        if (Option.isNone(opened) || opened.value._tag === "FellBack") {
          if (Option.isNone(opened) && !fallsBack) {
            return yield* new CallTimeout({ timeoutMillis: settings.callTimeoutMillis, attempts: state.attempts })
          }
          const reason = Option.isNone(opened) ? "first-frame-timeout" : (opened.value as FellBack).reason
          yield* Effect.logDebug("gateway call fell back").pipe(
            Effect.annotateLogs({ reason, attempts: state.attempts, idempotencyKey: request.idempotencyKey })
          )
          const fallback: Fallback = {
            _tag: "Fallback",
            text: settings.fallbackText,
            reason,
            lastStatus: state.lastStatus,
            lastError: state.lastError
          }
          let given = false
          return Effect.suspend(() => {
            if (given) return Effect.fail(Option.none())
            given = true
            return Effect.succeed(Chunk.make<[Event, Event]>(fallback, done("fallback", settings.fallbackText, 0)))
          })
        }

        const { body: queue, decoder } = opened.value
        let pendingFailure = opened.value.failure
        let ended = opened.value.ended

        const toEvents = (frames: ReadonlyArray<Ndjson.Frame>): Chunk.Chunk<Event> => {
          const events: Array<Event> = []
          for (const frame of frames) {
            if (frame.content !== undefined && frame.content.length > 0) {
              if (settings.retainText) state.delivered.push(frame.content)
              state.deliveredCharacters += frame.content.length
              events.push({ _tag: "Delta", text: frame.content })
            }
            if (frame.completionTokens !== undefined) {
              state.completionTokens += frame.completionTokens
              state.usageReported = true
            }
          }
          return Chunk.unsafeFromArray(events)
        }

        const interrupted = (reason: StreamInterrupted["reason"], detail: string) =>
          new StreamInterrupted({
            reason,
            detail,
            deliveredText: state.delivered.join(""),
            deliveredCharacters: state.deliveredCharacters,
            completionTokens: state.completionTokens,
            attempts: state.attempts,
            ...(state.correlationId === undefined ? {} : { correlationId: state.correlationId })
          })

        // The frames that opened the call come first; `Done` comes after the end of the body.
        let first: Chunk.Chunk<Event> | undefined = toEvents(opened.value.frames)
        // Set once the call gave `Done` or failed: every pull after that says it ended.
        let over = false
        const stop = (error: StreamInterrupted) => {
          over = true
          return Effect.fail(Option.some<GatewayError>(error))
        }

        const pull: Pull = Effect.gen(function*() {
          if (over) return yield* Effect.fail(Option.none())
          if (first !== undefined) {
            const events = first
            first = undefined
            if (Chunk.isNonEmpty(events)) return events
          }
          for (;;) {
            if (pendingFailure !== undefined) {
              return yield* stop(interrupted(interruptionReason(pendingFailure), describeFailure(pendingFailure)))
            }
            if (ended) {
              over = true
              return Chunk.of<Event>(done("complete", state.delivered.join(""), decoder.skipped))
            }
            const now = yield* Clock.currentTimeMillis
            const untilCallDeadline = callDeadline - now
            if (untilCallDeadline <= 0) {
              return yield* stop(
                interrupted("call-timeout", `the call took longer than ${settings.callTimeoutMillis} ms`)
              )
            }
            const wait = Math.min(settings.frameGapMillis, untilCallDeadline)
            const take = yield* queue.pipe(Effect.timeoutOption(Duration.millis(wait)))
            if (Option.isNone(take)) {
              return yield* stop(
                wait < settings.frameGapMillis
                  ? interrupted("call-timeout", `the call took longer than ${settings.callTimeoutMillis} ms`)
                  : interrupted("stall", `the gateway sent nothing for ${settings.frameGapMillis} ms`)
              )
            }
            const events = Take.match(take.value, {
              onEnd: () => {
                const out = decoder.end()
                pendingFailure = out.failure
                ended = true
                return Chunk.empty<Event>()
              },
              onFailure: (cause) => {
                pendingFailure = undefined
                ended = true
                return interrupted("reset", `the connection broke: ${Text.describeCause(Cause.squash(cause))}`)
              },
              onSuccess: (chunk) => {
                const frames: Array<Ndjson.Frame> = []
                for (const bytes of chunk) {
                  const out = decoder.push(bytes)
                  for (const frame of out.frames) frames.push(frame)
                  if (out.failure !== undefined) {
                    pendingFailure = out.failure
                    break
                  }
                }
                return toEvents(frames)
              }
            })
            if (events instanceof StreamInterrupted) return yield* stop(events)
            if (Chunk.isNonEmpty(events)) return events
          }
        })

        return pull
      })

    return fromOpen(open)
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Gateway, never, HttpClient.HttpClient | TokenProvider> =>
  Layer.effect(Gateway, make(options))
