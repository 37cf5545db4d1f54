/**
 * `genesys-llm serve`: the Data Action endpoint of `@genesys-llm/server` over the pipeline, on the network. It
 * prints its URL as the first line of stdout, logs one JSON line per request on stderr, and on SIGTERM or SIGINT
 * drains (no new calls, `/readyz` 503, the calls in flight finish up to `--drain-timeout`, the audit log and the
 * webhook outbox are flushed) and exits 0.
 *
 * @since 0.1.0
 */
import * as HttpServer from "@effect/platform/HttpServer"
import type { Pipeline, TokenProvider } from "@genesys-llm/core"
import { NodePipeline } from "@genesys-llm/node"
import { DataActionServer, Lifecycle } from "@genesys-llm/server"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as HashSet from "effect/HashSet"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Chat from "./Chat.js"
import * as ExitCode from "./ExitCode.js"
import * as Commands from "./internal/commands.js"
import * as Output from "./internal/output.js"
import * as Spec from "./internal/spec.js"

/**
 * The parsed flags of `serve`.
 *
 * @since 0.1.0
 * @category models
 */
export type Flags = Spec.Parsed<typeof Commands.serve.flags, {}>

/**
 * What `serve` runs with, once flags, environment and defaults are merged and checked.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly host: string
  readonly port: number
  readonly apiKeys: ReadonlyArray<Redacted.Redacted<string>>
  readonly modelId: string
  readonly maxBodyBytes: number
  readonly bodyTimeoutMillis: number
  readonly maxInFlight: number
  readonly drainTimeoutSeconds: number
  readonly simulated: boolean
  readonly pipeline: Chat.Overrides
  /** `--database-url` and `--redis-url`: the audit chain, the outbox, the token and the rate budget shared. */
  readonly shared: Chat.SharedFlags
}

const usage = (message: string) =>
  new ExitCode.CliFailure({ exitCode: ExitCode.ExitCode.InvalidInput, reason: "UsageError", message })

const environmentSettings = Config.all({
  host: Config.option(Config.string("GENESYS_LLM_SERVE_HOST")),
  port: Config.option(Config.integer("GENESYS_LLM_SERVE_PORT")),
  apiKeys: Config.option(Config.redacted("GENESYS_LLM_SERVE_API_KEYS")),
  model: Config.option(Config.string("GENESYS_LLM_SERVE_MODEL")),
  maxBodyBytes: Config.option(Config.integer("GENESYS_LLM_SERVE_MAX_BODY_BYTES")),
  bodyTimeout: Config.option(Config.integer("GENESYS_LLM_SERVE_BODY_TIMEOUT_MS")),
  maxInFlight: Config.option(Config.integer("GENESYS_LLM_SERVE_MAX_IN_FLIGHT")),
  drainTimeout: Config.option(Config.integer("GENESYS_LLM_SERVE_DRAIN_TIMEOUT")),
  simulated: Config.option(Config.boolean("GENESYS_LLM_SERVE_SIMULATED"))
})

const splitKeys = (keys: ReadonlyArray<string>) =>
  keys.flatMap((key) => key.split(",")).map((key) => key.trim()).filter((key) => key.length > 0).map(Redacted.make)

const positive = (name: string, value: number, minimum: number) =>
  Number.isInteger(value) && value >= minimum
    ? Effect.succeed(value)
    : Effect.fail(usage(`${name} must be an integer of at least ${minimum}, got ${value}`))

/**
 * Whether a host is a loopback interface, the only kind `serve` listens on without an API key.
 *
 * @since 0.1.0
 * @category utils
 */
export const isLoopback = (host: string): boolean =>
  host === "localhost" || host === "::1" || host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host)

/**
 * Flags over the environment over the defaults, checked.
 *
 * @since 0.1.0
 * @category utils
 */
