/**
 * The cost-tracking webhook: after each call, the specification's flat payload
 * (`{event: "llm_prompt_completed", event_id, timestamp, model, latency_ms, tokens_used, cost_estimate_usd}`) is
 * POSTed to a configured URL, with a 3 second timeout, in the background.
 *
 * - `publish` stores the event in the `Outbox` and returns: it waits for the store (durable under the outbox's
 *   policy: with the file outbox, appended and synced), at most `storeTimeout` (1 second by default; a slower
 *   store goes on in the background), never for the receiver, and never fails.
 * - The webhook only delivers: a fiber of the layer's scope claims stored events, oldest first, `concurrency` at a
 *   time, POSTs them, acknowledges (removes) those the receiver answered with a 2xx, and gives the others back
 *   (timeout, transport error, non-2xx answer). While the receiver keeps failing, it tries again with exponential
 *   backoff (1 s doubling to 5 min by default), new events waiting behind the older ones.
 * - Whatever was stored and not acknowledged stays in the outbox: after a restart, or a crash (`kill -9`
 *   included), the next run delivers it. Closing the scope waits for stores in progress and gives claimed events
 *   back.
 * - The outbox is bounded (10,000 events by default, see `Outbox`): beyond it the oldest are dropped, counted in
 *   `genesys_llm_webhook_outbox_dropped_total` and logged. Its size is the gauge `genesys_llm_webhook_outbox_size`.
 *
 * Delivery is at least once: an event is sent again only when the receiver took it but its answer did not come
 * back in time, or the process died between the two; `event_id` (a UUID v4 from the platform's cryptographic
 * generator) lets the receiver drop that duplicate. The payload is built from an `AuditEntry.CallRecord`, so it
 * carries no prompt text by construction; the URL is never logged (it may carry a token).
 *
 * `layer` and `layerConfig` keep the outbox in a file (`Outbox.layerFile`, one writer per file); `layerDelivery`
 * delivers from whatever `Outbox` layer is provided (a table shared by several instances, say).
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as AuditEntry from "./AuditEntry.js"
import type * as AuditLog from "./AuditLog.js"
import type * as FileLock from "./FileLock.js"
import * as IdGenerator from "./IdGenerator.js"
import { deliveryLoop } from "./internal/webhookDelivery.js"
import * as Metrics from "./Metrics.js"
import * as Outbox from "./Outbox.js"

// -----------------------------------------------------------------------------
// The payload
// -----------------------------------------------------------------------------

/**
 * The webhook's payload, as the specification has it plus `event_id`.
 *
 * @since 0.1.0
 * @category models
 */
export const Event = Outbox.Event

/**
 * @since 0.1.0
 * @category models
 */
export type Event = Outbox.Event

/**
 * The specification's price: 0.000002 USD per token.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultCostPerToken = 0.000002

/**
 * Prices per token in USD: `default` for any model not listed in `byModel`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CostTable {
  readonly default: number
  readonly byModel?: Readonly<Record<string, number>> | undefined
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const defaultCosts: CostTable = { default: defaultCostPerToken }

/**
 * The estimated cost of a call, in USD, rounded to 10 decimal places (so that 42 tokens cost 0.000084, not
 * 0.00008400000000000001).
 *
 * @since 0.1.0
 * @category utils
 */
export const costEstimate = (modelId: string, tokens: number, costs: CostTable = defaultCosts): number => {
  const perToken = costs.byModel?.[modelId] ?? costs.default
  const cost = Math.max(0, tokens) * Math.max(0, perToken)
  return Number.isFinite(cost) ? Number(cost.toFixed(10)) : 0
}

/**
 * The event of a call's record.
 *
 * @since 0.1.0
 * @category constructors
 */
export const eventOf = (record: AuditEntry.CallRecord, eventId: string, costs: CostTable = defaultCosts): Event => {
  const model = AuditEntry.sanitizeModelId(record.modelId)
  return {
    event: "llm_prompt_completed",
    event_id: eventId,
    timestamp: record.timestamp,
    model,
    latency_ms: record.latencyMs,
    tokens_used: record.tokensUsed,
    cost_estimate_usd: costEstimate(model, record.tokensUsed, costs)
  }
}

// Event ids come from the platform's cryptographic generator: the receiver deduplicates by them, so two processes
// must never draw the same one (Effect's default `Random` holds about 31 bits per process).
const randomEventId = IdGenerator.secureUuid

// -----------------------------------------------------------------------------
// The service
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Stores the event of a finished call in the outbox (waiting at most `storeTimeout` for it) and returns with the
   * cost estimate (USD) it carries. Never fails, never waits for the receiver.
   */
  readonly publish: (record: AuditEntry.CallRecord) => Effect.Effect<number>
  /** Events in the outbox: stored and not yet acknowledged by the receiver. */
  readonly outboxSize: Effect.Effect<number>
  /** Events not yet delivered: in the outbox, or still being stored. */
  readonly pending: Effect.Effect<number>
}

