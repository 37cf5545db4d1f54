/**
 * One attempt of a call: take a token, send the request, and classify the answer: opened (a first frame, or a
 * complete empty answer), transient (worth a retry), a 401 (worth one retry with a new token), or an error that
 * ends the call.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Take from "effect/Take"
import {
  AuthenticationFailed,
  AuthorizationFailed,
  FrameTooLarge,
  type GatewayError,
  GatewayRejected,
  type InvalidAnswerReason,
  MalformedFrame,
  requiredScope,
  TransportError
} from "../../GatewayError.js"
import type * as TokenProvider from "../../TokenProvider.js"
import { defined } from "../defined.js"
import * as Http from "../http.js"
import type * as Ndjson from "../ndjson.js"
import * as Retry from "../retry.js"
import * as Secrets from "../secrets.js"
import * as Text from "../text.js"
import * as Body from "./body.js"
import * as Call from "./call.js"

/** What a gateway's attempts need, fixed when the gateway is built. @internal */
export interface Env {
  readonly client: HttpClient.HttpClient
  readonly tokens: TokenProvider.Service
  readonly url: string
  /** Every form of a token that an answer may repeat (see `Secrets.formsOf`), computed once per token. */
  readonly formsOf: (token: Redacted.Redacted<string>) => ReadonlyArray<string>
}

/** @internal */
export const makeEnv = (client: HttpClient.HttpClient, tokens: TokenProvider.Service, url: string): Env => {
  // Keyed by the token's `Redacted`, which the provider hands out again and again until it replaces the token.
  const forms = new WeakMap<Redacted.Redacted<string>, ReadonlyArray<string>>()
  return {
    client,
    tokens,
    url,
    formsOf: (token) => {
      let found = forms.get(token)
      if (found === undefined) {
        found = Secrets.formsOf(Redacted.value(token), ["Bearer "])
        forms.set(token, found)
      }
      return found
    }
  }
}

/** The answer started: its first frames (none for an answer that ended empty), and the rest of its body. @internal */
export interface Opened {
  readonly _tag: "Opened"
  readonly body: Body.Body
  readonly frames: ReadonlyArray<Ndjson.Frame>
}

/** A failure worth a retry. @internal */
export interface Transient {
  readonly _tag: "Transient"
  readonly status: number | undefined
  readonly retryAfter: number | undefined
  /** What went wrong, in our words. */
  readonly description: string
  readonly responseBody: Redacted.Redacted<string> | undefined
  /** A success status without an answer, when that is what went wrong. */
  readonly invalidAnswer: InvalidAnswerOf | undefined
  /** The token request failed: the login server's trouble, which says nothing of the gateway's health. */
  readonly fromToken: boolean
}

/** @internal */
export interface InvalidAnswerOf {
  readonly reason: InvalidAnswerReason
  readonly status: number
  readonly contentType: string | undefined
}

/** The gateway refused the token: worth one retry with a new one. @internal */
export interface Unauthorized {
  readonly _tag: "Unauthorized"
  readonly token: Redacted.Redacted<string>
  readonly correlationId: string | undefined
}

/** @internal */
export type Result = Opened | Transient | Unauthorized

const transient = (
  status: number | undefined,
  description: string,
  more: {
    readonly retryAfter?: number | undefined
    readonly responseBody?: Redacted.Redacted<string> | undefined
    readonly invalidAnswer?: InvalidAnswerOf | undefined
    readonly fromToken?: boolean | undefined
  } = {}
): Transient => ({
  _tag: "Transient",
  status,
  retryAfter: more.retryAfter,
  description,
  responseBody: more.responseBody,
  invalidAnswer: more.invalidAnswer,
  fromToken: more.fromToken === true
})

/**
 * Runs one attempt. Its request and body live in `attemptScope`: the loop closes it unless the attempt opened the
 * answer, whose body the pull then reads.
 *
 * @internal
 */
