/**
 * `genesys-llm chat`: one prompt through the whole pipeline (validation, context window, safety policy, gateway,
 * fallback, audit), the answer streamed to stdout as it arrives, or one JSON summary with `--json`.
 *
 * @since 0.1.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as FileSystem from "@effect/platform/FileSystem"
import { AuditEntry, CircuitBreaker, MetricsWebhook, Pipeline, RateBudget, RetryBudget } from "@genesys-llm/core"
import { GatewayConfig, NodePipeline } from "@genesys-llm/node"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as ExitCode from "./ExitCode.js"
import * as Commands from "./internal/commands.js"
import { type Database, databaseUrl } from "./internal/database.js"
import * as JsonError from "./internal/jsonError.js"
import * as Output from "./internal/output.js"
import * as Spec from "./internal/spec.js"
import { oneLine } from "./internal/text.js"

/**
 * The temperature of a payload built from `--model`, `--system` and `--user` when `--temperature` is not given.
 *
 * @since 0.1.0
 * @category models
 */
export const defaultTemperature: number = Commands.defaultTemperature

/**
 * The `maxTokens` of a payload built from flags when `--max-tokens` is not given.
 *
 * @since 0.1.0
 * @category models
 */
export const defaultMaxTokens: number = Commands.defaultMaxTokens

/**
 * The largest payload `--payload` reads, from a file or stdin (64 MiB): far above the largest valid payload, and a
 * bound on what a wrong file can cost.
 *
 * @since 0.1.0
 * @category models
 */
export const maxPayloadBytes = 64 * 1024 * 1024

/**
 * How long `chat` waits, after the answer, for the metrics webhook to deliver its event before it exits (what is
 * not delivered by then stays in the outbox for a later run).
 *
 * @since 0.1.0
 * @category models
 */
export const webhookGraceMillis = 3000

/**
 * The parsed flags of `chat`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Flags {
  readonly payload: Option.Option<string>
  readonly model: Option.Option<string>
  readonly system: ReadonlyArray<string>
  readonly user: ReadonlyArray<string>
  readonly temperature: Option.Option<number>
  readonly maxTokens: Option.Option<number>
  readonly apiUrl: Option.Option<string>
  readonly loginUrl: Option.Option<string>
  readonly auditLog: Option.Option<string>
  /** `--database-url`: absent in flags built by hand, as when not given. */
  readonly databaseUrl?: Option.Option<Redacted.Redacted<string>> | undefined
  readonly webhook: Option.Option<string>
  readonly maxLatency: Option.Option<number>
  readonly fallback: Option.Option<string>
  readonly redisUrl: Option.Option<Redacted.Redacted<string>>
  readonly json: boolean
}

/**
 * The `--json` output: the audit status of the call, the text the caller got, and the call's figures. `error`
 * (its `tag` and one-line `message`) is there whenever the exit code is not 0. A call stopped by Ctrl-C is
 * `cancelled`, with the figures of its audit record (the attempts really sent) and the text received until then. `idempotencyKey` is `null` when the
 * call ended before a key was assigned (an invalid payload, a missing file or setting).
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary {
  readonly status: "success" | "fallback" | "error" | "invalid" | "blocked" | "cancelled"
  readonly text: string
  readonly tokensUsed: number
  readonly latencyMs: number
  readonly attempts: number
  readonly idempotencyKey: string | null
  readonly droppedContextMessages: number
  /** For a fallback: `deadline`, `rate-limited` or `circuit-open`. */
  readonly fallbackReason?: Pipeline.Completion["fallbackReason"]
  readonly error?: { readonly tag: string; readonly message: string }
}

/**
 * What one run of `chat` came to: the summary, and the failure that sets the exit code when it is not 0.
 *
 * @since 0.1.0
 * @category models
 */
export interface Result {
  readonly summary: Summary
  readonly failure: ExitCode.CliFailure | undefined
  /** A line for stderr on success (the fallback). */
  readonly notice: string | undefined
  /** Whether answer text went to stdout. */
  readonly streamed: boolean
}

const keyOf = (key: string): string | null => key === AuditEntry.unknownValue ? null : key

