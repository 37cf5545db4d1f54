/**
 * A real local HTTP server speaking the gateway contract: client-credentials tokens, the streaming chat route
 * with idempotency and rate limits, and fault injection through options or a control API.
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Validation from "@genesys-llm/core/Validation"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Http from "node:http"
import * as Fault from "./Fault.js"
import * as Server from "./internal/server.js"
import * as State from "./internal/state.js"

const PositiveInt = Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))

const Limits = Schema.partialWith(
  Schema.Struct({
    maxSystemInstructions: Schema.Int,
    maxSystemInstructionLength: Schema.Int,
    maxContextMessages: Schema.Int,
    maxContextMessageLength: Schema.Int,
    minTemperature: Schema.Number,
    maxTemperature: Schema.Number,
    minMaxTokens: Schema.Int,
    maxMaxTokens: Schema.Int
  }),
  { exact: true }
)

const Secret = Schema.Union(Schema.RedactedFromSelf(Schema.String), Schema.Redacted(Schema.String))

/**
 * Every knob of the simulator, with its default. The encoded form (`OptionsInput`) is plain JSON apart from
 * `clientSecret`, which may also be given as a `Redacted`.
 *
 * @since 0.1.0
 * @category models
 */
export const Options = Schema.Struct({
  /** The interface to listen on. */
  host: Schema.optionalWith(Schema.String, { default: () => "127.0.0.1" }),
  /** The port; 0 picks a free one (the bound URL is in `url`). */
  port: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 65535)), { default: () => 0 }),
  /** The client id `/oauth/token` accepts. */
  clientId: Schema.optionalWith(Schema.NonEmptyString, { default: () => "simulator-client" }),
  /** The client secret `/oauth/token` accepts. */
  clientSecret: Schema.optionalWith(Secret, { default: () => Redacted.make("simulator-secret") }),
  /** `expires_in` of issued tokens; they stop working after it, on the server's clock. */
  tokenLifetimeSeconds: Schema.optionalWith(PositiveInt, { default: () => 86_400 }),
  /** Chat requests a token may make in a 60-second window before getting 429. */
  requestsPerMinute: Schema.optionalWith(PositiveInt, { default: () => 300 }),
  /** Milliseconds between frames, on the server's clock; 0 sends them back to back. */
  paceMs: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 600_000)), { default: () => 0 }),
  /** The most characters a content frame carries (frames are cut at word boundaries where possible). */
  frameChars: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 1_048_576)), { default: () => 16 }),
  /** A fixed reply instead of the one derived from the prompt; still cut to `maxTokens`. */
  replyText: Schema.optional(Schema.String),
  /**
   * A reply of exactly this many ASCII bytes, generated as it is sent (memory stays constant). For benchmarks:
   * it ignores `maxTokens`; the usage frame reports `ceil(bytes / 4)`.
   */
  replyBytes: Schema.optional(Schema.Int.pipe(Schema.greaterThanOrEqualTo(0))),
  /** The chat route. */
  chatPath: Schema.optionalWith(Schema.TemplateLiteral("/", Schema.String), {
    default: () => "/api/v2/ai/llm-gateway/chat" as const
  }),
  /** Validation limits for chat bodies (the specification's by default). */
  limits: Schema.optional(Limits),
  /** The largest request body read, in bytes. */
  maxBodyBytes: Schema.optionalWith(PositiveInt, { default: () => 1_048_576 }),
  /** Faults queued at start (and again after a reset). */
  faults: Schema.optionalWith(Schema.Array(Fault.Fault), { default: () => [] }),
  /** The probability (0..1) that a request with no queued fault draws one from `faultPool`. */
  faultRate: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 0 }),
  /** What a fault rate draws from. */
  faultPool: Schema.optionalWith(Schema.Array(Fault.Fault), { default: () => Fault.defaultPool }),
  /** The seed of the fault rate's random source. */
  seed: Schema.optionalWith(Schema.Int, { default: () => 0 }),
  /** The request log keeps this many latest requests. */
  maxRequestLog: Schema.optionalWith(PositiveInt, { default: () => 10_000 }),
  /** Idempotency keys remembered; past it the oldest half is forgotten. */
  maxIdempotencyKeys: Schema.optionalWith(PositiveInt, { default: () => 10_000 })
}).annotations({ identifier: "GatewaySimulatorOptions" })

/**
 * The options with every default filled in.
 *
 * @since 0.1.0
 * @category models
 */
export type Options = typeof Options.Type