/**
 * @since 0.1.0
 * @category context
 */
export class MetricsWebhook extends Context.Tag("@genesys-llm/core/MetricsWebhook")<MetricsWebhook, Service>() {}

/**
 * The default outbox path, `Outbox.defaultPath`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultOutboxPath = Outbox.defaultPath

/**
 * How the webhook delivers, whatever outbox it delivers from.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeliveryOptions {
  /** The receiver. It is never logged. */
  readonly url: string | URL | Redacted.Redacted<string>
  /** How long one delivery may take (default 3 seconds). */
  readonly timeout?: Duration.DurationInput | undefined
  readonly costs?: CostTable | undefined
  /** Redelivery backoff: the first delay (default 1 second), doubling up to `maxDelay` (default 5 minutes). */
  readonly redelivery?: {
    readonly initialDelay?: Duration.DurationInput | undefined
    readonly maxDelay?: Duration.DurationInput | undefined
  } | undefined
  /** Deliveries at once (default 4). */
  readonly concurrency?: number | undefined
  /** How long `publish` waits for the outbox to store its event (default 1 second). */
  readonly storeTimeout?: Duration.DurationInput | undefined
}

/**
 * The delivery options and the file outbox's.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends DeliveryOptions {
  /** The outbox file (default `./llm-webhook-outbox.jsonl`). */
  readonly outboxPath?: string | undefined
  /** The most events the outbox keeps (default 10,000); beyond it the oldest are dropped. */
  readonly maxOutboxEntries?: number | undefined
  /** When the outbox file is synced (default after every write). */
  readonly outboxFsync?: AuditLog.FsyncPolicy | undefined
  /** How long to wait for another writer of the outbox file to close it (default 30 seconds); 0 fails at once. */
  readonly lockWait?: Duration.DurationInput | undefined
}

type FailureReason = "timeout" | "transport" | "status"

const classify = (error: HttpClientError.HttpClientError | "timeout"): FailureReason =>
  error === "timeout"
    ? "timeout"
    : error._tag === "ResponseError" && error.reason === "StatusCode"
    ? "status"
    : "transport"

// One POST, bounded by `timeout`, counted either way: succeeds only on a 2xx answer.
const poster = (client: HttpClient.HttpClient, url: string, timeout: Duration.Duration) => (event: Event) =>
  client.execute(
    HttpClientRequest.post(url).pipe(HttpClientRequest.bodyText(JSON.stringify(event), "application/json"))
  ).pipe(
    Effect.flatMap((response) => Effect.ignore(response.text)),
    Effect.timeoutFail({ duration: timeout, onTimeout: () => "timeout" as const }),
    Effect.mapError(classify),
    Effect.tapBoth({
      onFailure: (reason) => Metric.increment(Metric.tagged(Metrics.webhookFailures, "reason", reason)),
      onSuccess: () => Metric.increment(Metrics.webhookDelivered)
    }),
    Effect.withSpan("MetricsWebhook.deliver")
  )