/**
 * The summary of a call that reached its end.
 *
 * @since 0.1.0
 * @category utils
 */
export const summaryOfCompletion = (completion: Pipeline.Completion): Summary => ({
  status: completion.status,
  text: completion.text,
  tokensUsed: completion.tokensUsed,
  latencyMs: completion.latencyMs,
  attempts: completion.attempts,
  idempotencyKey: keyOf(completion.idempotencyKey),
  droppedContextMessages: completion.droppedContextMessages,
  ...(completion.fallbackReason === undefined ? {} : { fallbackReason: completion.fallbackReason }),
  ...(completion.interruption === undefined ? {} : {
    error: { tag: "StreamInterrupted", message: oneLine(completion.interruption.message) }
  })
})

/**
 * The summary of a call the pipeline failed.
 *
 * @since 0.1.0
 * @category utils
 */
export const summaryOfPipelineError = (error: Pipeline.PipelineError): Summary => ({
  status: error.status,
  text: "",
  tokensUsed: 0,
  latencyMs: error.latencyMs,
  attempts: error.attempts,
  idempotencyKey: keyOf(error.idempotencyKey),
  droppedContextMessages: error.droppedContextMessages,
  error: { tag: error.cause._tag, message: oneLine(error.message) }
})

/**
 * The summary of a run that failed before the pipeline was called (its input, a flag, a setting, the audit log).
 *
 * @since 0.1.0
 * @category utils
 */
export const summaryOfFailure = (failure: ExitCode.CliFailure): Summary => ({
  status: failure.exitCode === ExitCode.ExitCode.InvalidInput ? "invalid" : "error",
  text: "",
  tokensUsed: 0,
  latencyMs: 0,
  attempts: 0,
  idempotencyKey: null,
  droppedContextMessages: 0,
  error: { tag: failure.reason, message: oneLine(failure.message) }
})

/**
 * The summary of a call stopped by an interruption (Ctrl-C): its audit record's figures, when the pipeline had
 * recorded it, and the text received until then.
 *
 * @since 0.1.0
 * @category utils
 */
export const summaryOfCancelled = (record: AuditEntry.CallRecord | undefined, text: string): Summary => ({
  status: record?.status ?? "cancelled",
  text,
  tokensUsed: record?.tokensUsed ?? 0,
  latencyMs: record?.latencyMs ?? 0,
  attempts: record?.attempts ?? 0,
  idempotencyKey: record === undefined ? null : keyOf(record.idempotencyKey),
  droppedContextMessages: record?.droppedContextMessages ?? 0,
  error: { tag: "Interrupted", message: cancelledMessage }
})

const cancelledMessage = "interrupted; the call was cancelled"

const usage = (message: string) =>
  new ExitCode.CliFailure({ exitCode: ExitCode.ExitCode.InvalidInput, reason: "UsageError", message })

const payloadError = (message: string) =>
  new ExitCode.CliFailure({ exitCode: ExitCode.ExitCode.InvalidInput, reason: "PayloadFileError", message })

const tooLarge = (source: string) => payloadError(`${source} is larger than ${maxPayloadBytes / 1024 / 1024} MiB`)

const readFile = (path: string, source: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const info = yield* fs.stat(path)
    if (info.type === "File" && info.size > BigInt(maxPayloadBytes)) return yield* tooLarge(source)
    return yield* fs.readFileString(path)
  }).pipe(
    Effect.catchTags({
      BadArgument: () => payloadError(`cannot read ${source}`),
      SystemError: (error) =>
        payloadError(
          error.reason === "NotFound"
            ? `${source} does not exist`
            : error.reason === "PermissionDenied"
            ? `cannot read ${source}: permission denied`
            : error.reason === "BadResource"
            ? `cannot read ${source}: not a file`
            : `cannot read ${source} (${error.reason})`
        )
    })
  )

const readStdin = NodeStream.stdin.pipe(
  Stream.mapError(() => payloadError("cannot read the payload from stdin")),
  Stream.mapAccumEffect(0, (bytes, chunk: Uint8Array) =>
    bytes + chunk.length > maxPayloadBytes
      ? Effect.fail(tooLarge("the payload on stdin"))
      : Effect.succeed([bytes + chunk.length, chunk] as const)),
  Stream.decodeText(),
  Stream.mkString
)

