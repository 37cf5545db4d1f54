/**
 * The errors of the gateway stage: authentication, authorization, rejection, retries, broken streams and
 * deadlines. Every message is made of statuses, machine codes, correlation ids and our own words: never the free
 * text or the body of an answer, which may repeat the prompt or a credential (a proxy echoing the request does),
 * so never a secret, a token or prompt text. Where the body of an error answer is kept for debugging, it is in
 * `responseBody`, a `Redacted` with every form of the token and the client secret scrubbed, which prints as
 * `<redacted>` in a message, `toString`, `toJSON`, `util.inspect` and a pretty-printed `Cause`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The OAuth scope a client needs to call the LLM gateway.
 *
 * @since 0.1.0
 * @category models
 */
export const requiredScope = "ai:llm-gateway:write"

/**
 * The body of an error answer, kept for debugging: `Redacted.value` reads it. Every form of the access token and
 * of the client secret is scrubbed from it; it may still hold prompt text, so it goes into no log by default.
 */
const ResponseBody = Schema.optional(Schema.RedactedFromSelf(Schema.String))

/**
 * The fields every gateway error has: the attempts the call made (requests sent or started; 0 when it failed
 * before the first) and the gateway's correlation id, when one was seen.
 */
const shared = {
  attempts: Schema.Number,
  correlationId: Schema.optional(Schema.String)
}

// For the errors that can come before any attempt, or from the token provider on its own: 0 unless given.
const sharedBeforeAttempts = {
  attempts: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  correlationId: Schema.optional(Schema.String)
}

const correlationSuffix = (correlationId: string | undefined): string =>
  correlationId === undefined ? "" : ` (correlation id ${correlationId})`

const attemptsText = (attempts: number): string => attempts === 1 ? "1 attempt" : `${attempts} attempts`

/**
 * The credentials were refused: the login server rejected the client id and secret (`source: "login"`), or the
 * gateway answered 401 again to a freshly fetched token (`source: "gateway"`).
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthenticationFailed extends Schema.TaggedError<AuthenticationFailed>(
  "@genesys-llm/core/AuthenticationFailed"
)("AuthenticationFailed", {
  source: Schema.Literal("login", "gateway"),
  status: Schema.optional(Schema.Number),
  /** The OAuth error code of the login server, such as `invalid_client`. */
  code: Schema.optional(Schema.String),
  /** 0 from the token provider on its own; the gateway gives the call's count. */
  ...sharedBeforeAttempts
}) {
  override get message(): string {
    const status = this.status === undefined ? "" : `HTTP ${this.status}`
    const detail = [status, this.code].filter((s) => s !== undefined && s.length > 0).join(", ")
    const suffix = detail.length > 0 ? ` (${detail})` : ""
    return this.source === "login"
      ? `authentication failed: the login server rejected the client credentials${suffix}`
      : `authentication failed: the gateway rejected a freshly fetched access token${suffix}${
        correlationSuffix(this.correlationId)
      }`
  }
}

/**
 * The token request did not succeed for a reason other than refused credentials: the login server could not be
 * reached, timed out, answered with a server error or with something that is not a token. The gateway treats it
 * as transient and retries it like a transport error.
 *
 * @since 0.1.0
 * @category errors
 */
export class TokenRequestFailed extends Schema.TaggedError<TokenRequestFailed>(
  "@genesys-llm/core/TokenRequestFailed"
)("TokenRequestFailed", {
  reason: Schema.Literal("transport", "timeout", "status", "malformed"),
  status: Schema.optional(Schema.Number),
  /** The OAuth error code of the answer, such as `temporarily_unavailable`. */
  code: Schema.optional(Schema.String),
  /** What went wrong, in our words. */
  description: Schema.String,
  responseBody: ResponseBody
}) {
  override get message(): string {
    const detail = [this.status === undefined ? undefined : `HTTP ${this.status}`, this.code]
      .filter((s) => s !== undefined).join(" ")
    return `could not obtain an access token${detail.length > 0 ? ` (${detail})` : ""}: ${this.description}`
  }
}

/**
 * The gateway answered 403: the client is authenticated but lacks the scope `ai:llm-gateway:write`.
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthorizationFailed extends Schema.TaggedError<AuthorizationFailed>(
  "@genesys-llm/core/AuthorizationFailed"
)("AuthorizationFailed", {
  status: Schema.Number,
  scope: Schema.String,
  code: Schema.optional(Schema.String),
  ...shared
}) {
  override get message(): string {
    return `authorization failed (HTTP ${this.status}): the OAuth client needs the scope ${this.scope} to call ` +
      `the LLM gateway${correlationSuffix(this.correlationId)}`
  }
}

/**
 * The gateway refused the request with a 4xx status that is not retried (400, 404, 409, 413, 422, ...).
 *
 * @since 0.1.0
 * @category errors
 */