/**
 * Starts the webhook over the `Outbox` in context: forks the delivery fiber in the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: DeliveryOptions
): Effect.Effect<Service, never, HttpClient.HttpClient | Outbox.Outbox | Scope.Scope> =>
  Effect.gen(function*() {
    const outbox = yield* Outbox.Outbox
    const client = (yield* HttpClient.HttpClient).pipe(
      HttpClient.filterStatusOk,
      // The platform's client span would record the URL, which may carry a token.
      HttpClient.withTracerDisabledWhen(() => true)
    )
    const url = Redacted.isRedacted(options.url) ? Redacted.value(options.url) : String(options.url)
    const timeout = Duration.decode(options.timeout ?? Duration.seconds(3))
    const costs = options.costs ?? defaultCosts
    const storeTimeout = Duration.decode(options.storeTimeout ?? Duration.seconds(1))

    // Stores run in fibers of their own, so that one that outlasts `storeTimeout` still finishes; closing waits
    // for them (the set's own finalizer, which interrupts, runs after this one).
    const stores = yield* FiberSet.make<void>()
    let closed = false
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(
        Effect.sync(() => {
          closed = true
        }),
        FiberSet.awaitEmpty(stores)
      )
    )
    // After close, the outbox may be closing too: what it can no longer take is counted, not thrown at the caller.
    const storeAfterClose = (event: Event) =>
      outbox.store([event]).pipe(
        Effect.onInterrupt(() =>
          Effect.zipRight(
            Metric.increment(Metric.tagged(Metrics.outboxDropped, "reason", "closed")),
            Effect.logWarning("metrics webhook: an event published after close was not stored")
          )
        ),
        Effect.forkDaemon
      )

    yield* Effect.forkScoped(deliveryLoop({
      outbox,
      post: poster(client, url, timeout),
      concurrency: Math.max(1, Math.floor(options.concurrency ?? 4)),
      // Longer than any delivery, so that a live claimer's claim does not run out under it.
      lease: Duration.max(Duration.seconds(30), Duration.times(timeout, 2)),
      initialDelay: Duration.decode(options.redelivery?.initialDelay ?? Duration.seconds(1)),
      maxDelay: Duration.decode(options.redelivery?.maxDelay ?? Duration.minutes(5)),
      idle: Duration.seconds(1)
    }))

    return {
      publish: Effect.fn("MetricsWebhook.publish")(function*(record: AuditEntry.CallRecord) {
        const event = eventOf(record, yield* randomEventId, costs)
        const store = closed ? yield* storeAfterClose(event) : yield* FiberSet.run(stores, outbox.store([event]))
        // Interruptible: a call publishes from its finalizer, where the timeout could not stop the wait otherwise.
        yield* Effect.timeoutOption(Effect.interruptible(Fiber.await(store)), storeTimeout)
        return event.cost_estimate_usd
      }),
      outboxSize: outbox.count,
      pending: Effect.zipWith(outbox.count, FiberSet.size(stores), (kept, storing) => kept + storing)
    }
  })

/**
 * The webhook over an outbox in a file (`Outbox.layerFile` with `outboxPath`, `maxOutboxEntries`, `outboxFsync`
 * and `lockWait`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<
  MetricsWebhook,
  Outbox.OutboxError | FileLock.FileLockError,
  HttpClient.HttpClient | FileSystem.FileSystem | FileLock.FileLock
> => layerDelivery(options).pipe(Layer.provide(Outbox.layerFile(fileOptions(options))))

/**
 * The webhook over the `Outbox` layer provided to it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDelivery = (
  options: DeliveryOptions
): Layer.Layer<MetricsWebhook, never, HttpClient.HttpClient | Outbox.Outbox> =>
  Layer.scoped(MetricsWebhook, make(options))

const fileOptions = (options: Options): Outbox.FileOptions => ({
  path: options.outboxPath,
  maxEntries: options.maxOutboxEntries,
  fsync: options.outboxFsync,
  lockWait: options.lockWait
})

/**
 * A webhook that sends nothing; `publish` still returns the cost estimate, for the metrics.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeNoop = (costs: CostTable = defaultCosts): Service => ({
  publish: (record) =>
    Effect.succeed(costEstimate(AuditEntry.sanitizeModelId(record.modelId), record.tokensUsed, costs)),
  outboxSize: Effect.succeed(0),
  pending: Effect.succeed(0)
})

/**
 * @since 0.1.0
 * @category constructors
 */
export const noop: Service = makeNoop()

/**
 * @since 0.1.0
 * @category layers
 */
export const layerNoop: Layer.Layer<MetricsWebhook> = Layer.succeed(MetricsWebhook, noop)

/**
 * Whether a value is a URL the webhook accepts: an absolute http or https URL. `urlConfig` applies it to
 * `COST_TRACKING_WEBHOOK`; a command line can apply it to a flag.
 *
 * @since 0.1.0
 * @category utils
 */
export const isHttpUrl = (value: string): boolean => {
  try {
    const parsed = new URL(value)
    return parsed.protocol === "http:" || parsed.protocol === "https:"
  } catch {
    return false
  }
}

/**
 * `COST_TRACKING_WEBHOOK` as a `Redacted`, absent when it is not set. A URL that is not http(s) is a `ConfigError`
 * naming the variable, without repeating the value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const urlConfig: Config.Config<Option.Option<Redacted.Redacted<string>>> = Config.option(
  Config.redacted("COST_TRACKING_WEBHOOK").pipe(
    Config.mapOrFail((value) =>
      isHttpUrl(Redacted.value(value))
        ? Either.right(value)
        : Either.left(ConfigError.InvalidData(["COST_TRACKING_WEBHOOK"], "expected an http or https URL"))
    )
  )
)

/**
 * The webhook URL from `COST_TRACKING_WEBHOOK` (a `Redacted`; when it is not set, the webhook is the noop) and
 * the outbox path from `COST_TRACKING_OUTBOX_PATH` (default `./llm-webhook-outbox.jsonl`). A URL that is not
 * http(s) is a `ConfigError` that does not repeat the value.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Omit<Options, "url" | "outboxPath"> & {
    readonly url?: Config.Config<Option.Option<Redacted.Redacted<string>>> | undefined
    readonly outboxPath?: Config.Config<string> | undefined
  } = {}
): Layer.Layer<
  MetricsWebhook,
  Outbox.OutboxError | FileLock.FileLockError | ConfigError.ConfigError,
  HttpClient.HttpClient | FileSystem.FileSystem | FileLock.FileLock
> =>
  Layer.unwrapEffect(
    Effect.gen(function*() {
      const url = yield* (options.url ?? urlConfig)
      if (Option.isNone(url)) return Layer.succeed(MetricsWebhook, makeNoop(options.costs))
      const outboxPath = yield* (options.outboxPath ??
        Config.string("COST_TRACKING_OUTBOX_PATH").pipe(Config.withDefault(defaultOutboxPath)))
      return layer({ ...options, url: url.value, outboxPath })
    })
  )