// The parser's own message may quote the text, which may be a prompt: say where and what was expected, not what
// was found.
const parsePayload = (text: string, source: string) =>
  Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: () => {
      const at = JsonError.locate(text)
      return new ExitCode.CliFailure({
        exitCode: ExitCode.ExitCode.InvalidInput,
        reason: "PayloadParseError",
        message: text.trim().length === 0
          ? `${source} is empty`
          : at === undefined
          ? `${source} is not valid JSON`
          : `${source} is not valid JSON: line ${at.line}, column ${at.column}: ${at.problem}`
      })
    }
  })

/**
 * The payload a run sends, from its flags: the file or stdin of `--payload` parsed as JSON (validated later, by
 * the pipeline), or one built from `--model`, `--system`, `--user`, `--temperature` and `--max-tokens`.
 *
 * @since 0.1.0
 * @category utils
 */
export const readPayload = (
  flags: Flags
): Effect.Effect<unknown, ExitCode.CliFailure, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    if (Option.isSome(flags.payload)) {
      const conflicting = [
        Option.isSome(flags.model) ? "--model" : undefined,
        flags.system.length > 0 ? "--system" : undefined,
        flags.user.length > 0 ? "--user" : undefined,
        Option.isSome(flags.temperature) ? "--temperature" : undefined,
        Option.isSome(flags.maxTokens) ? "--max-tokens" : undefined
      ].filter((flag) => flag !== undefined)
      if (conflicting.length > 0) {
        return yield* usage(`--payload cannot be combined with ${conflicting.join(", ")}`)
      }
      const path = flags.payload.value
      const source = path === "-" ? "the payload on stdin" : `the payload file ${path}`
      const text = path === "-" ? yield* readStdin : yield* readFile(path, source)
      return yield* parsePayload(text, source)
    }
    if (Option.isNone(flags.model)) {
      return yield* usage("give --payload FILE, or --model ID with at least one --user TEXT")
    }
    if (flags.user.length === 0) return yield* usage("--model needs at least one --user TEXT")
    return {
      systemInstructions: flags.system,
      context: flags.user.map((content) => ({ role: "user", content })),
      temperature: Option.getOrElse(flags.temperature, () => defaultTemperature),
      maxTokens: Option.getOrElse(flags.maxTokens, () => defaultMaxTokens),
      modelId: flags.model.value
    }
  })

/**
 * The pipeline's flags, shared by `chat` and `serve`.
 *
 * @since 0.1.0
 * @category models
 */
export type PipelineFlags = Pick<Flags, "apiUrl" | "loginUrl" | "auditLog" | "webhook" | "maxLatency" | "fallback">

/**
 * The pipeline's flags, checked: what `config` puts on top of the environment.
 *
 * @since 0.1.0
 * @category models
 */
export interface Overrides {
  readonly apiUrl: string | undefined
  readonly loginUrl: string | undefined
  readonly auditLogPath: string | undefined
  readonly webhookUrl: Redacted.Redacted<string> | undefined
  readonly maxLatencyMillis: number | undefined
  readonly fallbackText: string | undefined
}

/**
 * Checks the pipeline's flags (URLs, the webhook, the latency, the audit log path).
 *
 * @since 0.1.0
 * @category utils
 */
