/**
 * The cost-tracking webhook: after each call, the specification's flat payload
 * (`{event: "llm_prompt_completed", event_id, timestamp, model, latency_ms, tokens_used, cost_estimate_usd}`) is
 * POSTed to a configured URL, with a 3 second timeout, in the background.
 *
 * - `publish` only queues the event and returns: it never waits for the receiver and never fails.
 * - A fiber of the layer's scope delivers queued events. One that cannot be delivered (timeout, transport error,
 *   non-2xx answer) goes to a durable outbox: a JSONL file through `FileSystem`, appended and synced. While the
 *   outbox holds anything, new events join it behind the older ones instead of being tried first.
 * - A second fiber redelivers the outbox, oldest first, with exponential backoff (1 s doubling to 5 min by
 *   default) while the receiver keeps failing. Delivered events leave the outbox; the file is rewritten
 *   atomically (a temporary file, synced, renamed over the outbox) every 256 removals and when a pass ends.
 * - The layer loads the outbox when it starts, so events survive a restart; when its scope closes, what is still
 *   queued or in flight is written to the outbox.
 * - The outbox is bounded (10,000 events by default). When it is full the oldest events are dropped, counted in
 *   `genesys_llm_webhook_outbox_dropped_total` and logged: after an outage that long, recent cost data is worth
 *   more than the oldest, and refusing the newest would lose data just the same. Its size is the gauge
 *   `genesys_llm_webhook_outbox_size`.
 *
 * Delivery is at least once: `event_id` (a UUID v4) lets a receiver drop the rare duplicate (an event that
 * reached the receiver but whose answer did not come back in time, or was in flight when the process stopped).
 * The payload is built from an `AuditEntry.CallRecord`, so it carries no prompt text by construction; the URL is
 * never logged (it may carry a token).
 *
 * @since 0.1.0
 */
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Chunk from "effect/Chunk"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as AuditEntry from "./AuditEntry.js"
import * as IdGenerator from "./IdGenerator.js"
import { isNotFound, reasonOf } from "./internal/platformError.js"
import * as Metrics from "./Metrics.js"

// -----------------------------------------------------------------------------
// The payload
// -----------------------------------------------------------------------------

/**
 * The webhook's payload, as the specification has it plus `event_id`.
 *
 * @since 0.1.0
 * @category models
 */
export const Event = Schema.Struct({
  event: Schema.Literal("llm_prompt_completed"),
  event_id: Schema.String.pipe(
    Schema.filter((s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s), {
      message: () => "expected a UUID"
    })
  ),
  timestamp: AuditEntry.Timestamp,
  model: AuditEntry.ModelId,
  latency_ms: Schema.NonNegativeInt,
  tokens_used: Schema.NonNegativeInt,
  cost_estimate_usd: Schema.NonNegative
}).annotations({ identifier: "MetricsWebhookEvent" })

/**
 * @since 0.1.0
 * @category models
 */
export type Event = typeof Event.Type

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
   * Queues the event of a finished call and returns at once with the cost estimate (USD) it carries. Never
   * fails, never waits for the receiver.
   */
  readonly publish: (record: AuditEntry.CallRecord) => Effect.Effect<number>
  /** Events in the outbox, waiting for redelivery. */
  readonly outboxSize: Effect.Effect<number>
  /** Events not yet delivered: queued, in flight or in the outbox. */
  readonly pending: Effect.Effect<number>
}

/**
 * @since 0.1.0
 * @category context
 */
export class MetricsWebhook extends Context.Tag("@genesys-llm/core/MetricsWebhook")<MetricsWebhook, Service>() {}

/**
 * The outbox could not be read when the webhook started (a missing outbox is not an error: it is empty).
 *
 * @since 0.1.0
 * @category errors
 */
export class WebhookOutboxError extends Schema.TaggedError<WebhookOutboxError>(
  "@genesys-llm/core/WebhookOutboxError"
)("WebhookOutboxError", {
  reason: Schema.Literal("no-space", "permission-denied", "not-found", "busy", "io"),
  path: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `could not read the metrics webhook outbox ${this.path} (${this.reason})`
  }
}

