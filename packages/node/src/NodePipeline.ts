/**
 * The whole pipeline for Node: every stage's live layer, the gateway over undici, the hash-chained audit file and
 * the metrics webhook through Node's file system, from options or from the environment.
 *
 * The audit log and the webhook outbox each have one writer: the pipeline takes their `flock(2)` locks
 * (`NodeFileLock`) when its layer is built, the audit log's first, then the outbox's, and holds them until the
 * layer is released. A second process on the same files waits up to `lockWait` (`LLM_FILE_LOCK_WAIT_MS`, default
 * 30 seconds; 0 fails at once) and then fails with `FileLockError`, naming the file and the holder.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const completion = yield* Pipeline.run(input)
 *   yield* Console.log(completion.text)
 * }).pipe(Effect.provide(NodePipeline.layerConfig()))
 * ```
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClient from "@effect/platform/HttpClient"
import {
  AuditLog,
  AuditSink,
  ContextWindow,
  Fallback,
  type FileLock,
  type Gateway,
  type IdGenerator,
  MetricsWebhook,
  Outbox,
  Pipeline,
  type Prompt,
  SafetyPolicy,
  TokenEstimator,
  type TokenProvider,
  Validation
} from "@genesys-llm/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as GatewayConfig from "./GatewayConfig.js"
import * as NodeFileLock from "./NodeFileLock.js"
import * as NodeGateway from "./NodeGateway.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly gateway: NodeGateway.Options
  /** The audit file; default `./llm-audit.log`. */
  readonly auditLogPath?: string | undefined
  readonly auditFsync?: AuditLog.FsyncPolicy | undefined
  /**
   * An audit sink to write to in place of the file (`auditLogPath` and `auditFsync` are then not used): a table
   * shared by several instances (`@genesys-llm/postgres`'s `PgShared.make`), say.
   */
  readonly auditSink?: AuditSink.Service | undefined
  /** An outbox for the webhook to deliver from in place of the file outbox (its path and fsync are then not used). */
  readonly outbox?: Outbox.Service | undefined
  /** The cost webhook (its receiver, outbox, costs and redelivery); none when absent. */
  readonly webhook?: MetricsWebhook.Options | undefined
  /**
   * How long to wait for another process to close the audit log or the outbox (default 30 seconds; 0 fails at
   * once). The webhook's own `lockWait`, when given, wins for the outbox.
   */
  readonly lockWait?: Duration.DurationInput | undefined
  /** Default: the gateway's fallback text. */
  readonly fallbackText?: string | undefined
  readonly safety?: SafetyPolicy.Options | undefined
  readonly contextWindow?: ContextWindow.Options | undefined
  readonly limits?: Partial<Prompt.Limits> | undefined
  readonly outputGuard?: boolean | undefined
}

/**
 * What the pipeline layer provides: the pipeline and the services under it, for programs that use a stage alone.
 *
 * @since 0.1.0
 * @category models
 */
export type Provided =
  | Pipeline.Pipeline
  | Gateway.Gateway
  | TokenProvider.TokenProvider
  | IdGenerator.IdGenerator
  | AuditSink.AuditSink
  | MetricsWebhook.MetricsWebhook

/**
 * @since 0.1.0
 * @category errors
 */
export type LayerError =
  | AuditSink.AuditWriteError
  | Outbox.OutboxError
  | FileLock.FileLockError
  | SafetyPolicy.SafetyConfigError

const compose = <E>(
  options: Options,
  safety: Layer.Layer<SafetyPolicy.SafetyPolicy, E>
): Layer.Layer<Provided, LayerError | E, Platform> => {
  const preflight = Layer.mergeAll(
    Validation.layer(options.limits ?? {}),
    ContextWindow.layer(options.contextWindow).pipe(Layer.orDie, Layer.provide(TokenEstimator.layerDefault)),
    safety,
    Fallback.layer(options.fallbackText ?? options.gateway.fallbackText ?? Fallback.defaultText)
  )
  const audit = options.auditSink !== undefined
    ? Layer.succeed(AuditSink.AuditSink, options.auditSink)
    : AuditLog.layer({
      path: options.auditLogPath ?? AuditLog.defaultPath,
      fsync: options.auditFsync,
      lockWait: options.lockWait
    })
  const webhook = options.webhook === undefined
    ? MetricsWebhook.layerNoop
    : options.outbox !== undefined
    ? MetricsWebhook.layerDelivery(options.webhook).pipe(Layer.provide(Layer.succeed(Outbox.Outbox, options.outbox)))
    : MetricsWebhook.layer({ ...options.webhook, lockWait: options.webhook.lockWait ?? options.lockWait })
  // The audit log's lock first, then the outbox's, in every process: never two processes holding one each.
  const sinks = webhook.pipe(Layer.provideMerge(audit))
  return Pipeline.layer({ outputGuard: options.outputGuard }).pipe(
    Layer.provideMerge(Layer.mergeAll(
      preflight,
      NodeGateway.layerWithoutHttpClient(options.gateway),
      sinks
    ))
  )
}