export const checkFlags = (flags: PipelineFlags): Effect.Effect<Overrides, ExitCode.CliFailure> =>
  Effect.gen(function*() {
    const url = (name: string, value: Option.Option<string>) =>
      Option.match(value, {
        onNone: () => Effect.succeed(undefined),
        onSome: (raw) =>
          Either.match(GatewayConfig.checkBaseUrl(raw), {
            onLeft: (problem) => usage(`${name} ${problem}`),
            onRight: Effect.succeed
          })
      })
    const apiUrl = yield* url("--api-url", flags.apiUrl)
    const loginUrl = yield* url("--login-url", flags.loginUrl)
    // The webhook URL may carry a token: it is checked, never repeated.
    if (Option.isSome(flags.webhook) && !MetricsWebhook.isHttpUrl(flags.webhook.value)) {
      return yield* usage("--webhook must be an http or https URL")
    }
    if (Option.isSome(flags.maxLatency) && !(flags.maxLatency.value > 0)) {
      return yield* usage(`--max-latency must be a positive number of milliseconds, got ${flags.maxLatency.value}`)
    }
    if (Option.isSome(flags.auditLog) && flags.auditLog.value.trim().length === 0) {
      return yield* usage("--audit-log must not be empty")
    }
    return {
      apiUrl,
      loginUrl,
      auditLogPath: Option.getOrUndefined(flags.auditLog),
      webhookUrl: Option.getOrUndefined(Option.map(flags.webhook, Redacted.make)),
      maxLatencyMillis: Option.getOrUndefined(flags.maxLatency),
      fallbackText: Option.getOrUndefined(flags.fallback)
    }
  })

// The credentials on their own, so that a missing or empty one is reported under its variable's name.
const credentials = Config.all({
  id: Config.option(Config.string("GENESYS_CLIENT_ID")),
  secret: Config.option(Config.redacted("GENESYS_CLIENT_SECRET"))
}).pipe(Config.mapOrFail(({ id, secret }) => {
  const problems: Array<ConfigError.ConfigError> = []
  const check = (name: string, value: Option.Option<string>) => {
    if (Option.isNone(value)) problems.push(ConfigError.MissingData([name], `${name} is not set`))
    else if (value.value.trim().length === 0) problems.push(ConfigError.InvalidData([name], "must not be empty"))
  }
  check("GENESYS_CLIENT_ID", id)
  check("GENESYS_CLIENT_SECRET", Option.map(secret, Redacted.value))
  const [first, ...rest] = problems
  return first === undefined ? Either.void : Either.left(rest.reduce(ConfigError.And, first))
}))

/**
 * The pipeline's options: the environment (`NodePipeline.config`, the variables of `GatewayConfig` and
 * `LLM_AUDIT_LOG_PATH`, `COST_TRACKING_WEBHOOK`, `COST_TRACKING_OUTBOX_PATH`, `LLM_FALLBACK_TEXT`, ...) with the
 * flags on top. `--api-url` alone serves for login too, unless `GENESYS_LOGIN_URL` is set.
 *
 * @since 0.1.0
 * @category constructors
 */
export const config = (overrides: {
  readonly apiUrl?: string | undefined
  readonly loginUrl?: string | undefined
  readonly auditLogPath?: string | undefined
  readonly webhookUrl?: Redacted.Redacted<string> | undefined
  readonly maxLatencyMillis?: number | undefined
  readonly fallbackText?: string | undefined
}): Config.Config<NodePipeline.Options> =>
  Config.all({
    credentials,
    base: NodePipeline.config({
      ...(overrides.auditLogPath === undefined ? {} : { auditLogPath: overrides.auditLogPath }),
      ...(overrides.fallbackText === undefined ? {} : { fallbackText: overrides.fallbackText })
    }),
    loginUrlSetting: Config.option(Config.string("GENESYS_LOGIN_URL")),
    outboxPath: Config.string("COST_TRACKING_OUTBOX_PATH").pipe(
      Config.withDefault(MetricsWebhook.defaultOutboxPath)
    )
  }).pipe(
    Config.map(({ base, loginUrlSetting, outboxPath }): NodePipeline.Options => {
      const webhook = overrides.webhookUrl !== undefined
        ? { url: overrides.webhookUrl, outboxPath }
        : base.webhook
      // COST_TRACKING_WEBHOOK is checked by `NodePipeline.config` (`MetricsWebhook.urlConfig`), the flag by
      // `checkFlags`, with the same rule.
      const apiUrl = overrides.apiUrl ?? base.gateway.apiUrl
      const loginUrl = overrides.loginUrl ??
        (Option.isNone(loginUrlSetting) && overrides.apiUrl !== undefined ? overrides.apiUrl : base.gateway.loginUrl)
      const fallbackText = overrides.fallbackText ?? base.fallbackText
      return {
        ...base,
        gateway: {
          ...base.gateway,
          apiUrl,
          loginUrl,
          ...(overrides.maxLatencyMillis === undefined ? {} : { maxLatencyMillis: overrides.maxLatencyMillis }),
          ...(fallbackText === undefined ? {} : { fallbackText })
        },
        webhook
      }
    })
  )