export const settings = (flags: Flags): Effect.Effect<Settings, ExitCode.CliFailure> =>
  Effect.gen(function*() {
    const env = yield* Effect.mapError(environmentSettings, ExitCode.ofConfigError)
    const pick = <A>(flag: Option.Option<A>, fromEnv: Option.Option<A>, fallback: A) =>
      Option.getOrElse(Option.orElse(flag, () => fromEnv), () => fallback)
    const host = pick(flags.host, env.host, "127.0.0.1")
    const apiKeys = flags.apiKey.length > 0
      ? splitKeys(flags.apiKey)
      : splitKeys(Option.toArray(Option.map(env.apiKeys, Redacted.value)))
    if (apiKeys.length === 0 && !isLoopback(host)) {
      return yield* usage(
        `refusing to listen on ${host} without an API key: anyone who reaches it could spend the gateway's ` +
          "budget. Give --api-key KEY (or GENESYS_LLM_SERVE_API_KEYS), or listen on 127.0.0.1"
      )
    }
    const simulated = flags.simulated || Option.getOrElse(env.simulated, () => false)
    if (simulated && (Option.isSome(flags.databaseUrl) || Option.isSome(flags.redisUrl))) {
      return yield* usage(
        "--simulated answers from a simulator of this process alone; it takes no --database-url or --redis-url"
      )
    }
    const port = pick(flags.port, env.port, 8080)
    if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
      return yield* usage(`--port must be an integer from 0 to 65535, got ${port}`)
    }
    return {
      host,
      port,
      apiKeys,
      modelId: pick(flags.model, env.model, DataActionServer.defaults.modelId),
      maxBodyBytes: yield* positive("--max-body-bytes", pick(flags.maxBodyBytes, env.maxBodyBytes, 65536), 1),
      bodyTimeoutMillis: yield* positive("--body-timeout", pick(flags.bodyTimeout, env.bodyTimeout, 10_000), 1),
      maxInFlight: yield* positive("--max-in-flight", pick(flags.maxInFlight, env.maxInFlight, 256), 1),
      drainTimeoutSeconds: yield* positive("--drain-timeout", pick(flags.drainTimeout, env.drainTimeout, 30), 0),
      simulated,
      pipeline: yield* Chat.checkFlags(flags),
      shared: { databaseUrl: flags.databaseUrl, redisUrl: flags.redisUrl }
    }
  })

/**
 * What the service needs from the pipeline's side. Another audit sink, outbox or token provider (shared ones, in
 * Redis or PostgreSQL) is one more layer provided here.
 *
 * @since 0.1.0
 * @category models
 */
export type PipelineServices = Pipeline.Pipeline | TokenProvider.TokenProvider

const simulatedPipeline = (settings: Settings) =>
  Layer.unwrapEffect(Effect.map(GatewaySimulator.GatewaySimulator, (simulator) => {
    const overrides = settings.pipeline
    return NodePipeline.layer({
      gateway: {
        apiUrl: simulator.url,
        clientId: simulator.credentials.clientId,
        clientSecret: simulator.credentials.clientSecret,
        ...(overrides.maxLatencyMillis === undefined ? {} : { maxLatencyMillis: overrides.maxLatencyMillis }),
        ...(overrides.fallbackText === undefined ? {} : { fallbackText: overrides.fallbackText })
      },
      ...(overrides.auditLogPath === undefined ? {} : { auditLogPath: overrides.auditLogPath }),
      ...(overrides.fallbackText === undefined ? {} : { fallbackText: overrides.fallbackText })
    })
  })).pipe(Layer.provide(GatewaySimulator.layer()))

/**
 * The pipeline `serve` runs over: against the in-process simulator with `--simulated`, else configured as `chat`
 * is (the environment, the flags on top). The one place to swap the pipeline's services.
 *
 * @since 0.1.0
 * @category layers
 */
export const pipelineLayer = (settings: Settings): Layer.Layer<PipelineServices, ExitCode.CliFailure> =>
  (settings.simulated
    ? simulatedPipeline(settings)
    : Layer.unwrapScoped(
      Effect.flatMap(
        Chat.config(settings.pipeline),
        (options) => Effect.map(Chat.sharedPipeline(options, settings.shared), ({ pipeline }) => pipeline)
      )
    ))
    .pipe(Layer.mapError(layerFailure))

