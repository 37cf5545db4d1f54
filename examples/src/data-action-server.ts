/**
 * An HTTP service that a Genesys Cloud Web Services Data Action calls from an Architect flow: one customer turn in,
 * the model's reply out, both as flat JSON. Built with `@effect/platform` HttpApi and served by Node.
 *
 *   pnpm tsx examples/src/data-action-server.ts
 *
 * `POST /data-action/reply` takes `{conversationId, turn, customerMessage, history?}` and answers
 * `{reply, status, idempotencyKey}`. The idempotency key is derived from the conversation id and the turn, so when
 * Architect retries the action (a timeout, a flow retry loop) the gateway replays the first answer instead of
 * generating, and billing, a second one. The contracts and the action's configuration, ready to paste, are in
 * examples/data-action/README.md.
 *
 * Settings come from the environment: `HOST` (default 127.0.0.1), `PORT` (8080), `DATA_ACTION_API_KEY` (when set,
 * every request must carry it in `X-API-Key`), `LLM_MODEL_ID` (genesys-default). With `GENESYS_CLIENT_ID` set, the
 * pipeline is configured from the environment (`NodePipeline.layerConfig`); without it, the gateway simulator is
 * started in this process.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Fallback, IdGenerator, Pipeline, Prompt, Validation } from "@genesys-llm/core"
import { NodePipeline } from "@genesys-llm/node"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { createHash, timingSafeEqual } from "node:crypto"
import { createServer } from "node:http"
import { runIfMain } from "./internal/main.js"
import { pipelineOnSimulator } from "./internal/simulated.js"

// -----------------------------------------------------------------------------------------------------------------
// The contract
// -----------------------------------------------------------------------------------------------------------------

// Messages of refused input name the field and the kind of value, never the value: a card number or a prompt sent in
// the wrong field must not come back in the answer (nor in a log of it).
const expected = (what: string) => ({
  message: (issue: ParseResult.ParseIssue) => ({
    message: `expected ${what}, got ${Validation.describeValue(issue.actual)}`,
    override: true
  })
})

/**
 * The most history messages a request may carry: with the customer's message, the prompt's hard bound of context
 * messages. The pipeline's context window keeps the newest of them (25 in all, by default).
 */
export const maxHistoryMessages = Prompt.defaultLimits.maxContextMessages - 1

const History = Schema.Array(Prompt.ChatMessage)

/**
 * Earlier messages of the conversation, oldest first. Architect hands over flat values, so the Data Action sends
 * them as one string holding a JSON array; other callers may send the array itself. An empty string is no history.
 * The number of messages is checked before any of them is decoded, against what the caller sent.
 */
const HistoryInput = Schema.transformOrFail(Schema.Unknown, History, {
  strict: true,
  decode: (input, _, ast) => {
    let items: unknown = input
    if (typeof input === "string") {
      try {
        items = input === "" ? [] : JSON.parse(input)
      } catch {
        return ParseResult.fail(new ParseResult.Type(ast, input, "history is not valid JSON"))
      }
    }
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

export class ReplyRequest extends Schema.Class<ReplyRequest>("ReplyRequest")({
  // Trimmed, not refused, when Architect hands over surrounding spaces.
  conversationId: Schema.Trim.pipe(Schema.minLength(1), Schema.maxLength(IdGenerator.maxConversationIdLength))
    .annotations(expected(`a non-empty string of at most ${IdGenerator.maxConversationIdLength} characters`)),
  turn: Schema.NonNegativeInt.annotations(expected("an integer of at least 0")),
  customerMessage: Schema.Trim.pipe(Schema.minLength(1)).annotations(expected("a non-empty string")),
  // Exact: the key is absent or holds a history (a JSON body never holds `undefined`).
  history: Schema.optionalWith(HistoryInput, { exact: true })
}, expected("a JSON object")) {}

export const ReplyStatus = Schema.Literal("success", "fallback", "error")

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
 */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  message: Schema.String,
  issues: Schema.Array(Schema.Struct({ field: Schema.String, message: Schema.String })),
  omittedIssues: Schema.optionalWith(Schema.NonNegativeInt, { default: () => 0 })
}, HttpApiSchema.annotations({ status: 400 })) {}

/** The safety policy refused to send the message; `ruleIds` say why (the matched text is never repeated). */
export class Blocked extends Schema.TaggedError<Blocked>()("Blocked", {
  message: Schema.String,
  ruleIds: Schema.Array(Schema.String)
}, HttpApiSchema.annotations({ status: 422 })) {}

/** This conversation turn was already answered for a different input. */
export class TurnConflict extends Schema.TaggedError<TurnConflict>()("TurnConflict", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 409 })) {}