/**
 * The options as a caller writes them: every field optional.
 *
 * @since 0.1.0
 * @category models
 */
export type OptionsInput = typeof Options.Encoded

/**
 * One request the simulator received (the control routes are not logged). Holds no secret, token or body:
 * `bodySha256` is the hex sha256 of a chat body (token bodies, which hold the client secret, are not hashed).
 * `outcome` is a short text: `token issued`, `invalid credentials`, `missing token`, `expired token`,
 * `rate limited`, `invalid payload`, `idempotency key reused`, `fault`, `hung up`, `streaming`, `completed`,
 * `reset`, `stalled`, `closed without usage`, `client disconnected`, ...
 *
 * @since 0.1.0
 * @category models
 */
export const RequestRecord = Schema.Struct({
  id: Schema.Int,
  receivedAt: Schema.String,
  method: Schema.String,
  path: Schema.String,
  correlationId: Schema.String,
  idempotencyKey: Schema.NullOr(Schema.String),
  bodySha256: Schema.NullOr(Schema.String),
  status: Schema.NullOr(Schema.Int),
  fault: Schema.NullOr(Schema.String),
  outcome: Schema.String,
  replayed: Schema.Boolean,
  frames: Schema.NullOr(Schema.Int)
}).annotations({ identifier: "RequestRecord" })

/**
 * @since 0.1.0
 * @category models
 */
export type RequestRecord = typeof RequestRecord.Type

/**
 * The fault settings in force: the queue, the rate, its pool and seed.
 *
 * @since 0.1.0
 * @category models
 */
export const FaultSettings = Schema.Struct({
  queue: Schema.Array(Fault.Fault),
  rate: Schema.Number,
  pool: Schema.Array(Fault.Fault),
  seed: Schema.Int
})

/**
 * @since 0.1.0
 * @category models
 */
export type FaultSettings = typeof FaultSettings.Type

/**
 * The in-process twin of the control routes.
 *
 * @since 0.1.0
 * @category models
 */
export interface Control {
  /** Queues faults, applied to the next matching requests in order. */
  readonly enqueue: (...faults: ReadonlyArray<Fault.Fault>) => Effect.Effect<void>
  /** Sets the fault rate (and optionally its pool and a new seed). */
  readonly setRate: (setting: Fault.RateSetting) => Effect.Effect<void>
  readonly faults: Effect.Effect<FaultSettings>
  /** Back to the start: the options' faults and rate, no idempotency keys, no rate windows, an empty log. */
  readonly reset: Effect.Effect<void>
  /** The request log, oldest first. */
  readonly requests: Effect.Effect<ReadonlyArray<RequestRecord>>
  /** Forgets every issued token (a reset keeps them). */
  readonly revokeTokens: Effect.Effect<void>
}

/**
 * The client credentials the simulator accepts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Credentials {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
}

/**
 * A running simulator. `url` serves both the login routes (`/oauth/token`) and the API routes, so it is the
 * login URL and the API URL at once.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The base URL, `http://host:port`, without a trailing slash. */
  readonly url: string
  readonly tokenUrl: string
  readonly chatUrl: string
  readonly credentials: Credentials
  readonly options: Options
  readonly control: Control
}

/**
 * @since 0.1.0
 * @category context
 */
export class GatewaySimulator extends Context.Tag("@genesys-llm/simulator/GatewaySimulator")<
  GatewaySimulator,
  Service
>() {}

/**
 * One invalid option: its path (`requestsPerMinute`, `faults[0].kind`) and what is wrong with it.
 *
 * @since 0.1.0
 * @category models
 */
export const OptionIssue = Schema.Struct({ option: Schema.String, message: Schema.String })

/**
 * @since 0.1.0
 * @category models
 */
export type OptionIssue = typeof OptionIssue.Type

/**
 * The simulator could not start: its options are invalid (`issues` names each one), or it could not listen.
 *
 * @since 0.1.0
 * @category errors
 */
export class SimulatorError extends Schema.TaggedError<SimulatorError>("@genesys-llm/simulator/SimulatorError")(
  "SimulatorError",
  {
    reason: Schema.Literal("InvalidOptions", "Listen"),
    message: Schema.String,
    issues: Schema.optionalWith(Schema.Array(OptionIssue), { default: () => [] }),
    cause: Schema.optional(Schema.Defect)
  }
) {}

