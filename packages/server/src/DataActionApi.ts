/**
 * The contract of the Data Action endpoint, as an `@effect/platform` `HttpApi`: `POST /data-action/reply` takes
 * `{conversationId, turn, customerMessage, history?}` and answers `{reply, status, idempotencyKey}`, or one of the
 * errors below with its status. examples/data-action/README.md is the admin's page for it.
 *
 * @since 0.1.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import { IdGenerator, Prompt, Validation } from "@genesys-llm/core"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

// Messages of refused input name the field and the kind of value, never the value: a card number or a prompt sent in
// the wrong field must not come back in the answer (nor in a log of it).
const expected = (what: string) => ({
  message: (issue: ParseResult.ParseIssue) => ({
    message: `expected ${what}, got ${Validation.describeValue(issue.actual)}`,
    override: true
  })
})

/**
 * The path of the endpoint.
 *
 * @since 0.1.0
 * @category models
 */
export const replyPath = "/data-action/reply"

/**
 * The most history messages a request may carry: with the customer's message, the prompt's hard bound of context
 * messages. The pipeline's context window keeps the newest of them (25 in all, by default).
 *
 * @since 0.1.0
 * @category models
 */
export const maxHistoryMessages = Prompt.defaultLimits.maxContextMessages - 1

const History = Schema.Array(Prompt.ChatMessage)

const parseHistory = (input: unknown): { readonly items: unknown } | { readonly problem: string } => {
  if (typeof input !== "string") return { items: input }
  if (input === "") return { items: [] }
  try {
    return { items: JSON.parse(input) }
  } catch {
    return { problem: "history is not valid JSON" }
  }
}

/**
 * Earlier messages of the conversation, oldest first. Architect hands over flat values, so the Data Action sends
 * them as one string holding a JSON array; other callers may send the array itself. An empty string is no history.
 * The number of messages is checked before any of them is decoded, against what the caller sent.
 */
const HistoryInput = Schema.transformOrFail(Schema.Unknown, History, {
  strict: true,
  decode: (input, _, ast) => {
    const parsed = parseHistory(input)
    if ("problem" in parsed) return ParseResult.fail(new ParseResult.Type(ast, input, parsed.problem))
    const items = parsed.items
    if (!Array.isArray(items)) {
      return ParseResult.fail(
        new ParseResult.Type(
          ast,
          input,
          `expected a JSON array of messages, or a string holding one, got ${Validation.describeValue(items)}`
        )
      )
    }
    return items.length <= maxHistoryMessages
      ? ParseResult.succeed(items)
      : ParseResult.fail(
        new ParseResult.Type(ast, input, `history must have at most ${maxHistoryMessages} items, got ${items.length}`)
      )
  },
  encode: ParseResult.succeed
})

/**
 * @since 0.1.0
 * @category models
 */
export class ReplyRequest extends Schema.Class<ReplyRequest>("ReplyRequest")({
  // Trimmed, not refused, when Architect hands over surrounding spaces.
  conversationId: Schema.Trim.pipe(Schema.minLength(1), Schema.maxLength(IdGenerator.maxConversationIdLength))
    .annotations(expected(`a non-empty string of at most ${IdGenerator.maxConversationIdLength} characters`)),
  turn: Schema.NonNegativeInt.annotations(expected("an integer of at least 0")),
  customerMessage: Schema.Trim.pipe(Schema.minLength(1)).annotations(expected("a non-empty string")),
  // Exact: the key is absent or holds a history (a JSON body never holds `undefined`).
  history: Schema.optionalWith(HistoryInput, { exact: true })
}, expected("a JSON object")) {}

/**
 * @since 0.1.0
 * @category models
 */
export const ReplyStatus = Schema.Literal("success", "fallback", "error")

/**
 * @since 0.1.0
 * @category models
 */
export class ReplyResponse extends Schema.Class<ReplyResponse>("ReplyResponse")({
  /** What to say to the customer: the model's answer, or the fallback text. */
  reply: Schema.String,
  /** `success`: the model answered; `fallback`: it was too slow; `error`: its answer broke off. */
  status: ReplyStatus,
  /** The key the gateway saw: the same for a retried turn. */
  idempotencyKey: Schema.String
}) {}

/**
 * The body is not JSON, not the request's shape, or breaks the prompt's rules; `issues` name the first fields at
 * fault (at most `Validation.maxReportedIssues`), `omittedIssues` counts the others.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  message: Schema.String,
  issues: Schema.Array(Schema.Struct({ field: Schema.String, message: Schema.String })),
  omittedIssues: Schema.optionalWith(Schema.NonNegativeInt, { default: () => 0 })
}, HttpApiSchema.annotations({ status: 400 })) {}

/**
 * The safety policy refused to send the message; `ruleIds` say why (the matched text is never repeated).
 *
 * @since 0.1.0
 * @category errors
 */
export class Blocked extends Schema.TaggedError<Blocked>()("Blocked", {
  message: Schema.String,
  ruleIds: Schema.Array(Schema.String)
}, HttpApiSchema.annotations({ status: 422 })) {}

/**
 * This conversation turn was already answered for a different input.
 *
 * @since 0.1.0
 * @category errors
 */
export class TurnConflict extends Schema.TaggedError<TurnConflict>()("TurnConflict", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 409 })) {}

/**
 * The gateway could not answer (rejected, unreachable, credentials refused).
 *
 * @since 0.1.0
 * @category errors
 */
export class GatewayFailed extends Schema.TaggedError<GatewayFailed>()("GatewayFailed", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 502 })) {}

/**
 * The body is larger than the service accepts; refused as soon as the limit is passed, without reading the rest.
 *
 * @since 0.1.0
 * @category errors
 */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 413 })) {}

/**
 * The body did not arrive within the deadline.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestTimeout extends Schema.TaggedError<RequestTimeout>()("RequestTimeout", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 408 })) {}

/**
 * The body is not sent as `application/json`.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()("UnsupportedMediaType", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 415 })) {}

/**
 * Missing or wrong credentials (`X-API-Key`, or HTTP Basic).
 *
 * @since 0.1.0
 * @category errors
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 401 })) {}

/**
 * Too many calls in flight, or the service is shutting down: try again after `Retry-After` seconds.
 *
 * @since 0.1.0
 * @category errors
 */
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 503 })) {}

/**
 * The credentials of the Data Actions integration: a key in `X-API-Key` (User Defined credentials), or HTTP Basic
 * whose password is a key (Basic Auth credentials; the user name is not checked).
 *
 * @since 0.1.0
 * @category security
 */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("@genesys-llm/server/Authentication", {
  failure: Unauthorized,
  security: {
    apiKey: HttpApiSecurity.apiKey({ key: "X-API-Key", in: "header" }),
    basic: HttpApiSecurity.basic
  }
}) {}

/**
 * @since 0.1.0
 * @category api
 */
export class DataActionApi extends HttpApi.make("genesys-data-action").add(
  HttpApiGroup.make("dataAction").add(
    HttpApiEndpoint.post("reply", replyPath)
      .setPayload(ReplyRequest)
      .addSuccess(ReplyResponse)
      .addError(InvalidInput)
      .addError(Blocked)
      .addError(TurnConflict)
      .addError(GatewayFailed)
      .addError(PayloadTooLarge)
      .addError(RequestTimeout)
      .addError(UnsupportedMediaType)
      .addError(Unavailable)
  ).middleware(Authentication)
) {}