const layerFailure = (exitCode: 1 | 2, reason: string, message: string) =>
  new ExitCode.CliFailure({ exitCode, reason, message })

// With a database URL, the audit sink and the outbox are its tables (`PgShared`), open for the run's scope; the
// driver is loaded only then. A database that cannot be reached at start is exit 1, naming the setting.
const sharedSinks = (database: Database) =>
  Effect.promise(() => import("@genesys-llm/postgres/PgShared")).pipe(
    Effect.flatMap((PgShared) => PgShared.make(database.url, { setting: database.setting })),
    Effect.mapError((error) => layerFailure(1, error._tag, error.message))
  )

// Waits, within a bound, until the webhook has delivered what it holds: a one-shot command would otherwise
// close it with the event still queued (it would then wait in the outbox for the next run).
const awaitWebhook = Effect.flatMap(MetricsWebhook.MetricsWebhook, (webhook) =>
  webhook.pending.pipe(
    Effect.repeat({ until: (pending) => pending === 0, schedule: Schedule.spaced("25 millis") }),
    Effect.timeout(webhookGraceMillis),
    Effect.ignore
  ))

// What a run has seen so far: the summary of a run that Ctrl-C stops is made of it.
interface Progress {
  readonly record: AuditEntry.CallRecord | undefined
  readonly text: string
  readonly streamed: boolean
}

const noProgress: Progress = { record: undefined, text: "", streamed: false }

const call = (payload: unknown, options: NodePipeline.Options, json: boolean, progress: Ref.Ref<Progress>) =>
  Effect.gen(function*() {
    const pipeline = yield* Pipeline.Pipeline
    const onRecorded = (record: AuditEntry.CallRecord) => Ref.update(progress, (p) => ({ ...p, record }))
    const outcome = yield* pipeline.stream(payload, { onRecorded }).pipe(
      Stream.runFoldEffect(
        { streamed: false, completion: undefined as Pipeline.Completion | undefined },
        (state, event) => {
          if (event._tag === "Completed") return Effect.succeed({ ...state, completion: event.completion })
          if (event.text.length === 0) return Effect.succeed(state)
          if (json) return Effect.as(Ref.update(progress, (p) => ({ ...p, text: p.text + event.text })), state)
          return Effect.as(
            Output.out(event.text).pipe(Effect.zipRight(Ref.update(progress, (p) => ({ ...p, streamed: true })))),
            { ...state, streamed: true }
          )
        }
      ),
      Effect.either
    )
    if (options.webhook !== undefined) {
      yield* awaitWebhook
    }
    if (Either.isLeft(outcome)) {
      const error = outcome.left
      return {
        summary: summaryOfPipelineError(error),
        failure: new ExitCode.CliFailure({
          exitCode: ExitCode.ofPipelineError(error),
          reason: error.cause._tag,
          message: error.message
        }),
        notice: undefined,
        streamed: false
      } satisfies Result
    }
    const { completion, streamed } = outcome.right
    if (completion === undefined) {
      return yield* Effect.dieMessage("the pipeline ended without a completion")
    }
    const summary = summaryOfCompletion(completion)
    switch (completion.status) {
      case "success":
        return { summary, failure: undefined, notice: undefined, streamed } satisfies Result
      case "fallback":
        return {
          summary,
          failure: undefined,
          notice: fallbackNotice(completion.fallbackReason, options.gateway.maxLatencyMillis),
          streamed
        } satisfies Result
      case "error":
        return {
          summary,
          failure: new ExitCode.CliFailure({
            exitCode: ExitCode.ExitCode.GatewayFailure,
            reason: "StreamInterrupted",
            message: completion.interruption?.message ?? "the answer broke after text was delivered"
          }),
          notice: undefined,
          streamed
        } satisfies Result
    }
  })