export const run = (env: Env, call: Call.Call, attemptScope: Scope.Scope): Effect.Effect<Result, GatewayError> =>
  Effect.gen(function*() {
    call.rateAnswer = undefined
    const token = yield* takeToken(env, call)
    if (!Redacted.isRedacted(token)) return token
    const forms = env.formsOf(token)
    const sent = yield* send(env, call, token)
    if (sent._tag === "Transient") return sent
    const response = sent.response
    call.rateAnswer = yield* rateAnswerOf(response)
    const correlationId = Http.correlationId(response.headers, forms)
    if (correlationId !== undefined) call.correlationId = correlationId
    if (response.status >= 200 && response.status <= 299) {
      const type = Http.mediaType(response.headers)
      if (!Http.holdsFrames(type)) return yield* notFrames(response, type, forms)
      return yield* readFirst(call, response, attemptScope)
    }
    return yield* classifyError(call, response, token, forms)
  })

// What the answer says of the rate limit, for the rate budget.
const rateAnswerOf = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(Clock.currentTimeMillis, (now) => ({
    status: response.status,
    retryAfterMillis: Retry.parseRetryAfter(response.headers, now),
    ...Http.rateLimit(response.headers)
  }))

// A failed token request is worth a retry; refused credentials end the call.
const takeToken = (
  env: Env,
  call: Call.Call
): Effect.Effect<Redacted.Redacted<string> | Transient, AuthenticationFailed> =>
  env.tokens.get.pipe(
    Effect.catchTags({
      TokenRequestFailed: (error) =>
        Effect.succeed(transient(undefined, error.message, { responseBody: error.responseBody, fromToken: true })),
      // The provider does not know the call: the call's count goes in here.
      AuthenticationFailed: (error) =>
        new AuthenticationFailed(defined({
          source: error.source,
          status: error.status,
          code: error.code,
          correlationId: error.correlationId,
          attempts: call.attempts
        }))
    })
  )

const send = (env: Env, call: Call.Call, token: Redacted.Redacted<string>) =>
  env.client.execute(
    HttpClientRequest.post(env.url).pipe(
      HttpClientRequest.setHeaders({
        authorization: `Bearer ${Redacted.value(token)}`,
        accept: "application/x-ndjson",
        "idempotency-key": call.idempotencyKey
      }),
      HttpClientRequest.bodyUint8Array(call.body, "application/json")
    )
  ).pipe(
    Effect.map((response) => ({ _tag: "Response", response }) as const),
    Effect.catchAll((error) =>
      error._tag === "RequestError" && error.reason !== "Transport"
        ? new TransportError({
          description: error.reason === "InvalidUrl"
            ? "the gateway URL is not valid"
            : "the request could not be encoded",
          ...Call.shared(call)
        })
        : Effect.succeed(transient(undefined, Text.describeConnectionFailure("transport error", error)))
    )
  )

// An answer with an error status: what it says decides whether the call retries, refreshes its token or ends.
// Only its status, its code and its correlation id go into an error; the body goes only into `responseBody`.
const classifyError = (
  call: Call.Call,
  response: HttpClientResponse.HttpClientResponse,
  token: Redacted.Redacted<string>,
  forms: ReadonlyArray<string>
): Effect.Effect<Transient | Unauthorized, GatewayError> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const text = yield* Http.readCapped(response).pipe(Effect.orElseSucceed(() => ""))
    const errorBody = Http.parseErrorBody(text, forms)
    const correlation = Http.correlationId(response.headers, forms) ?? errorBody.contextId
    if (response.status === 401) {
      return { _tag: "Unauthorized", token, correlationId: correlation } satisfies Unauthorized
    }
    if (response.status === 403) {
      return yield* new AuthorizationFailed(defined({
        status: 403,
        scope: requiredScope,
        code: errorBody.code,
        correlationId: correlation,
        attempts: call.attempts
      }))
    }
    if (Retry.isRetryableStatus(response.status)) {
      return transient(
        response.status,
        `HTTP ${response.status}${errorBody.code === undefined ? "" : ` ${errorBody.code}`}`,
        { retryAfter: Retry.parseRetryAfter(response.headers, now), responseBody: errorBody.body }
      )
    }
    return yield* new GatewayRejected(defined({
      status: response.status,
      code: errorBody.code,
      correlationId: correlation,
      attempts: call.attempts,
      responseBody: errorBody.body
    }))
  })

