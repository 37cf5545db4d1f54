import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as AuditLog from "../AuditLog.js"
import * as FileLock from "../FileLock.js"
import * as Metrics from "../Metrics.js"
import { keepAside, writeSynced } from "./fileWrite.js"
import { countDropped, type OutboxState, type Persistence } from "./outboxState.js"
import { type FileFailureReason, isNotFound, reasonOf } from "./platformError.js"
import { Event } from "./webhookEvent.js"

/** @internal */
export interface FileStoreOptions<E> {
  readonly path: string
  readonly fsync: AuditLog.FsyncPolicy | undefined
  readonly lockWait: Duration.DurationInput | undefined
  readonly openError: (reason: FileFailureReason, path: string, cause: unknown) => E
}

const Removed = Schema.Struct({ removed: Schema.Array(Schema.String) })
const decodeEvent = Schema.decodeUnknownEither(Schema.parseJson(Event))
const decodeRemoved = Schema.decodeUnknownEither(Schema.parseJson(Removed))
const encoder = new TextEncoder()
const decoder = new TextDecoder()
const rewriteAtDead = 256
const maxBatch = 256

const eventLines = (events: ReadonlyArray<Event>) => events.map((e) => `${JSON.stringify(e)}\n`).join("")
const removedLine = (ids: ReadonlyArray<string>) => ids.length === 0 ? "" : `${JSON.stringify({ removed: ids })}\n`

interface Loaded {
  readonly events: ReadonlyArray<Event>
  // The file is not the plain list of `events`: rewrite it.
  readonly untidy: boolean
}

// Reads the journal back: events in order, minus the removed ones. Lines that cannot be read are kept aside.
const load = <E>(fs: FileSystem.FileSystem, options: FileStoreOptions<E>): Effect.Effect<Loaded, E> =>
  Effect.gen(function*() {
    const path = options.path
    const fail = (error: PlatformError.PlatformError) => options.openError(reasonOf(error), path, error)
    const bytes = yield* fs.readFile(path).pipe(
      Effect.catchIf(isNotFound, () => Effect.succeed(new Uint8Array(0))),
      Effect.mapError(fail)
    )
    const kept = new Map<string, Event>()
    const unreadable: Array<Uint8Array> = []
    let untidy = false
    for (let start = 0; start < bytes.length;) {
      const newline = bytes.indexOf(0x0a, start)
      const end = newline === -1 ? bytes.length : newline + 1
      const raw = bytes.subarray(start, end)
      start = end
      const line = decoder.decode(raw).trim()
      if (newline === -1) untidy = true
      if (line === "") continue
      const event = decodeEvent(line)
      if (Either.isRight(event)) {
        if (kept.has(event.right.event_id)) untidy = true
        else kept.set(event.right.event_id, event.right)
        continue
      }
      const removed = decodeRemoved(line)
      if (Either.isRight(removed)) {
        untidy = true
        for (const id of removed.right.removed) kept.delete(id)
        continue
      }
      unreadable.push(raw)
    }
    if (unreadable.length > 0) {
      untidy = true
      const all = new Uint8Array(unreadable.reduce((n, b) => n + b.length, 0))
      unreadable.reduce((offset, b) => (all.set(b, offset), offset + b.length), 0)
      const suffix = yield* Effect.mapError(keepAside(fs, path, "unreadable", all), fail)
      yield* Metric.incrementBy(Metric.tagged(Metrics.outboxDropped, "reason", "unreadable"), unreadable.length)
      yield* Effect.logWarning("metrics webhook: unreadable outbox lines moved aside").pipe(
        Effect.annotateLogs({ lines: unreadable.length, bytes: all.length, sideFile: `${path}${suffix}` })
      )
    }
    return { events: [...kept.values()], untidy }
  })

type Request =
  | { readonly _tag: "Keep"; readonly events: ReadonlyArray<Event>; readonly done: Deferred.Deferred<void> }
  | { readonly _tag: "Forget"; readonly ids: ReadonlyArray<string>; readonly done: Deferred.Deferred<void> }
  | { readonly _tag: "Sync" }

// The file and what is known of it: how many lines it holds, whether it still matches the state, what is not
// synced yet. Owned by the writer fiber (and by the finalizer once that fiber has stopped). Its writes never
// fail: a failure is counted and logged, and leaves the file marked stale, to be rewritten whole next time.
const makeJournal = (
  fs: FileSystem.FileSystem,
  path: string,
  policy: AuditLog.FsyncPolicy,
  initialLines: number
) => {
  const tempPath = `${path}.tmp`
  let lines = initialLines
  let stale = false
  let unsynced = 0

  const failed = (operation: string) => (error: PlatformError.PlatformError) =>
    Effect.zipRight(
      Metric.increment(Metric.tagged(Metrics.outboxWriteFailures, "operation", operation)),
      Effect.logWarning("metrics webhook: outbox write failed; events stay in memory").pipe(
        Effect.annotateLogs({ operation, reason: reasonOf(error) })
      )
    ).pipe(Effect.zipRight(Effect.sync(() => {
      stale = true
    })))

  const written = (next: { readonly lines: number; readonly unsynced: number }) =>
    Effect.sync(() => {
      lines = next.lines
      unsynced = next.unsynced
    })

  return {
    get lines() {
      return lines
    },
    get stale() {
      return stale
    },
    /** The whole file, from `events`: a temporary file, synced, renamed over it. */
    rewrite: (events: ReadonlyArray<Event>) =>
      writeSynced(fs, tempPath, encoder.encode(eventLines(events)), "w").pipe(
        Effect.zipRight(fs.rename(tempPath, path)),
        Effect.zipRight(Effect.sync(() => {
          stale = false
        })),
        Effect.zipRight(written({ lines: events.length, unsynced: 0 })),
        Effect.catchAll(failed("rewrite"))
      ),
    /** `count` lines at the end, synced as the policy says. */
    append: (text: string, count: number) =>
      Effect.scoped(Effect.gen(function*() {
        const file = yield* fs.open(path, { flag: "a" })
        yield* file.writeAll(encoder.encode(text))
        const pending = unsynced + count
        const due = policy._tag === "EveryEntry" || pending >= policy.entries
        if (due) yield* file.sync
        yield* written({ lines: lines + count, unsynced: due ? 0 : pending })
      })).pipe(Effect.catchAll(failed("append"))),
    /** An empty outbox is an empty file: cheaper than a rewrite, and what a reader expects. */
    empty: writeSynced(fs, path, new Uint8Array(0), "w").pipe(
      Effect.zipRight(written({ lines: 0, unsynced: 0 })),
      Effect.catchAll(failed("truncate"))
    ),
    syncPending: Effect.suspend(() =>
      unsynced === 0 ? Effect.void : Effect.scoped(Effect.flatMap(fs.open(path, { flag: "a" }), (file) => file.sync))
        .pipe(Effect.zipRight(written({ lines, unsynced: 0 })), Effect.catchAll(failed("sync")))
    )
  }
}