/**
 * What the pipeline needs of its platform: an HTTP client, a file system and file locks.
 *
 * @since 0.1.0
 * @category models
 */
export type Platform = HttpClient.HttpClient | FileSystem.FileSystem | FileLock.FileLock

/**
 * The pipeline and its stages over a given `HttpClient`, `FileSystem` and `FileLock`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWithoutPlatform = (
  options: Options
): Layer.Layer<Provided, LayerError, Platform> => compose(options, SafetyPolicy.layer(options.safety ?? {}))

const platform = Layer.mergeAll(NodeHttpClient.layerUndici, NodeFileSystem.layer, NodeFileLock.layer)

/**
 * The pipeline for Node from options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Provided, LayerError> =>
  layerWithoutPlatform(options).pipe(Layer.provide(platform))

/**
 * Settings that win over the environment: a key left out or `undefined` keeps the environment's value, and the
 * gateway settings are merged one by one.
 *
 * @since 0.1.0
 * @category models
 */
export type Overrides =
  & { readonly [K in Exclude<keyof Options, "gateway">]?: Options[K] | undefined }
  & {
    readonly gateway?: { readonly [K in keyof NodeGateway.Options]?: NodeGateway.Options[K] | undefined } | undefined
  }

/**
 * The options read from the environment: the gateway settings of `GatewayConfig`, `LLM_AUDIT_LOG_PATH`,
 * `COST_TRACKING_WEBHOOK` and `COST_TRACKING_OUTBOX_PATH`, `LLM_FILE_LOCK_WAIT_MS`, `LLM_FALLBACK_TEXT`, the context
 * budget (`LLM_CONTEXT_BUDGET_RATIO` or `LLM_CONTEXT_BUDGET_TOKENS`). `overrides` win over the environment.
 *
 * @since 0.1.0
 * @category constructors
 */
export const config = (overrides: Overrides = {}): Config.Config<Options> =>
  Config.all({
    gateway: GatewayConfig.config,
    auditLogPath: Config.string("LLM_AUDIT_LOG_PATH").pipe(Config.withDefault(AuditLog.defaultPath)),
    webhookUrl: MetricsWebhook.urlConfig,
    outboxPath: Config.string("COST_TRACKING_OUTBOX_PATH").pipe(Config.withDefault(MetricsWebhook.defaultOutboxPath)),
    lockWaitMillis: Config.option(
      Config.integer("LLM_FILE_LOCK_WAIT_MS").pipe(
        Config.validate({ message: "expected a whole number of milliseconds, 0 or more", validation: (n) => n >= 0 })
      )
    ),
    contextWindow: ContextWindow.config
  }).pipe(Config.map((c): Options => {
    const fromEnv: Options = {
      gateway: NodeGateway.optionsFromConfig(c.gateway),
      auditLogPath: c.auditLogPath,
      webhook: Option.match(c.webhookUrl, {
        onNone: () => undefined,
        onSome: (url) => ({ url, outboxPath: c.outboxPath })
      }),
      fallbackText: c.gateway.fallbackText,
      lockWait: Option.getOrUndefined(Option.map(c.lockWaitMillis, Duration.millis)),
      contextWindow: c.contextWindow
    }
    // An override wins only where it says something: `undefined` keeps the environment's value, and the gateway
    // settings are merged one by one, so `{ gateway: { apiUrl } }` keeps the credentials from the environment.
    const { gateway, ...rest } = overrides
    return {
      ...fromEnv,
      ...definedOnly(rest),
      gateway: { ...fromEnv.gateway, ...definedOnly(gateway ?? {}) }
    } as Options
  }))

const definedOnly = <A extends object>(value: A): Partial<A> =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<A>

/**
 * The pipeline for Node configured from the environment (the current `ConfigProvider`): `config`, and the safety
 * lists `LLM_SAFETY_BLOCK_RULES`, `LLM_SAFETY_REDACT_RULES` and `LLM_SAFETY_DISABLED_RULES` on top of
 * `overrides.safety`. A missing or malformed setting fails the layer with a `ConfigError` naming the variable.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  overrides: Overrides = {}
): Layer.Layer<Provided, LayerError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Effect.map(config(overrides), (options) =>
      compose(options, SafetyPolicy.layerConfig(options.safety ?? {})).pipe(Layer.provide(platform)))
  )