// A success status with a body that cannot hold frames, such as the HTML page of a proxy: kept for debugging, and
// worth a retry, since nothing reached the caller.
const notFrames = (
  response: HttpClientResponse.HttpClientResponse,
  type: string | undefined,
  forms: ReadonlyArray<string>
): Effect.Effect<Transient> =>
  Effect.map(Http.readCapped(response).pipe(Effect.orElseSucceed(() => "")), (text) => {
    const contentType = type === undefined || type.length === 0 ? undefined : type
    return transient(
      response.status,
      `HTTP ${response.status} with content type ${contentType ?? "that cannot be read"}, not NDJSON or JSON`,
      {
        responseBody: Http.parseErrorBody(text, forms).body,
        invalidAnswer: { reason: "content-type", status: response.status, contentType }
      }
    )
  })

// Reads a 200's body up to its first frame. A body not read to its end is interrupted whenever the attempt's scope
// closes, which aborts the request.
const readFirst = (
  call: Call.Call,
  response: HttpClientResponse.HttpClientResponse,
  attemptScope: Scope.Scope
): Effect.Effect<Opened | Transient, GatewayError> =>
  Effect.gen(function*() {
    const bodyScope = yield* Scope.fork(attemptScope, ExecutionStrategy.sequential)
    yield* Scope.addFinalizer(
      attemptScope,
      Effect.flatMap(Effect.fiberId, (id) => Scope.close(bodyScope, Exit.interrupt(id)))
    )
    const next = Take.fromPull(yield* Stream.toPull(response.stream).pipe(Scope.extend(bodyScope)))
    const body = new Body.Body(next, {
      maxFrameBytes: call.settings.maxFrameBytes,
      strict: call.settings.strictFrames
    })
    for (;;) {
      const frames = body.decode(yield* body.next)
      // Frames first: a failure after them is the pull's to report, once they reached the caller. A frame with
      // neither content nor usage gives the caller nothing: the answer has not started.
      if (frames.some(carriesSomething)) return { _tag: "Opened", body, frames } satisfies Opened
      if (body.broken !== undefined) {
        return transient(response.status, Body.describeBreak("the answer broke before its first frame", body.broken))
      }
      if (body.failure !== undefined) return yield* failedBeforeFirstFrame(call, response, body.failure)
      if (body.ended) {
        return transient(response.status, `HTTP ${response.status} with no content frame and no usage`, {
          invalidAnswer: { reason: "no-content", status: response.status, contentType: undefined }
        })
      }
    }
  })

const carriesSomething = (frame: Ndjson.Frame): boolean =>
  (frame.content !== undefined && frame.content.length > 0) || frame.completionTokens !== undefined

// A line that is not a frame before any frame: a cut-off line is worth a retry, anything else is not.
const failedBeforeFirstFrame = (
  call: Call.Call,
  response: HttpClientResponse.HttpClientResponse,
  failure: Ndjson.DecodeFailure
): Effect.Effect<Transient, GatewayError> => {
  switch (failure._tag) {
    case "Truncated":
      return Effect.succeed(transient(response.status, Body.describeFailure(failure)))
    case "FrameTooLarge":
      return new FrameTooLarge({ limit: failure.limit, line: failure.line, ...Call.shared(call) })
    case "InvalidUtf8":
    case "Malformed":
      return new MalformedFrame({
        reason: failure._tag === "InvalidUtf8" ? "invalid-utf8" : failure.reason,
        line: failure.line,
        ...Call.shared(call)
      })
  }
}