/**
 * The default outbox path.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultOutboxPath = "./llm-webhook-outbox.jsonl"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The receiver. It is never logged. */
  readonly url: string | URL | Redacted.Redacted<string>
  /** The outbox file (default `./llm-webhook-outbox.jsonl`). */
  readonly outboxPath?: string | undefined
  /** The most events the outbox keeps (default 10,000); beyond it the oldest are dropped. */
  readonly maxOutboxEntries?: number | undefined
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
}

type FailureReason = "timeout" | "transport" | "status"

const classify = (error: HttpClientError.HttpClientError | "timeout"): FailureReason =>
  error === "timeout"
    ? "timeout"
    : error._tag === "ResponseError" && error.reason === "StatusCode"
    ? "status"
    : "transport"

const decodeEvent = Schema.decodeUnknownEither(Schema.parseJson(Event))
const encoder = new TextEncoder()
const rewriteEvery = 256

/**
 * Starts the webhook: loads the outbox and forks the delivery and redelivery fibers in the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<Service, WebhookOutboxError, HttpClient.HttpClient | FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const client = (yield* HttpClient.HttpClient).pipe(
      HttpClient.filterStatusOk,
      // The platform's client span would record the URL, which may carry a token.
      HttpClient.withTracerDisabledWhen(() => true)
    )
    const url = Redacted.isRedacted(options.url) ? Redacted.value(options.url) : String(options.url)
    const outboxPath = options.outboxPath ?? defaultOutboxPath
    const tempPath = `${outboxPath}.tmp`
    const maxEntries = Math.max(1, Math.floor(options.maxOutboxEntries ?? 10_000))
    const timeout = Duration.decode(options.timeout ?? Duration.seconds(3))
    const costs = options.costs ?? defaultCosts
    const initialDelay = Duration.decode(options.redelivery?.initialDelay ?? Duration.seconds(1))
    const maxDelay = Duration.decode(options.redelivery?.maxDelay ?? Duration.minutes(5))
    const concurrency = Math.max(1, Math.floor(options.concurrency ?? 4))

    // -- the outbox. `outbox` mirrors the file: it changes only under `lock`, and only after the file was written
    // (or its write failed and `fileStale` says so), so whoever sees an event in `outbox` finds it on disk too.
    const lock = yield* Effect.makeSemaphore(1)
    let outbox: ReadonlyArray<Event> = []
    let fileStale = false // the file does not match `outbox`: rewrite it at the next chance
    let removedSinceRewrite = 0

    const setGauge = Effect.suspend(() => Metric.set(Metrics.outboxSize, outbox.length))
    const fileFailed = (operation: string) => (error: PlatformError.PlatformError) =>
      Effect.zipRight(
        Metric.increment(Metric.tagged(Metrics.outboxWriteFailures, "operation", operation)),
        Effect.logWarning("metrics webhook: outbox write failed; events stay in memory").pipe(
          Effect.annotateLogs({ operation, reason: reasonOf(error) })
        )
      ).pipe(Effect.zipRight(Effect.sync(() => {
        fileStale = true
      })))

    const linesOf = (events: ReadonlyArray<Event>) =>
      encoder.encode(events.map((e) => `${JSON.stringify(e)}\n`).join(""))

    // (An empty write is skipped: Node's `writeAll` reports writing 0 bytes as an error.)
    const writeSynced = (path: string, bytes: Uint8Array, flag: FileSystem.OpenFlag) =>
      Effect.scoped(
        Effect.flatMap(
          fs.open(path, { flag }),
          (file) => Effect.zipRight(bytes.length > 0 ? file.writeAll(bytes) : Effect.void, file.sync)
        )
      )

    // Writes the whole outbox to a temporary file, syncs it, and renames it over the outbox.
    const rewrite = (events: ReadonlyArray<Event>) =>
      writeSynced(tempPath, linesOf(events), "w").pipe(
        Effect.zipRight(fs.rename(tempPath, outboxPath)),
        Effect.zipRight(Effect.sync(() => {
          fileStale = false
          removedSinceRewrite = 0
        })),
        Effect.catchAll(fileFailed("rewrite"))
      )

    const wake = yield* Queue.sliding<void>(1)

    // Adds events behind the ones already kept. Never fails: a file that cannot be written leaves them in memory.
    const persist = (events: ReadonlyArray<Event>) =>
      Effect.uninterruptible(
        lock.withPermits(1)(Effect.gen(function*() {
          const known = new Set(outbox.map((e) => e.event_id))
          const fresh = events.filter((e) => !known.has(e.event_id))
          if (fresh.length === 0) return
          let next = [...outbox, ...fresh]
          const overflow = next.length - maxEntries
          if (overflow > 0) {
            next = next.slice(overflow)
            yield* Metric.incrementBy(Metric.tagged(Metrics.outboxDropped, "reason", "full"), overflow)
            yield* Effect.logWarning("metrics webhook: outbox full, oldest events dropped").pipe(
              Effect.annotateLogs({ dropped: overflow, maxEntries })
            )
            fileStale = true
          }
          if (fileStale) yield* rewrite(next)
          else yield* writeSynced(outboxPath, linesOf(fresh), "a").pipe(Effect.catchAll(fileFailed("append")))
          outbox = next
          yield* setGauge
          yield* Queue.offer(wake, undefined)
        }))
      )

    // -- load what a previous run left
    const loaded = yield* fs.readFileString(outboxPath).pipe(
      Effect.catchIf(isNotFound, () => Effect.succeed("")),
      Effect.mapError((error) => new WebhookOutboxError({ reason: reasonOf(error), path: outboxPath, cause: error }))
    )
    const restored: Array<Event> = []
    const ids = new Set<string>()
    let unreadable = 0
    for (const line of loaded.split("\n")) {
      if (line.trim() === "") continue
      const decoded = decodeEvent(line)
      if (Either.isLeft(decoded)) unreadable++
      else if (!ids.has(decoded.right.event_id)) {
        ids.add(decoded.right.event_id)
        restored.push(decoded.right)
      }
    }
    if (unreadable > 0) {
      // A torn last line from a crash: the event it held cannot be read back.
      yield* Effect.logWarning("metrics webhook: unreadable outbox lines skipped").pipe(
        Effect.annotateLogs({ lines: unreadable })
      )
      yield* Metric.incrementBy(Metric.tagged(Metrics.outboxDropped, "reason", "unreadable"), unreadable)
      fileStale = true
    }
    const excess = restored.length - maxEntries
    if (excess > 0) {
      yield* Metric.incrementBy(Metric.tagged(Metrics.outboxDropped, "reason", "full"), excess)
      fileStale = true
    }
    outbox = excess > 0 ? restored.slice(excess) : restored
    if (fileStale) yield* rewrite(outbox)
    yield* setGauge

    // -- delivery
    const deliver = (event: Event) =>
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

    // Runs `f` over `items`, `concurrency` at a time, in child fibers (interrupted with this fiber). Plain forks
    // rather than a concurrent `forEach`: closing the scope while such a `forEach` was starting its fibers was
    // seen to hang under TestClock.
    const permits = yield* Effect.makeSemaphore(concurrency)
    const inParallel = <A, B>(items: ReadonlyArray<A>, f: (item: A) => Effect.Effect<B>) =>
      Effect.flatMap(
        Effect.forEach(items, (item) => Effect.fork(permits.withPermits(1)(f(item)))),
        Fiber.joinAll
      )

    const queue = yield* Queue.unbounded<Event>()
    const inFlight = new Map<string, Event>()
    // Set by a failed delivery, cleared when the outbox has been drained: while it is set, and while the outbox
    // holds anything, new events go behind the kept ones rather than being tried first.
    let receiverDown = false
    let closed = false

    const deliverBatch = (batch: ReadonlyArray<Event>) =>
      Effect.gen(function*() {
        let failed: ReadonlyArray<Event> = batch
        if (!receiverDown && outbox.length === 0) {
          const results = yield* inParallel(batch, (event) =>
            Effect.suspend(() =>
              // After one failure the rest of the batch is not tried: it joins the outbox at once.
              receiverDown
                ? Effect.succeed(false)
                : deliver(event).pipe(
                  Effect.as(true),
                  Effect.catchAll(() => Effect.sync(() => (receiverDown = true, false)))
                )
            ))
          failed = batch.filter((_, i) => !results[i])
        }
        // In the order they were published: the outbox drops its oldest first.
        if (failed.length > 0) yield* persist(failed)
        // Only once delivered or kept: an interrupted delivery stays in flight for the finalizer to keep.
        for (const event of batch) inFlight.delete(event.event_id)
      })

    const deliveryLoop = Effect.uninterruptibleMask((restore) =>
      restore(Queue.takeBetween(queue, 1, 64)).pipe(
        Effect.tap((batch) =>
          Effect.sync(() => {
            for (const event of batch) inFlight.set(event.event_id, event)
          })
        ),
        Effect.flatMap((batch) => restore(deliverBatch(Chunk.toReadonlyArray(batch))))
      )
    ).pipe(Effect.forever)

    // One pass over the outbox, oldest first; true when it is empty at the end.
    const drain = Effect.gen(function*() {
      for (;;) {
        const chunk = outbox.slice(0, concurrency)
        if (chunk.length === 0) return true
        const results = yield* inParallel(chunk, (e) => Effect.either(deliver(e)))
        const delivered = new Set(chunk.filter((_, i) => Either.isRight(results[i])).map((e) => e.event_id))
        const failed = delivered.size < chunk.length
        yield* Effect.uninterruptible(
          lock.withPermits(1)(Effect.gen(function*() {
            const next = outbox.filter((e) => !delivered.has(e.event_id))
            if (delivered.size > 0) {
              removedSinceRewrite += delivered.size
              fileStale = true
            }
            if (fileStale && (failed || next.length === 0 || removedSinceRewrite >= rewriteEvery)) yield* rewrite(next)
            outbox = next
            yield* setGauge
          }))
        )
        if (failed) return false
      }
    })

    const redeliveryLoop = Effect.gen(function*() {
      let delay = initialDelay
      for (;;) {
        const empty = yield* drain
        if (empty) {
          receiverDown = false
          delay = initialDelay
          yield* Queue.take(wake)
        } else {
          yield* Effect.sleep(delay)
          delay = Duration.min(Duration.times(delay, 2), maxDelay)
        }
      }
    })

    // Registered before the fibers are forked, so it runs after they were interrupted.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        closed = true
        const queued = yield* Queue.takeAll(queue)
        yield* persist([...queued, ...inFlight.values()])
        inFlight.clear()
        if (fileStale) yield* lock.withPermits(1)(Effect.suspend(() => rewrite(outbox)))
      })
    )
    yield* Effect.forkScoped(deliveryLoop)
    yield* Effect.forkScoped(redeliveryLoop)
    if (outbox.length > 0) yield* Queue.offer(wake, undefined)

    return {
      publish: Effect.fn("MetricsWebhook.publish")(function*(record: AuditEntry.CallRecord) {
        const event = eventOf(record, yield* randomEventId, costs)
        // Checked and queued in one synchronous step: the finalizer cannot slip in between.
        yield* Effect.suspend(() => closed ? persist([event]) : Effect.sync(() => queue.unsafeOffer(event)))
        return event.cost_estimate_usd
      }),
      outboxSize: Effect.sync(() => outbox.length),
      pending: Effect.sync(() =>
        outbox.length + inFlight.size + Math.max(0, queue.unsafeSize().pipe(Option.getOrElse(() => 0)))
      )
    }
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<MetricsWebhook, WebhookOutboxError, HttpClient.HttpClient | FileSystem.FileSystem> =>
  Layer.scoped(MetricsWebhook, make(options))

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
  WebhookOutboxError | ConfigError.ConfigError,
  HttpClient.HttpClient | FileSystem.FileSystem
> =>
  Layer.scoped(
    MetricsWebhook,
    Effect.gen(function*() {
      const url = yield* (options.url ?? urlConfig)
      if (Option.isNone(url)) return makeNoop(options.costs)
      const outboxPath = yield* (options.outboxPath ??
        Config.string("COST_TRACKING_OUTBOX_PATH").pipe(Config.withDefault(defaultOutboxPath)))
      return yield* make({ ...options, url: url.value, outboxPath })
    })
  )