export class GatewayRejected extends Schema.TaggedError<GatewayRejected>("@genesys-llm/core/GatewayRejected")(
  "GatewayRejected",
  {
    status: Schema.Number,
    /** The `code` of the error body, such as `bad.request`. */
    code: Schema.optional(Schema.String),
    ...shared,
    responseBody: ResponseBody
  }
) {
  override get message(): string {
    const code = this.code === undefined ? "" : ` ${this.code}`
    return `the gateway rejected the request (HTTP ${this.status}${code})${correlationSuffix(this.correlationId)}`
  }
}

/**
 * Every attempt failed with a retryable status or a transport error and the attempt budget is spent.
 *
 * @since 0.1.0
 * @category errors
 */
export class RetriesExhausted extends Schema.TaggedError<RetriesExhausted>("@genesys-llm/core/RetriesExhausted")(
  "RetriesExhausted",
  {
    /** The HTTP status of the last attempt, absent when it failed before a response. */
    lastStatus: Schema.optional(Schema.Number),
    /** What went wrong with the last attempt, in our words: a status and a code, or a system error code. */
    lastError: Schema.String,
    ...shared,
    /** The body of the last attempt's error answer, when it had one. */
    responseBody: ResponseBody
  }
) {
  override get message(): string {
    return `the gateway call failed after ${attemptsText(this.attempts)}; the last one: ${this.lastError}${
      correlationSuffix(this.correlationId)
    }`
  }
}

/**
 * Why a successful status did not carry an answer.
 *
 * @since 0.1.0
 * @category models
 */
export const InvalidAnswerReason = Schema.Literal("content-type", "no-content")

/**
 * @since 0.1.0
 * @category models
 */
export type InvalidAnswerReason = typeof InvalidAnswerReason.Type

/**
 * The gateway answered with a success status but not with an answer: a content type other than NDJSON or JSON
 * (`reason: "content-type"`, such as the HTML page of a proxy or a captive portal), or a body that ended with no
 * content frame and no usage (`reason: "no-content"`: empty, blank, or only lines that are not frames). Nothing
 * reached the caller, so it is retried like a transient failure; this error ends the call when the attempts are
 * spent. (When the retry would pass the first-frame deadline the call falls back instead, as for any failure.)
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidAnswer extends Schema.TaggedError<InvalidAnswer>("@genesys-llm/core/InvalidAnswer")(
  "InvalidAnswer",
  {
    reason: InvalidAnswerReason,
    status: Schema.Number,
    /** The media type answered, for `content-type` (absent when it was not a readable media type). */
    contentType: Schema.optional(Schema.String),
    ...shared,
    /** The body of the last such answer, for `content-type`. */
    responseBody: ResponseBody
  }
) {
  override get message(): string {
    const what = this.reason === "content-type"
      ? `content type ${this.contentType ?? "that cannot be read"}, not NDJSON or JSON`
      : "no content frame and no usage"
    return `the gateway answered HTTP ${this.status} with ${what}, after ${attemptsText(this.attempts)}${
      correlationSuffix(this.correlationId)
    }`
  }
}

/**
 * Why a stream that already delivered frames broke.
 *
 * @since 0.1.0
 * @category models
 */
export const InterruptionReason = Schema.Literal(
  "stall",
  "reset",
  "truncated",
  "call-timeout",
  "frame-too-large",
  "malformed-frame"
)

/**
 * @since 0.1.0
 * @category models
 */
export type InterruptionReason = typeof InterruptionReason.Type

/**
 * The stream broke after at least one frame reached the caller. Nothing is retried at that point (that could
 * duplicate text); the error carries what was delivered so that the caller can keep it.
 *
 * @since 0.1.0
 * @category errors
 */
export class StreamInterrupted extends Schema.TaggedError<StreamInterrupted>("@genesys-llm/core/StreamInterrupted")(
  "StreamInterrupted",
  {
    reason: InterruptionReason,
    detail: Schema.String,
    /**
     * The text delivered before the break, exactly as the caller received it; empty when the call was made with
     * `retainText: false`.
     */
    deliveredText: Schema.String,
    /** The length of the text delivered before the break, kept or not (absent from older producers). */
    deliveredCharacters: Schema.optional(Schema.Number),
    /** The completion tokens reported by the frames delivered before the break. */
    completionTokens: Schema.Number,
    ...shared
  }
) {
  override get message(): string {
    return `the answer stream broke (${this.reason}) after ${
      this.deliveredCharacters ?? this.deliveredText.length
    } characters were ` +
      `delivered: ${this.detail}${correlationSuffix(this.correlationId)}`
  }
}