/**
 * Decodes options, naming every invalid one. The client secret's value never appears in a message.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decodeOptions = (input: unknown): Effect.Effect<Options, SimulatorError> =>
  Schema.decodeUnknown(Options, { errors: "all", onExcessProperty: "error" })(input).pipe(
    Effect.mapError((error) => {
      const all = ParseResult.ArrayFormatter.formatErrorSync(error)
      // An optional field also tries `undefined`; that alternative's failure only repeats the real one.
      const issues = all.filter((issue) =>
        !(issue.message.startsWith("Expected undefined") && issue.path.length === 1 &&
          all.some((other) => other !== issue && other.path[0] === issue.path[0]))
      ).map((issue) => ({
        option: Validation.formatPath(issue.path),
        message: issue.path[0] === "clientSecret" ? "must be a string" : issue.message
      }))
      const unique = [...new Map(issues.map((issue) => [`${issue.option}: ${issue.message}`, issue])).entries()]
      return new SimulatorError({
        reason: "InvalidOptions",
        message: `invalid simulator options: ${unique.map(([line]) => line).join("; ")}`,
        issues: unique.map(([, issue]) => issue)
      })
    })
  )

const formatUrl = (host: string, port: number) => {
  const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host
  return `http://${shown.includes(":") ? `[${shown}]` : shown}:${port}`
}

/**
 * Starts a simulator in the current scope; it stops when the scope closes (open streams, stalled ones included,
 * are cut). Time (token expiry, rate windows, delays, pacing) comes from the `Clock` of the context it starts
 * in: under `TestClock`, advance it with `TestClock.adjust`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fn("GatewaySimulator.make")(function*(input: OptionsInput = {}) {
  const options = yield* decodeOptions(input)
  const state = yield* State.make({
    initial: { queue: options.faults, rate: options.faultRate, pool: options.faultPool, seed: options.seed },
    requestsPerMinute: options.requestsPerMinute,
    maxRequestLog: options.maxRequestLog,
    maxIdempotencyKeys: options.maxIdempotencyKeys
  })
  const app = Server.make({
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds,
    requestsPerMinute: options.requestsPerMinute,
    paceMs: options.paceMs,
    frameChars: options.frameChars,
    replyText: options.replyText,
    replyBytes: options.replyBytes,
    chatPath: options.chatPath,
    validation: Validation.make(options.limits),
    maxBodyBytes: options.maxBodyBytes
  }, state)

  const nodeServer = Http.createServer({ noDelay: true })
  const server = yield* NodeHttpServer.make(() => nodeServer, { host: options.host, port: options.port }).pipe(
    Effect.mapError((error) =>
      new SimulatorError({
        reason: "Listen",
        message: `could not listen on ${options.host}:${options.port}: ${
          error.cause instanceof Error ? error.cause.message : "unknown error"
        }`,
        cause: error.cause
      })
    )
  )
  // Runs before the server's own finalizer, which waits for every connection: a stalled stream would
  // otherwise hold the scope open forever.
  yield* Effect.addFinalizer(() => Effect.sync(() => nodeServer.closeAllConnections()))
  yield* HttpServer.serveEffect(app).pipe(Effect.provideService(HttpServer.HttpServer, server))

  const address = server.address
  const url = address._tag === "TcpAddress" ? formatUrl(address.hostname, address.port) : `http://unix:${address.path}`
  const control: Control = {
    enqueue: (...faults) => state.enqueue(faults),
    setRate: state.setRate,
    faults: state.faultConfig,
    reset: state.reset,
    requests: state.records,
    revokeTokens: state.revokeTokens
  }
  return {
    url,
    tokenUrl: `${url}/oauth/token`,
    chatUrl: `${url}${options.chatPath}`,
    credentials: { clientId: options.clientId, clientSecret: options.clientSecret },
    options,
    control
  } satisfies Service
})

/**
 * A simulator for the lifetime of the layer, on a free loopback port unless the options say otherwise.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: OptionsInput = {}): Layer.Layer<GatewaySimulator, SimulatorError> =>
  Layer.scoped(GatewaySimulator, make(options))

/**
 * Runs a simulator until interrupted: prints its URL as the first line of stdout, then waits. The `bin` and the
 * command line's `simulator` command run this under `NodeRuntime.runMain`, which interrupts it on SIGINT or
 * SIGTERM and so closes the server.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = (options: OptionsInput = {}): Effect.Effect<never, SimulatorError> =>
  Effect.scoped(
    Effect.gen(function*() {
      const simulator = yield* make(options)
      yield* Console.log(simulator.url)
      return yield* Effect.never
    })
  )