// What stderr says of a fallback: why it happened, in the user's terms.
const fallbackNotice = (reason: Pipeline.Completion["fallbackReason"], maxLatencyMillis: number | undefined) => {
  switch (reason) {
    case "rate-limited":
      return "the gateway's rate limit would have held the call past its deadline; nothing was sent; " +
        "printed the fallback text"
    case "circuit-open":
      return "the gateway failed repeatedly and the circuit breaker is open; nothing was sent; " +
        "printed the fallback text"
    default:
      return `no answer within ${maxLatencyMillis ?? "the first-frame deadline of"} ms; printed the fallback text`
  }
}

// The stores shared with other instances when --redis-url or GENESYS_LLM_REDIS_URL is set: the token provider takes
// the token store from its context, the rate budget of the gateway's guards is built over the shared permit counters
// and 429 block (the circuit breaker and the retry budget stay the process's own). The Redis package and ioredis
// are loaded only then.
type PipelineLayer = ReturnType<typeof NodePipeline.layerConfig>

const pipelineLayer = (
  options: NodePipeline.Options,
  flag: Option.Option<Redacted.Redacted<string>>
): Effect.Effect<
  Layer.Layer<Layer.Layer.Success<PipelineLayer>, Layer.Layer.Error<PipelineLayer> | ExitCode.CliFailure>,
  ConfigError.ConfigError
> =>
  Effect.gen(function*() {
    const fromEnv = yield* Config.option(Config.redacted(redisUrlSetting))
    if (Option.isNone(flag) && Option.isNone(fromEnv)) return NodePipeline.layerConfig(options)
    const { RedisLayers } = yield* Effect.promise(() => import("@genesys-llm/redis"))
    const shared = (Option.isSome(flag)
      ? RedisLayers.layerConfig({ url: flag.value, setting: "--redis-url" })
      : RedisLayers.layerConfig()).pipe(
        Layer.catchAll((error) =>
          Layer.fail(
            error._tag === "RedisUnavailable" || error._tag === "InvalidRedisSetting"
              ? layerFailure(1, error._tag, error.message)
              : ExitCode.ofConfigError(error)
          )
        )
      )
    return Layer.unwrapScoped(Effect.gen(function*() {
      const stores = Layer.succeedContext(yield* Layer.build(shared))
      const gateway = options.gateway
      const guards = Layer.mergeAll(
        RateBudget.layer({ rateLimitPerMinute: gateway.rateLimitPerMinute }).pipe(Layer.provide(stores)),
        CircuitBreaker.layer({
          circuitFailures: gateway.circuitFailures,
          circuitCooldownMillis: gateway.circuitCooldownMillis
        }),
        RetryBudget.layer({ retryBudget: gateway.retryBudget })
      )
      return NodePipeline.layerConfig({ ...options, gateway: { ...gateway, guards } }).pipe(Layer.provide(stores))
    }))
  })

const redisUrlSetting = "GENESYS_LLM_REDIS_URL"

/**
 * The settings of the stores and sinks shared by instances: `--database-url` and `--redis-url` (each also from the
 * environment).
 *
 * @since 0.1.0
 * @category models
 */
export interface SharedFlags {
  readonly databaseUrl?: Option.Option<Redacted.Redacted<string>> | undefined
  readonly redisUrl: Option.Option<Redacted.Redacted<string>>
}

/**
 * The pipeline a command runs over, with what instances share when it is configured: the audit chain and the
 * outbox in PostgreSQL (`--database-url`, `GENESYS_LLM_DATABASE_URL`), the token and the rate budget in Redis
 * (`--redis-url`, `GENESYS_LLM_REDIS_URL`). The PostgreSQL pool lives in the current scope. `chat` and `serve`
 * both build theirs here.
 *
 * @since 0.1.0
 * @category layers
 */
