/**
 * The Data Action endpoint of `DataActionApi` over the `Pipeline`: as a layer to mount in an Effect HTTP app
 * (`apiLayer`, with its health, readiness and metrics routes, `opsLayer`), or served by Node (`serverLayer`).
 *
 * ```ts
 * HttpApiBuilder.serve(RequestLog.middleware).pipe(
 *   Layer.provide(DataActionServer.apiLayer({ ...DataActionServer.defaults, apiKeys: [Redacted.make(key)] })),
 *   Layer.provide(DataActionServer.opsLayer),
 *   Layer.provide(Lifecycle.layer()),
 *   Layer.provide(NodePipeline.layerConfig()),
 *   Layer.provide(NodeHttpServer.layer(createServer, { port: 8080 }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Fallback, Pipeline, TokenProvider, Validation } from "@genesys-llm/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { createHash, timingSafeEqual } from "node:crypto"
import { createServer } from "node:http"
import {
  Authentication,
  Blocked,
  DataActionApi,
  GatewayFailed,
  InvalidInput,
  type PayloadTooLarge,
  replyPath,
  ReplyRequest,
  ReplyResponse,
  type RequestTimeout,
  TurnConflict,
  Unauthorized,
  UnsupportedMediaType
} from "./DataActionApi.js"
import * as Body from "./internal/body.js"
import * as Lifecycle from "./Lifecycle.js"
import * as Ops from "./Ops.js"
import * as RequestLog from "./RequestLog.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly modelId: string
  /** The instructions the model gets on every turn. */
  readonly systemInstructions: ReadonlyArray<string>
  readonly temperature: number
  readonly maxTokens: number
  /** What to say when the answer broke off; default the pipeline's fallback text. */
  readonly fallbackText: string
  /**
   * The keys a request may carry, in `X-API-Key` or as the password of HTTP Basic; several for rotation. None:
   * no credential is asked for (serve it on loopback only).
   */
  readonly apiKeys: ReadonlyArray<Redacted.Redacted<string>>
  /** The largest body accepted (default 65536 bytes). */
  readonly maxBodyBytes: number
  /** How long a body may take to arrive (default 10 seconds). */
  readonly bodyTimeout: Duration.DurationInput
}

/**
 * @since 0.1.0
 * @category models
 */