/** The gateway could not answer (rejected, unreachable, credentials refused). */
export class GatewayFailed extends Schema.TaggedError<GatewayFailed>()("GatewayFailed", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 502 })) {}

export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 401 })) {}

/** The shared secret of the Data Actions integration, sent in `X-API-Key`. */
export class ApiKey extends HttpApiMiddleware.Tag<ApiKey>()("ApiKey", {
  failure: Unauthorized,
  security: { apiKey: HttpApiSecurity.apiKey({ key: "X-API-Key", in: "header" }) }
}) {}

export class DataActionApi extends HttpApi.make("genesys-data-action").add(
  HttpApiGroup.make("dataAction").add(
    HttpApiEndpoint.post("reply", "/data-action/reply")
      .setPayload(ReplyRequest)
      .addSuccess(ReplyResponse)
      .addError(InvalidInput)
      .addError(Blocked)
      .addError(TurnConflict)
      .addError(GatewayFailed)
  ).middleware(ApiKey)
) {}

// -----------------------------------------------------------------------------------------------------------------
// The implementation
// -----------------------------------------------------------------------------------------------------------------

export interface Options {
  readonly modelId: string
  /** The instructions the model gets on every turn. */
  readonly systemInstructions: ReadonlyArray<string>
  readonly temperature: number
  readonly maxTokens: number
  /** What to say when the answer broke off; default the pipeline's fallback text. */
  readonly fallbackText: string
  /** When set, requests must carry it in `X-API-Key`. */
  readonly apiKey: Option.Option<Redacted.Redacted<string>>
}

export const defaults: Options = {
  modelId: "genesys-default",
  systemInstructions: ["You are a contact-center assistant. Answer the customer in at most two short sentences."],
  temperature: 0.2,
  maxTokens: 256,
  fallbackText: Fallback.defaultText,
  apiKey: Option.none()
}

// The prompt's context is the history, then the customer's message: map a failing prompt path back to the field
// of the request it came from.
const fieldOf = (path: string, historyLength: number): string => {
  const match = /^context\[(\d+)\](.*)$/.exec(path)
  if (match === null) return path === "context" ? "history" : path
  const index = Number(match[1])
  return index < historyLength ? `history[${index}]${match[2]}` : "customerMessage"
}

const toHttpError = (error: Pipeline.PipelineError, historyLength: number) => {
  const cause = error.cause
  switch (cause._tag) {
    case "PromptValidationError":
      return new InvalidInput({
        message: "the request breaks the prompt's limits",
        issues: cause.issues.map((i) => ({ field: fieldOf(i.path, historyLength), message: i.message })),
        omittedIssues: cause.omittedIssues
      })
    case "ContextOverflowError":
      return new InvalidInput({
        message: cause.message,
        issues: [{ field: "customerMessage", message: "too long for the model's budget" }]
      })
    case "InvalidKeyInput":
      return new InvalidInput({ message: cause.message, issues: [{ field: cause.field, message: cause.problem }] })
    case "SafetyViolation":
      return new Blocked({
        message: `not sent to the model: the safety policy blocks it (${cause.ruleIds.join(", ")})`,
        ruleIds: cause.ruleIds
      })
    case "GatewayRejected":
      if (cause.status === 422) {
        return new TurnConflict({
          message: "this conversation turn was already answered for a different input; send a new turn number"
        })
      }
      return new GatewayFailed({ message: cause.message })
    default:
      return new GatewayFailed({ message: cause.message })
  }
}

const sha256 = (text: string) => createHash("sha256").update(text).digest()

const ApiKeyLive = (expected: Option.Option<Redacted.Redacted<string>>) =>
  Layer.succeed(ApiKey, {
    apiKey: (given) =>
      Option.match(expected, {
        onNone: () => Effect.void,
        // Compared as hashes, in constant time: the key's length does not leak either.
        onSome: (key) =>
          timingSafeEqual(sha256(Redacted.value(key)), sha256(Redacted.value(given)))
            ? Effect.void
            : Effect.fail(new Unauthorized({ message: "missing or wrong X-API-Key" }))
      })
  })

const decodeRequest = Schema.decodeUnknownEither(ReplyRequest, { errors: "all", onExcessProperty: "ignore" })

