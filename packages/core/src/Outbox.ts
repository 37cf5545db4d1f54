/**
 * The webhook outbox: where an event waits, from the moment it is published until its receiver acknowledged it.
 * The webhook (`MetricsWebhook`) only delivers: it stores each event here before its first delivery attempt,
 * claims events to deliver, acknowledges those the receiver took and releases the others for a later try.
 *
 * The contract, which every layer keeps (a PostgreSQL table as much as the file):
 *
 * - `store` keeps events (by `event_id`: storing one twice keeps one) and returns once they are kept under the
 *   layer's durability policy; it never fails: a layer that cannot persist keeps them in memory, counts the failure
 *   (`genesys_llm_webhook_outbox_write_failures_total`) and persists them at its next chance. A layer may be
 *   bounded: beyond its bound it drops its oldest events, counted in `genesys_llm_webhook_outbox_dropped_total`.
 * - `claim` hands out up to `max` events that are due, oldest first, each to one claimer at a time, for `lease`:
 *   an event claimed and neither acknowledged nor released within its lease is due again (its claimer died).
 * - `acknowledge` removes delivered events for good; `release` gives claimed events back, counts an attempt, and
 *   makes them due again after `delay`.
 * - `count` and `list` show what is kept; `awaitWork` lets a deliverer sleep until something may be due.
 *
 * An event is sent twice only when its receiver took it but the acknowledgement did not reach the outbox (the
 * answer came too late, or the process died in between): `event_id` lets the receiver drop that duplicate.
 *
 * Layers: `layerFile` (a JSONL file, locked for one writer, see `makeFile`), `layerMemory` (in this process only:
 * nothing survives it). The gauge `genesys_llm_webhook_outbox_size` is the number of events kept.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as AuditLog from "./AuditLog.js"
import type * as FileLock from "./FileLock.js"
import { makeFileStore } from "./internal/outboxFile.js"
import { countDropped, type Entry as Entry_, OutboxState, type Persistence } from "./internal/outboxState.js"
import * as WebhookEvent from "./internal/webhookEvent.js"
import * as Metrics from "./Metrics.js"

/**
 * The events an outbox keeps: the webhook's payload (`MetricsWebhook.Event`).
 *
 * @since 0.1.0
 * @category models
 */
export const Event = WebhookEvent.Event

/**
 * @since 0.1.0
 * @category models
 */
export type Event = WebhookEvent.Event

/**
 * A kept event and the number of deliveries tried and released so far (in this process, for the file layer).
 *
 * @since 0.1.0
 * @category models
 */
export type Entry = Entry_

/**
 * @since 0.1.0
 * @category models
 */
export interface ClaimOptions {
  /** The most events to hand out. */
  readonly max: number
  /** How long the claim lasts if it is neither acknowledged nor released. */
  readonly lease: Duration.DurationInput
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Keeps the events; returns once they are kept under the layer's durability policy. Never fails. */
  readonly store: (events: ReadonlyArray<Event>) => Effect.Effect<void>
  /** Claims up to `max` due events, oldest first, for `lease`. */
  readonly claim: (options: ClaimOptions) => Effect.Effect<ReadonlyArray<Entry>>
  /** Removes delivered events (unknown ids are ignored). */
  readonly acknowledge: (eventIds: ReadonlyArray<string>) => Effect.Effect<void>
  /** Gives claimed events back, due again after `delay` (default at once), with one more attempt counted. */
  readonly release: (
    eventIds: ReadonlyArray<string>,
    options?: { readonly delay?: Duration.DurationInput | undefined }
  ) => Effect.Effect<void>
  /** How many events are kept (claimed or not). */
  readonly count: Effect.Effect<number>
  /** The kept events, oldest first, at most `limit` (default all). */
  readonly list: (options?: { readonly limit?: number | undefined }) => Effect.Effect<ReadonlyArray<Entry>>
  /** Returns when events were stored or released since the last call, or after `timeout`. */
  readonly awaitWork: (timeout: Duration.DurationInput) => Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category context
 */
export class Outbox extends Context.Tag("@genesys-llm/core/Outbox")<Outbox, Service>() {}

/**
 * The outbox could not be opened: its file could not be read, or what recovery takes out of it could not be
 * kept aside (a missing file is not an error: the outbox is empty).
 *
 * @since 0.1.0
 * @category errors
 */
export class OutboxError extends Schema.TaggedError<OutboxError>("@genesys-llm/core/OutboxError")("OutboxError", {
  reason: Schema.Literal("no-space", "permission-denied", "not-found", "busy", "io"),
  path: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `could not open the metrics webhook outbox ${this.path} (${this.reason})`
  }
}

/**
 * The default outbox file.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultPath = "./llm-webhook-outbox.jsonl"

/**
 * The default bound: 10,000 events. After an outage that long, recent cost data is worth more than the oldest,
 * and refusing the newest would lose data just the same.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultMaxEntries = 10_000

// -----------------------------------------------------------------------------
// What the layers share
// -----------------------------------------------------------------------------

const makeService = (state: OutboxState, persistence: Persistence): Effect.Effect<Service> =>
  Effect.gen(function*() {
    const work = yield* Queue.sliding<void>(1)
    const changed = Effect.suspend(() =>
      Effect.zipRight(Metric.set(Metrics.outboxSize, state.size), Queue.offer(work, undefined))
    )
    return {
      store: (events) => events.length === 0 ? Effect.void : Effect.zipRight(persistence.keep(events), changed),
      claim: (options) =>
        Effect.map(
          Clock.currentTimeMillis,
          (now) => state.claim(now, Math.max(0, Math.floor(options.max)), Duration.toMillis(options.lease))
        ),
      acknowledge: (eventIds) =>
        Effect.suspend(() => {
          // Out of the state first: an acknowledged event is never handed out again, even while the file catches up.
          const removed = state.remove(eventIds)
          if (removed.length === 0) return Effect.void
          return Effect.zipRight(persistence.forget(removed), Metric.set(Metrics.outboxSize, state.size))
        }),
      release: (eventIds, options) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          state.release(eventIds, now, Duration.toMillis(options?.delay ?? Duration.zero))
          return Queue.offer(work, undefined)
        }),
      count: Effect.sync(() => state.size),
      list: (options) => Effect.sync(() => state.list(options?.limit ?? Number.POSITIVE_INFINITY)),
      awaitWork: (timeout) => Effect.asVoid(Effect.timeoutOption(Queue.take(work), timeout))
    }
  })

// -----------------------------------------------------------------------------
// In memory
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface MemoryOptions {
  /** The most events kept (default 10,000); beyond it the oldest are dropped. */
  readonly maxEntries?: number | undefined
}