/**
 * A line of the answer, before any frame was delivered, is longer than the frame-size limit. Not retried: the same
 * request gets the same answer.
 *
 * @since 0.1.0
 * @category errors
 */
export class FrameTooLarge extends Schema.TaggedError<FrameTooLarge>("@genesys-llm/core/FrameTooLarge")(
  "FrameTooLarge",
  {
    limit: Schema.Number,
    line: Schema.Number,
    ...shared
  }
) {
  override get message(): string {
    return `frame ${this.line} of the answer is longer than the limit of ${this.limit} bytes${
      correlationSuffix(this.correlationId)
    }`
  }
}

/**
 * A line of the answer, before any frame was delivered, is not valid UTF-8, or (with `strictFrames`) is not JSON or
 * not a frame. Not retried.
 *
 * @since 0.1.0
 * @category errors
 */
export class MalformedFrame extends Schema.TaggedError<MalformedFrame>("@genesys-llm/core/MalformedFrame")(
  "MalformedFrame",
  {
    reason: Schema.Literal("invalid-utf8", "not-json", "wrong-shape"),
    line: Schema.Number,
    ...shared
  }
) {
  override get message(): string {
    const what = this.reason === "invalid-utf8"
      ? "is not valid UTF-8"
      : this.reason === "not-json"
      ? "is not JSON"
      : "is not a frame ({content?: string, usage?: {completion_tokens?: number}})"
    return `frame ${this.line} of the answer ${what}${correlationSuffix(this.correlationId)}`
  }
}

/**
 * The whole-call bound passed before the first frame (after it, the break is a `StreamInterrupted` with reason
 * `"call-timeout"`). Only possible when the call timeout is shorter than the first-frame deadline.
 *
 * @since 0.1.0
 * @category errors
 */
export class CallTimeout extends Schema.TaggedError<CallTimeout>("@genesys-llm/core/CallTimeout")("CallTimeout", {
  timeoutMillis: Schema.Number,
  ...shared
}) {
  override get message(): string {
    return `the gateway call did not complete within ${this.timeoutMillis} ms${correlationSuffix(this.correlationId)}`
  }
}

/**
 * The request could not be sent at all for a reason no retry can fix (an invalid URL, a body that cannot be
 * encoded). Transport failures that a retry can fix end as `RetriesExhausted` instead.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportError extends Schema.TaggedError<TransportError>("@genesys-llm/core/TransportError")(
  "TransportError",
  {
    /** What went wrong, in our words. */
    description: Schema.String,
    ...shared
  }
) {
  override get message(): string {
    return `the gateway request could not be sent: ${this.description}`
  }
}

/**
 * The request given to `Gateway.stream` is unusable (an idempotency key that is empty, too long or not printable
 * ASCII). Nothing is sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class GatewayRequestInvalid extends Schema.TaggedError<GatewayRequestInvalid>(
  "@genesys-llm/core/GatewayRequestInvalid"
)("GatewayRequestInvalid", {
  field: Schema.String,
  problem: Schema.String,
  /** Always 0 attempts: nothing was sent. */
  ...sharedBeforeAttempts
}) {
  override get message(): string {
    return `invalid gateway request: ${this.field} ${this.problem}`
  }
}

/**
 * What the token provider can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type AuthError = AuthenticationFailed | TokenRequestFailed

/**
 * Every way a gateway call can fail. A first-frame deadline is not among them: it ends the call with the fallback.
 * Every member has `attempts` and an optional `correlationId`.
 *
 * @since 0.1.0
 * @category errors
 */
export const GatewayError = Schema.Union(
  AuthenticationFailed,
  AuthorizationFailed,
  GatewayRejected,
  RetriesExhausted,
  InvalidAnswer,
  StreamInterrupted,
  FrameTooLarge,
  MalformedFrame,
  CallTimeout,
  TransportError,
  GatewayRequestInvalid
)

/**
 * @since 0.1.0
 * @category errors
 */
export type GatewayError = typeof GatewayError.Type

/**
 * Whether a value is one of the gateway's errors, so that a caller can read `attempts` and `correlationId` of any
 * of them without matching each tag.
 *
 * @since 0.1.0
 * @category errors
 */
export const isGatewayError: (u: unknown) => u is GatewayError = Schema.is(GatewayError)