export const sharedPipeline = (configured: NodePipeline.Options, flags: SharedFlags) =>
  Effect.gen(function*() {
    const database = yield* databaseUrl(flags.databaseUrl ?? Option.none())
    const options: NodePipeline.Options = Option.isNone(database)
      ? configured
      : { ...configured, ...(yield* sharedSinks(database.value)) }
    const pipeline = yield* Effect.mapError(pipelineLayer(options, flags.redisUrl), ExitCode.ofConfigError)
    return { options, pipeline }
  })

const executeWith = (
  flags: Flags,
  progress: Ref.Ref<Progress>
): Effect.Effect<Result, never, FileSystem.FileSystem | Output.Output> =>
  Effect.gen(function*() {
    const payload = yield* readPayload(flags)
    const overrides = yield* checkFlags(flags)
    const configured = yield* Effect.mapError(config(overrides), ExitCode.ofConfigError)
    const { options, pipeline } = yield* sharedPipeline(configured, flags)
    return yield* call(payload, options, flags.json, progress).pipe(
      Effect.provide(pipeline),
      Effect.catchTags({
        ConfigError: (error) => Effect.fail(ExitCode.ofConfigError(error)),
        AuditWriteError: (error) =>
          Effect.fail(layerFailure(1, error._tag, `cannot use the audit log: ${error.message}`)),
        OutboxError: (error) => Effect.fail(layerFailure(1, error._tag, error.message)),
        // Another process holds the audit log or the outbox: the message names the file and the holder.
        FileLockError: (error) => Effect.fail(layerFailure(1, error._tag, error.message)),
        SafetyConfigError: (error) => Effect.fail(layerFailure(2, error._tag, error.message))
      })
    )
  }).pipe(
    Effect.scoped,
    Effect.catchTag(
      "CliFailure",
      (failure) =>
        Effect.succeed<Result>({ summary: summaryOfFailure(failure), failure, notice: undefined, streamed: false })
    )
  )

/**
 * Runs `chat` with parsed flags to its result, streaming the answer to stdout unless `flags.json`. Never fails:
 * every failure is in the result.
 *
 * @since 0.1.0
 * @category utils
 */
export const execute = (flags: Flags): Effect.Effect<Result, never, FileSystem.FileSystem | Output.Output> =>
  Effect.flatMap(Ref.make(noProgress), (progress) => executeWith(flags, progress))

// Ctrl-C: the call was recorded as cancelled by the time this runs. With --json, its one JSON object; without, the
// end of the partial answer's line. Either way one line on stderr.
const reportCancelled = (progress: Progress, json: boolean) =>
  Effect.gen(function*() {
    if (json) yield* Output.out(`${JSON.stringify(summaryOfCancelled(progress.record, progress.text))}\n`)
    else if (progress.streamed) yield* Output.out("\n")
    yield* Output.err(cancelledMessage)
  })

/**
 * Runs `chat` and prints its outcome (`execute`, then `report`); an interruption (Ctrl-C) still prints what the
 * contract promises (with `--json`, one JSON object with status `cancelled`) before it ends the run.
 *
 * @since 0.1.0
 * @category utils
 */
export const run = (flags: Flags): Effect.Effect<void, ExitCode.CliFailure, FileSystem.FileSystem | Output.Output> =>
  Effect.gen(function*() {
    const progress = yield* Ref.make(noProgress)
    const result = yield* executeWith(flags, progress).pipe(
      Effect.onInterrupt(() => Effect.flatMap(Ref.get(progress), (p) => reportCancelled(p, flags.json)))
    )
    return yield* report(result, flags.json)
  })

/**
 * Writes a result: the final newline of streamed text, or the JSON summary; the fallback notice on stderr. Fails
 * with the result's failure, if any.
 *
 * @since 0.1.0
 * @category utils
 */
export const report = (result: Result, json: boolean): Effect.Effect<void, ExitCode.CliFailure, Output.Output> =>
  Effect.gen(function*() {
    if (json) {
      yield* Output.out(`${JSON.stringify(result.summary)}\n`)
    } else {
      if (result.streamed) yield* Output.out("\n")
      if (result.notice !== undefined) yield* Output.err(result.notice)
    }
    if (result.failure !== undefined) return yield* result.failure
  })

/**
 * The `chat` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Spec.command(Commands.chat, run)