const maxEntriesOf = (value: number | undefined) => Math.max(1, Math.floor(value ?? defaultMaxEntries))

/**
 * An outbox in this process's memory: `store` returns at once, and nothing outlives the process.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (options: MemoryOptions = {}): Effect.Effect<Service> => {
  const state = new OutboxState(maxEntriesOf(options.maxEntries))
  return makeService(state, {
    keep: (events) =>
      Effect.suspend(() => {
        const plan = state.plan(events)
        state.apply(plan)
        return countDropped(plan.drop.length, state.maxEntries)
      }),
    forget: () => Effect.void
  })
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options: MemoryOptions = {}): Layer.Layer<Outbox> =>
  Layer.effect(Outbox, makeMemory(options))

// -----------------------------------------------------------------------------
// In a file
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface FileOptions {
  /** The outbox file (default `./llm-webhook-outbox.jsonl`). */
  readonly path?: string | undefined
  /** The most events kept (default 10,000); beyond it the oldest are dropped. */
  readonly maxEntries?: number | undefined
  /** When to `fsync` (default after every write, before `store` or `acknowledge` returns). */
  readonly fsync?: AuditLog.FsyncPolicy | undefined
  /** How long to wait for another writer of the file to close it (default 30 seconds); 0 fails at once. */
  readonly lockWait?: Duration.DurationInput | undefined
}

/**
 * The outbox in a JSONL file, through `FileSystem`, with one writer: it takes the file's `FileLock` when it opens
 * (waiting up to `lockWait`, then failing with `FileLockError` naming the holder) and holds it until its scope
 * closes.
 *
 * - The file is a journal: one line per stored event (the event's JSON), and a `{"removed":[ids]}` line for
 *   events acknowledged or dropped. Writes from concurrent callers are batched into one append and one `fsync`.
 *   An event is claimable only once its line was written (and, with the per-entry policy, synced); an
 *   acknowledgement returns once its line was. When the outbox empties, the file is cut to nothing; when more than
 *   half its lines (and at least 256) are dead, it is rewritten (a temporary file, synced, renamed over it).
 * - A write that fails (no space, say) leaves the events in memory, counted, and the next write rewrites the file
 *   whole.
 * - On open, the journal is read back: the events not removed are kept, oldest first. A line that cannot be read
 *   (a torn last line from a crash) is what a writer that died left: its bytes are kept in `<path>.unreadable-<millis>`
 *   (synced, named in a warning log line, counted in `genesys_llm_webhook_outbox_dropped_total{reason=unreadable}`)
 *   before the file is rewritten without it.
 *
 * Claims and attempts live in memory: after a restart every kept event is due at once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeFile = (
  options: FileOptions = {}
): Effect.Effect<
  Service,
  OutboxError | FileLock.FileLockError,
  FileSystem.FileSystem | FileLock.FileLock | Scope.Scope
> =>
  Effect.gen(function*() {
    const state = new OutboxState(maxEntriesOf(options.maxEntries))
    const persistence = yield* makeFileStore(state, {
      path: options.path ?? defaultPath,
      fsync: options.fsync,
      lockWait: options.lockWait,
      openError: (reason, path, cause) => new OutboxError({ reason, path, cause })
    })
    yield* Metric.set(Metrics.outboxSize, state.size)
    return yield* makeService(state, persistence)
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layerFile = (
  options: FileOptions = {}
): Layer.Layer<Outbox, OutboxError | FileLock.FileLockError, FileSystem.FileSystem | FileLock.FileLock> =>
  Layer.scoped(Outbox, makeFile(options))