// The body decoded here rather than by HttpApi, whose decoding error lists every problem and repeats the values:
// this one lists the first few, counts the rest, and names fields and kinds of values only.
const readRequest = (request: HttpServerRequest.HttpServerRequest) =>
  request.json.pipe(
    Effect.mapError(() => new InvalidInput({ message: "the body is not valid JSON", issues: [] })),
    Effect.flatMap((body) =>
      Either.match(decodeRequest(body), {
        onRight: Effect.succeed,
        onLeft: (error) => {
          const { issues, omittedIssues } = Validation.issuesOf(error)
          const fields = issues.map((i) => ({ field: i.path, message: i.message }))
          return Effect.fail(
            new InvalidInput({
              message: `the request is not valid: ${Validation.formatIssues(issues, omittedIssues)}`,
              issues: fields,
              omittedIssues
            })
          )
        }
      })
    )
  )

const DataActionLive = (options: Options) =>
  HttpApiBuilder.group(DataActionApi, "dataAction", (handlers) =>
    Effect.gen(function*() {
      const pipeline = yield* Pipeline.Pipeline
      return handlers.handleRaw("reply", ({ request }) =>
        Effect.flatMap(readRequest(request), (input) => {
          const history = input.history ?? []
          return pipeline.run(
            {
              systemInstructions: options.systemInstructions,
              context: [...history, { role: "user", content: input.customerMessage }],
              temperature: options.temperature,
              maxTokens: options.maxTokens,
              modelId: options.modelId
            },
            // The same conversation and turn give the same key, on every retry of the action.
            { conversation: { id: input.conversationId, turn: input.turn } }
          ).pipe(
            Effect.map((completion) =>
              new ReplyResponse({
                // Half an answer is worse than none in a conversation: a broken answer says the fallback text.
                reply: completion.status === "error" ? options.fallbackText : completion.text,
                status: completion.status,
                idempotencyKey: completion.idempotencyKey
              })
            ),
            Effect.mapError((error) => toHttpError(error, history.length))
          )
        }))
    }))

/** The API over the `Pipeline` in context. */
export const apiLayer = (options: Options = defaults): Layer.Layer<HttpApi.Api, never, Pipeline.Pipeline> =>
  HttpApiBuilder.api(DataActionApi).pipe(
    Layer.provide(DataActionLive(options)),
    Layer.provide(ApiKeyLive(options.apiKey))
  )

/** The API served by Node on `host:port` (port 0 picks a free one); the `HttpServer` stays available. */
export const serverLayer = (listen: { readonly host: string; readonly port: number }, options: Options = defaults) =>
  HttpApiBuilder.serve(HttpMiddleware.logger).pipe(
    Layer.provide(apiLayer(options)),
    Layer.provideMerge(NodeHttpServer.layer(createServer, listen))
  )

// -----------------------------------------------------------------------------------------------------------------
// Running it
// -----------------------------------------------------------------------------------------------------------------

const settings = Config.all({
  host: Config.string("HOST").pipe(Config.withDefault("127.0.0.1")),
  port: Config.port("PORT").pipe(Config.withDefault(8080)),
  apiKey: Config.option(Config.redacted("DATA_ACTION_API_KEY")),
  modelId: Config.string("LLM_MODEL_ID").pipe(Config.withDefault(defaults.modelId)),
  genesysClientId: Config.option(Config.string("GENESYS_CLIENT_ID"))
})

export const program = Effect.gen(function*() {
  const { apiKey, genesysClientId, host, modelId, port } = yield* settings
  const options: Options = { ...defaults, modelId, apiKey }
  const pipeline: Layer.Layer<
    Pipeline.Pipeline,
    NodePipeline.LayerError | ConfigError.ConfigError | GatewaySimulator.SimulatorError
  > = Option.isSome(genesysClientId)
    ? NodePipeline.layerConfig()
    : pipelineOnSimulator({ fallbackText: options.fallbackText }).pipe(Layer.provide(GatewaySimulator.layer()))
  yield* Effect.gen(function*() {
    const url = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(address))
    yield* Console.log(
      `Data Action endpoint: POST ${url}/data-action/reply` +
        (Option.isSome(genesysClientId) ? "" : "  (answers from the in-process gateway simulator)") +
        `\nTry it:\n  curl -s ${url}/data-action/reply -H 'Content-Type: application/json'` +
        (Option.isSome(apiKey) ? ` -H "X-API-Key: $DATA_ACTION_API_KEY"` : "") +
        ` -d '{"conversationId":"c-1","turn":1,"customerMessage":"Where is my order?"}'` +
        "\nStop with Ctrl-C."
    )
    return yield* Effect.never
  }).pipe(Effect.provide(serverLayer({ host, port }, options)), Effect.provide(pipeline))
})

runIfMain(import.meta, program)