type Journal = ReturnType<typeof makeJournal>

// One batch of requests: the new events and the removals go out in one write (or a whole rewrite when the file is
// stale), and only then join the state, so that whoever claims an event finds its line in the file.
const processBatch = (state: OutboxState, journal: Journal, batch: Iterable<Request>) =>
  Effect.gen(function*() {
    const keeps: Array<Extract<Request, { _tag: "Keep" }>> = []
    const forgets: Array<Extract<Request, { _tag: "Forget" }>> = []
    let syncRequested = false
    for (const request of batch) {
      if (request._tag === "Keep") keeps.push(request)
      else if (request._tag === "Forget") forgets.push(request)
      else syncRequested = true
    }
    const plan = state.plan(keeps.flatMap((r) => r.events))
    const droppedKept = plan.drop.filter((e) => state.has(e.event_id)).map((e) => e.event_id)
    const removed = [...forgets.flatMap((r) => r.ids), ...droppedKept]
    if (journal.stale) {
      const dropped = new Set(droppedKept)
      yield* journal.rewrite([...state.events().filter((e) => !dropped.has(e.event_id)), ...plan.add])
    } else if (state.size - droppedKept.length + plan.add.length === 0 && journal.lines > 0) {
      yield* journal.empty
    } else if (plan.add.length > 0 || removed.length > 0) {
      yield* journal.append(
        eventLines(plan.add) + removedLine(removed),
        plan.add.length + (removed.length > 0 ? 1 : 0)
      )
    }
    if (syncRequested) yield* journal.syncPending
    state.apply(plan)
    yield* countDropped(plan.drop.length, state.maxEntries)
    const dead = journal.lines - state.size
    if (!journal.stale && dead >= rewriteAtDead && dead >= state.size) yield* journal.rewrite(state.events())
    for (const request of [...keeps, ...forgets]) yield* Deferred.succeed(request.done, undefined)
  })

/**
 * The file layer's persistence: takes the lock, loads the journal into `state`, and returns how new events and
 * acknowledgements reach the file (one writer fiber, batching concurrent requests into one write and one sync).
 * @internal
 */
export const makeFileStore = <E>(
  state: OutboxState,
  options: FileStoreOptions<E>
): Effect.Effect<Persistence, E | FileLock.FileLockError, FileSystem.FileSystem | FileLock.FileLock | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const policy: AuditLog.FsyncPolicy = options.fsync ?? { _tag: "EveryEntry" }
    yield* FileLock.acquire(options.path, { wait: options.lockWait })
    const loaded = yield* load(fs, options)
    const initial = state.plan(loaded.events)
    state.apply(initial)
    yield* countDropped(initial.drop.length, state.maxEntries)
    const journal = makeJournal(fs, options.path, policy, loaded.events.length)
    if (loaded.untidy || initial.drop.length > 0) yield* journal.rewrite(state.events())

    const queue = yield* Queue.unbounded<Request>()
    const writer = Queue.takeBetween(queue, 1, maxBatch).pipe(
      Effect.flatMap((batch) => Effect.uninterruptible(processBatch(state, journal, batch))),
      Effect.forever,
      Effect.interruptible
    )
    // Added after the lock was taken, so it runs before the lock is let go: finish the batch in hand, write what is
    // still queued, and sync.
    const fiber = yield* Effect.forkDaemon(writer)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Fiber.interrupt(fiber)
        yield* processBatch(state, journal, yield* Queue.takeAll(queue))
        yield* journal.syncPending
        yield* Queue.shutdown(queue)
      })
    )
    if (policy._tag === "Batched") {
      yield* Effect.sleep(policy.interval).pipe(
        Effect.zipRight(Queue.offer(queue, { _tag: "Sync" })),
        Effect.forever,
        Effect.forkScoped
      )
    }

    const request = (make: (done: Deferred.Deferred<void>) => Request) =>
      Effect.flatMap(
        Deferred.make<void>(),
        (done) => Effect.zipRight(Queue.offer(queue, make(done)), Deferred.await(done))
      )

    return {
      keep: (events) => request((done) => ({ _tag: "Keep", events, done })),
      forget: (ids) => request((done) => ({ _tag: "Forget", ids, done }))
    }
  })