export const defaults: Options = {
  modelId: "genesys-default",
  systemInstructions: ["You are a contact-center assistant. Answer the customer in at most two short sentences."],
  temperature: 0.2,
  maxTokens: 256,
  fallbackText: Fallback.defaultText,
  apiKeys: [],
  maxBodyBytes: 65536,
  bodyTimeout: Duration.seconds(10)
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

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest()

/**
 * Whether `given` is one of `keys`: compared as SHA-256 digests (equal lengths) with `timingSafeEqual`, against
 * every key whatever matched, so that neither a key's length nor its position shows in the time taken.
 *
 * @since 0.1.0
 * @category utils
 */
export const isValidKey = (keys: ReadonlyArray<Redacted.Redacted<string>>, given: Redacted.Redacted<string>) => {
  const digest = sha256(Redacted.value(given))
  let found = false
  for (const key of keys) {
    found = timingSafeEqual(sha256(Redacted.value(key)), digest) || found
  }
  return found
}

const unauthorized = new Unauthorized({ message: "missing or wrong credentials (X-API-Key, or HTTP Basic)" })

const AuthenticationLive = (keys: ReadonlyArray<Redacted.Redacted<string>>) => {
  const check = (given: Redacted.Redacted<string>) =>
    keys.length === 0 || isValidKey(keys, given) ? Effect.void : Effect.fail(unauthorized)
  return Layer.succeed(Authentication, {
    apiKey: check,
    basic: (credential) => check(credential.password)
  })
}

const decodeRequest = Schema.decodeUnknownEither(ReplyRequest, { errors: "all", onExcessProperty: "ignore" })

const isJson = (contentType: string | undefined) =>
  contentType !== undefined && contentType.split(";")[0]!.trim().toLowerCase() === "application/json"

const parseJson = (bytes: Buffer): Effect.Effect<unknown, InvalidInput> => {
  const text = bytes.toString("utf8")
  if (text.trim().length === 0) {
    return Effect.fail(new InvalidInput({ message: "the body is empty; expected a JSON object", issues: [] }))
  }
  return Effect.try({
    try: () => JSON.parse(text) as unknown,
    // The parser's own message may quote the body: say what is wrong, not what was sent.
    catch: () => new InvalidInput({ message: "the body is not valid JSON", issues: [] })
  })
}

const decodeBody = (body: unknown): Effect.Effect<ReplyRequest, InvalidInput> =>
  Either.match(decodeRequest(body), {
    onRight: Effect.succeed,
    onLeft: (error) => {
      const { issues, omittedIssues } = Validation.issuesOf(error)
      return Effect.fail(
        new InvalidInput({
          message: `the request is not valid: ${Validation.formatIssues(issues, omittedIssues)}`,
          issues: issues.map((i) => ({ field: i.path, message: i.message })),
          omittedIssues
        })
      )
    }
  })

// The body read and decoded here rather than by HttpApi: refused by its content type before it is read, cut off at
// the size limit and the deadline, and its problems listed in our words (the first few fields, the rest counted,
// kinds of values only, never a parse tree or a value).
const readRequest = (
  request: HttpServerRequest.HttpServerRequest,
  options: Options
): Effect.Effect<ReplyRequest, InvalidInput | PayloadTooLarge | RequestTimeout | UnsupportedMediaType> =>
  isJson(request.headers["content-type"])
    ? Body.read(request, { maxBytes: options.maxBodyBytes, timeout: options.bodyTimeout }).pipe(
      Effect.flatMap(parseJson),
      Effect.flatMap(decodeBody)
    )
    : Effect.fail(new UnsupportedMediaType({ message: "the body must be sent as Content-Type: application/json" }))

const reply = (pipeline: Pipeline.Pipeline["Type"], options: Options, input: ReplyRequest) => {
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
    Effect.tap((completion) =>
      RequestLog.note({ idempotencyKey: completion.idempotencyKey, callStatus: completion.status })
    ),
    Effect.tapError((error) => RequestLog.note({ idempotencyKey: error.idempotencyKey, callStatus: error.status })),
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
}

const DataActionLive = (options: Options) =>
  HttpApiBuilder.group(
    DataActionApi,
    "dataAction",
    (handlers) =>
      Effect.map(Pipeline.Pipeline, (pipeline) =>
        handlers.handleRaw("reply", ({ request }) =>
          Effect.flatMap(readRequest(request, options), (input) =>
            reply(pipeline, options, input))))
  )

/**
 * How many seconds a shed request is told to wait (`Retry-After`).
 *
 * @since 0.1.0
 * @category models
 */
export const retryAfterSeconds = 1

const unavailable = (message: string) =>
  HttpServerResponse.unsafeJson({ _tag: "Unavailable", message }, {
    status: 503,
    headers: { "retry-after": String(retryAfterSeconds), connection: "close" }
  })

const refusals = {
  overloaded: "too many calls in flight; try again shortly",
  draining: "the service is shutting down; try another instance"
} as const

// Calls of the endpoint are counted in flight and shed past the bound, before their body is read; a call cut by
// the drain deadline is interrupted, which the server answers 503 (the pipeline records it as cancelled).
const Admission = HttpApiBuilder.middleware(
  Effect.map(
    Lifecycle.Lifecycle,
    (lifecycle) => (app: HttpApp.Default): HttpApp.Default =>
      Effect.flatMap(
        HttpServerRequest.HttpServerRequest,
        (request) =>
          request.method !== "POST" || request.url.split("?")[0] !== replyPath
            ? app
            : lifecycle.admit(app).pipe(
              Effect.map((outcome) =>
                outcome._tag === "Admitted" ? outcome.value : unavailable(refusals[outcome.reason])
              )
            )
      )
  )
)

/**
 * The API over the `Pipeline` in context, its calls admitted by the `Lifecycle` in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const apiLayer = (
  options: Options = defaults
): Layer.Layer<HttpApi.Api, never, Pipeline.Pipeline | Lifecycle.Lifecycle> =>
  HttpApiBuilder.api(DataActionApi).pipe(
    Layer.provide(DataActionLive(options)),
    Layer.provide(AuthenticationLive(options.apiKeys)),
    Layer.provide(Admission)
  )

/**
 * Asks the `TokenProvider` for a gateway token at the start, again until it gets one (every 2 seconds, then up
 * to every 30), and tells the `Lifecycle` once it has: `/readyz` is ready from then on.
 *
 * @since 0.1.0
 * @category layers
 */
export const warmUpLayer: Layer.Layer<never, never, TokenProvider.TokenProvider | Lifecycle.Lifecycle> = Layer
  .scopedDiscard(
    Effect.gen(function*() {
      const tokens = yield* TokenProvider.TokenProvider
      const lifecycle = yield* Lifecycle.Lifecycle
      yield* tokens.get.pipe(
        Effect.tapError((error) => Effect.logWarning(`no gateway token yet: ${error._tag}`)),
        Effect.retry(Schedule.exponential("2 seconds").pipe(Schedule.union(Schedule.spaced("30 seconds")))),
        Effect.zipRight(lifecycle.markTokenObtained),
        Effect.forkScoped
      )
    })
  )

/**
 * `/healthz`, `/readyz` and `/metrics` (`Ops`).
 *
 * @since 0.1.0
 * @category layers
 */
export const opsLayer = Ops.layer

/**
 * Where Node listens.
 *
 * @since 0.1.0
 * @category models
 */
export interface Listen {
  readonly host: string
  readonly port: number
}

/**
 * The API, its operations routes and the request log served by Node on `host:port` (port 0 picks a free one), over
 * the pipeline's services in context; the `HttpServer` and the `Lifecycle` stay available (to print the address,
 * and to drain).
 *
 * @since 0.1.0
 * @category layers
 */
export const serverLayer = (
  listen: Listen,
  options: Options = defaults,
  lifecycle: Lifecycle.Options = {}
): Layer.Layer<
  HttpServer.HttpServer | Lifecycle.Lifecycle,
  HttpServerError.ServeError,
  Pipeline.Pipeline | TokenProvider.TokenProvider
> =>
  HttpApiBuilder.serve(RequestLog.middleware).pipe(
    Layer.provide(apiLayer(options)),
    Layer.provide(opsLayer),
    Layer.provide(warmUpLayer),
    Layer.provideMerge(Lifecycle.layer(lifecycle)),
    Layer.provideMerge(NodeHttpServer.layer(createServer, listen))
  )