function layerFailure(error: unknown): ExitCode.CliFailure {
  // Already classified (a bad --database-url, an unreachable Redis): its exit code and reason stand.
  if (error instanceof ExitCode.CliFailure) return error
  const tagged = error as { readonly _tag?: string; readonly message?: string }
  if (typeof tagged === "object" && tagged !== null && "_op" in tagged) {
    return ExitCode.ofConfigError(error as Parameters<typeof ExitCode.ofConfigError>[0])
  }
  const tag = tagged?._tag ?? "Failure"
  const exitCode = tag === "SafetyConfigError" ? 2 : 1
  const message = tag === "AuditWriteError"
    ? `cannot use the audit log: ${tagged.message}`
    : tagged.message ?? "the pipeline could not start"
  return new ExitCode.CliFailure({ exitCode, reason: tag, message })
}

// One JSON object a line on stderr: the time, the level, the message and the annotations. A cause is summed up in
// one line (never a stack trace).
const jsonLogger = (write: (line: string) => void) =>
  Logger.make(({ annotations, cause, date, logLevel, message }) => {
    const text = (Array.isArray(message) ? message : [message]).map((m) =>
      typeof m === "string" ? m : JSON.stringify(m)
    ).join(" ")
    const fields: Record<string, unknown> = { time: date.toISOString(), level: logLevel.label, message: text }
    for (const [key, value] of HashMap.entries(annotations)) fields[key] = value
    if (!Cause.isEmpty(cause)) {
      fields.cause = Cause.squash(cause) instanceof Error
        ? (Cause.squash(cause) as Error).message.slice(0, 300)
        : String(Cause.squash(cause)).slice(0, 300)
    }
    write(`${JSON.stringify(fields)}\n`)
  })

const writeStderr = (line: string) => {
  process.stderr.write(line)
}

const serveUntilStopped = (settings: Settings) =>
  Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    const lifecycle = yield* Lifecycle.Lifecycle
    // Runs first when the command is interrupted (SIGTERM, SIGINT), before the server and the pipeline close.
    yield* Effect.addFinalizer(() =>
      Effect.logInfo("draining").pipe(
        Effect.zipRight(lifecycle.drain(Duration.seconds(settings.drainTimeoutSeconds))),
        Effect.zipRight(Effect.logInfo("drained"))
      )
    )
    yield* Output.out(`${HttpServer.formatAddress(server.address)}\n`)
    yield* Effect.logInfo("listening").pipe(Effect.annotateLogs({
      url: HttpServer.formatAddress(server.address),
      simulated: settings.simulated,
      authentication: settings.apiKeys.length > 0 ? `${settings.apiKeys.length} key(s)` : "none (loopback only)"
    }))
    return yield* Effect.never
  }).pipe(Effect.scoped)

const listenFailure = (settings: Settings) => (error: { readonly cause: unknown }) => {
  const code = (error.cause as { readonly code?: string } | undefined)?.code ?? "unknown error"
  return new ExitCode.CliFailure({
    exitCode: ExitCode.ExitCode.Failure,
    reason: "ListenError",
    message: `cannot listen on ${settings.host}:${settings.port} (${code})`
  })
}

/**
 * Runs `serve` until it is interrupted, then drains; fails with a `CliFailure` when it cannot start.
 *
 * @since 0.1.0
 * @category utils
 */
export const run = (flags: Flags): Effect.Effect<void, ExitCode.CliFailure, Output.Output> =>
  Effect.gen(function*() {
    const current = yield* settings(flags)
    const server = DataActionServer.serverLayer(
      { host: current.host, port: current.port },
      {
        ...DataActionServer.defaults,
        modelId: current.modelId,
        apiKeys: current.apiKeys,
        maxBodyBytes: current.maxBodyBytes,
        bodyTimeout: Duration.millis(current.bodyTimeoutMillis),
        ...(current.pipeline.fallbackText === undefined ? {} : { fallbackText: current.pipeline.fallbackText })
      },
      { maxInFlight: current.maxInFlight }
    ).pipe(Layer.mapError(listenFailure(current)))
    return yield* serveUntilStopped(current).pipe(
      Effect.provide(server),
      Effect.provide(pipelineLayer(current))
    )
  }).pipe(Effect.locally(FiberRef.currentLoggers, HashSet.make(jsonLogger(writeStderr))))

/**
 * The `serve` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Spec.command(Commands.serve, run)
