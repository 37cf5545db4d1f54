/**
 * The audit log file: one JSON line per call, appended through `@effect/platform` FileSystem by a single
 * serialised writer, hash-chained, recovered on open, and checked by `verify`.
 *
 * - One writer: the sink takes the exclusive `FileLock` of the log when it opens and holds it while it is open.
 *   A second sink on the same file, in this process or another, waits for the first to close (30 seconds by
 *   default, `lockWait`), then fails with `FileLockError` naming the file and the holder (pid, host); with
 *   `lockWait: 0` it fails at once. Several processes that want one log (instances behind a load balancer, a
 *   fleet of workers) use the database sink, which appends every instance's entries to one chain, not a shared
 *   file.
 * - Whole lines only: the lines of a batch (those queued while the writer was busy), each with its newline, go
 *   out in one `writeAll` on a file opened in append mode by the one writer, so lines never interleave. A failed
 *   write (or, with `fsync` per entry, a failed sync) is rolled back by truncating the file to its last good
 *   length, so an error means the line is not in the log.
 * - Durability: `fsync` after every entry by default; `batched` syncs every N entries, on an interval and on
 *   close (a failed batched sync is reported, the lines stay).
 * - The chain: `seq` counts lines from 1, `prevHash` is the previous line's hash, `hash` the SHA-256 of the
 *   line's canonical JSON without `hash`. Lines are written in canonical form, so any byte changed is seen.
 * - On open, under the lock, the tail is checked: a last line without a newline, or a last line that is not valid
 *   JSON, not a valid entry or not linked to the line before, is what a writer that died left (no other writer
 *   can have written it). Its bytes are kept: copied, synced, to `<path>.torn-<millis>`, named in a warning log
 *   line, counted in `genesys_llm_audit_recoveries_total`; only then is the log cut to its last good line, and a
 *   `recovery` entry that links to that line and carries the SHA-256 of the moved bytes continues the chain. A
 *   log broken before its last line fails to open (`corrupt`): that is tampering or damage for `verify` and a
 *   person, not for automatic repair.
 *
 * What the chain alone cannot show is the loss of the last lines of a log (a truncation at a line boundary):
 * compare `Intact.head` with a copy kept elsewhere to see it.
 *
 * @since 0.1.0
 */
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as AuditEntry from "./AuditEntry.js"
import * as AuditSink from "./AuditSink.js"
import * as FileLock from "./FileLock.js"
import { inspectTail } from "./internal/auditTail.js"
import { LineVerifier } from "./internal/auditVerify.js"
import type { BreakReason as BreakReason_ } from "./internal/auditVerify.js"
import { keepAside } from "./internal/fileWrite.js"
import { isNotFound, reasonOf } from "./internal/platformError.js"
import * as Metrics from "./Metrics.js"

// -----------------------------------------------------------------------------
// Options
// -----------------------------------------------------------------------------

/**
 * When the writer calls `fsync`.
 *
 * @since 0.1.0
 * @category models
 */
export type FsyncPolicy =
  | { readonly _tag: "EveryEntry" }
  | { readonly _tag: "Batched"; readonly entries: number; readonly interval: Duration.DurationInput }

/**
 * `fsync` after every line, before `write` returns (the default).
 *
 * @since 0.1.0
 * @category constructors
 */
export const everyEntry: FsyncPolicy = { _tag: "EveryEntry" }

/**
 * `fsync` once `entries` lines are unsynced (default 100), every `interval` (default 1 second) and on close.
 *
 * @since 0.1.0
 * @category constructors
 */
export const batched = (
  options: { readonly entries?: number; readonly interval?: Duration.DurationInput } = {}
): FsyncPolicy => ({
  _tag: "Batched",
  entries: Math.max(1, Math.floor(options.entries ?? 100)),
  interval: options.interval ?? Duration.seconds(1)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly path: string
  readonly fsync?: FsyncPolicy | undefined
  /** How long to wait for another writer of the file to close it (default 30 seconds); 0 fails at once. */
  readonly lockWait?: Duration.DurationInput | undefined
}

/**
 * The default path of the audit log, as in the specification.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultPath = "./llm-audit.log"

// -----------------------------------------------------------------------------
// The writer
// -----------------------------------------------------------------------------

const encoder = new TextEncoder()
const tailWindow = 64 * 1024

const failure = (operation: AuditSink.WriteOperation, path: string) => (error: PlatformError.PlatformError) =>
  new AuditSink.AuditWriteError({ reason: reasonOf(error), operation, path, cause: error })

// Counts `times` failures (one per line the error concerns).
const recordFailure = (error: AuditSink.AuditSinkError, times = 1): Effect.Effect<void> =>
  Metric.incrementBy(
    Metric.tagged(
      Metric.tagged(
        Metrics.auditWriteFailures,
        "reason",
        error._tag === "AuditWriteError" ? error.reason : "invalid"
      ),
      "operation",
      error._tag === "AuditWriteError" ? error.operation : "validate"
    ),
    times
  )

const countFailure = <A, E extends AuditSink.AuditSinkError, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => Effect.tapError(effect, (error) => recordFailure(error))

const readRange = (
  file: FileSystem.File,
  start: number,
  end: number
): Effect.Effect<Uint8Array, PlatformError.PlatformError> =>
  Effect.gen(function*() {
    const out = new Uint8Array(end - start)
    let offset = 0
    yield* file.seek(start, "start")
    while (offset < out.length) {
      const chunk = yield* file.readAlloc(out.length - offset)
      if (Option.isNone(chunk)) break
      out.set(chunk.value, offset)
      offset += chunk.value.length
    }
    return out.subarray(0, offset)
  })

interface Opened {
  readonly head: AuditEntry.ChainHead
  readonly size: number
  readonly recovery: Omit<AuditEntry.RecoveryRecord, "timestamp"> | undefined
}

// Reads the tail of the log, growing the window until the last good line and its predecessor are in it, and
// moves a torn tail aside.
const openLog = (fs: FileSystem.FileSystem, path: string): Effect.Effect<Opened, AuditSink.AuditWriteError> =>
  Effect.gen(function*() {
    const found = yield* fs.stat(path).pipe(
      Effect.map(Option.some),
      Effect.catchIf(isNotFound, () => Effect.succeed(Option.none())),
      Effect.mapError(failure("open", path))
    )
    if (Option.isNone(found)) return { head: AuditEntry.genesis, size: 0, recovery: undefined }
    const size = Number(found.value.size)

    const inspected = yield* Effect.scoped(Effect.gen(function*() {
      const file = yield* fs.open(path, { flag: "r" })
      let window = tailWindow
      for (;;) {
        const start = Math.max(0, size - window)
        const bytes = yield* readRange(file, start, size)
        const state = inspectTail(bytes, start)
        if (state._tag !== "NeedMore" || start === 0) return { state, bytes, start }
        window *= 2
      }
    })).pipe(Effect.mapError(failure("read", path)))

    const { bytes, start, state } = inspected
    switch (state._tag) {
      case "Clean":
        return { head: state.head, size, recovery: undefined }
      case "NeedMore":
      case "Corrupt":
        return yield* new AuditSink.AuditWriteError({ reason: "corrupt", operation: "recover", path })
      case "Torn": {
        const torn = bytes.subarray(state.goodSize - start)
        const suffix = yield* keepAside(fs, path, "torn", torn).pipe(Effect.mapError(failure("recover", path)))
        yield* fs.truncate(path, state.goodSize).pipe(Effect.mapError(failure("recover", path)))
        yield* Metric.increment(Metric.tagged(Metrics.auditRecoveries, "reason", state.reason))
        yield* Effect.logWarning("audit log: torn tail moved aside").pipe(
          Effect.annotateLogs({ reason: state.reason, tornBytes: torn.length, sideFile: `${path}${suffix}` })
        )
        return {
          head: state.head,
          size: state.goodSize,
          recovery: {
            kind: "recovery",
            reason: state.reason,
            tornBytes: torn.length,
            tornSha256: AuditEntry.sha256(torn),
            sideFile: suffix
          }
        }
      }
    }
  })

type Request =
  | {
    readonly _tag: "Write"
    readonly record: AuditEntry.CallRecord | AuditEntry.RecoveryRecord
    readonly done: Deferred.Deferred<void, AuditSink.AuditWriteError>
  }
  | { readonly _tag: "Sync" }

const maxBatch = 256

/**
 * Takes the log's lock (waiting up to `options.lockWait`), opens (or creates) the log at `options.path`, recovers
 * a torn tail, and returns a sink that appends to it. The lock is let go when the scope closes, after the last
 * line was written and synced.
 *
 * Writes are queued to one writer fiber. It takes what is queued (up to 256 records), writes their lines with one
 * `writeAll` (a failure fails every write of the batch, and none of its lines stays in the file), and with the
 * per-entry policy calls `fsync` once for the batch before any of its writes returns: every entry is synced before
 * its `write` succeeds, and concurrent writers share the write and the sync. When the
 * scope closes, what is queued is written, the file is synced and closed; later writes fail with `closed`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<
  AuditSink.Service,
  AuditSink.AuditWriteError | FileLock.FileLockError,
  FileSystem.FileSystem | FileLock.FileLock | Scope.Scope
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = options.path
    const policy = options.fsync ?? everyEntry
    // Before anything is read: what the tail holds and how long the file is are facts only while no one else writes.
    yield* FileLock.acquire(path, { wait: options.lockWait })
    const opened = yield* countFailure(openLog(fs, path))
    const file = yield* countFailure(fs.open(path, { flag: "a" }).pipe(Effect.mapError(failure("open", path))))

    // Owned by the writer fiber (and by the finalizer once that fiber has stopped).
    let head = opened.head
    let size = opened.size
    let unsynced = 0
    // A rollback failed: the file may hold bytes past `size`, to be cut before the next write.
    let dirty = false
    let closed = false
    const queue = yield* Queue.unbounded<Request>()

    const rollback = (to: number) =>
      file.truncate(to).pipe(
        Effect.matchEffect({
          onFailure: () =>
            Effect.sync(() => {
              dirty = true
            }),
          onSuccess: () =>
            Effect.sync(() => {
              dirty = false
            })
        })
      )

    // The lines of a batch, chained after `head`, go out in one `writeAll`: all of them are in the file, or (the
    // write rolled back) none.
    const writeLines = (text: string, last: AuditEntry.ChainHead, count: number) =>
      Effect.gen(function*() {
        if (dirty) {
          yield* file.truncate(size).pipe(Effect.mapError(failure("truncate", path)))
          dirty = false
        }
        const bytes = encoder.encode(text)
        const before = size
        yield* file.writeAll(bytes).pipe(
          Effect.tapError(() => rollback(before)),
          Effect.mapError(failure("write", path))
        )
        head = last
        size += bytes.length
        unsynced += count
      })

    const sync = file.sync.pipe(Effect.mapError(failure("sync", path)))

    const process = (batch: Iterable<Request>) =>
      Effect.gen(function*() {
        const headBefore = head
        const sizeBefore = size
        let written: Array<Extract<Request, { _tag: "Write" }>> = []
        let syncRequested = false
        let text = ""
        let last = head
        for (const request of batch) {
          if (request._tag === "Sync") {
            syncRequested = true
            continue
          }
          const line = AuditEntry.seal(request.record, last)
          text += `${AuditEntry.encodeLine(line)}\n`
          last = { seq: line.seq, hash: line.hash }
          written.push(request)
        }
        if (written.length > 0) {
          const result = yield* Effect.either(writeLines(text, last, written.length))
          if (result._tag === "Left") {
            yield* recordFailure(result.left, written.length)
            for (const request of written) yield* Deferred.fail(request.done, result.left)
            written = []
          }
        }
        let outcome: Exit.Exit<void, AuditSink.AuditWriteError> = Exit.void
        const due = policy._tag === "EveryEntry"
          ? written.length > 0
          : unsynced >= policy.entries || (syncRequested && unsynced > 0)
        if (due) {
          const synced = yield* Effect.either(countFailure(sync))
          if (synced._tag === "Right") {
            unsynced = 0
          } else if (policy._tag === "EveryEntry") {
            // Nothing of this batch is durable: take it all back, so an error means "not in the log".
            yield* rollback(sizeBefore)
            head = headBefore
            size = sizeBefore
            unsynced = 0
            outcome = Exit.fail(synced.left)
          } else {
            // Batched: the lines stay in the file (they were acknowledged or are being), durability unknown.
            outcome = Exit.fail(synced.left)
            yield* Effect.logWarning("audit log: batched sync failed", synced.left.message)
          }
        }
        for (const request of written) yield* Deferred.done(request.done, outcome)
      })

    const writer = Queue.takeBetween(queue, 1, maxBatch).pipe(
      Effect.flatMap((batch) => Effect.uninterruptible(process(batch))),
      Effect.forever,
      Effect.interruptible
    )

    const enqueue = (record: AuditEntry.CallRecord | AuditEntry.RecoveryRecord) =>
      Effect.flatMap(Deferred.make<void, AuditSink.AuditWriteError>(), (done) =>
        Effect.suspend(() => {
          // Checked and queued in one synchronous step: the finalizer cannot slip in between.
          if (closed) {
            return countFailure(
              Effect.fail(new AuditSink.AuditWriteError({ reason: "closed", operation: "write", path }))
            )
          }
          queue.unsafeOffer({ _tag: "Write", record, done })
          return Deferred.await(done)
        }))

    const syncPending = Effect.suspend(() =>
      unsynced === 0 ? Effect.void : Effect.tap(countFailure(sync), () =>
        Effect.sync(() => {
          unsynced = 0
        }))
    )

    // Added after the file was opened, so it runs before the file is closed: stop taking writes, let the writer
    // finish its batch, write what is still queued, and sync.
    const fiber = yield* Effect.forkDaemon(writer)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        closed = true
        yield* Fiber.interrupt(fiber)
        yield* process(yield* Queue.takeAll(queue))
        yield* syncPending.pipe(
          Effect.catchAll((error) => Effect.logError("audit log: final sync failed", error.message))
        )
        yield* Queue.shutdown(queue)
      })
    )
    if (policy._tag === "Batched") {
      yield* Effect.sleep(policy.interval).pipe(
        Effect.zipRight(Effect.sync(() => {
          if (unsynced > 0 && !closed) queue.unsafeOffer({ _tag: "Sync" })
        })),
        Effect.forever,
        Effect.forkScoped
      )
    }

    if (opened.recovery !== undefined) {
      const timestamp = new Date(yield* Clock.currentTimeMillis).toISOString()
      yield* enqueue({ ...opened.recovery, timestamp })
    }

    return {
      write: Effect.fn("AuditLog.write")(function*(record: AuditEntry.CallRecord) {
        yield* countFailure(AuditEntry.validate(record))
        yield* enqueue(record)
      })
    }
  })

/**
 * The file sink as the `AuditSink`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<
  AuditSink.AuditSink,
  AuditSink.AuditWriteError | FileLock.FileLockError,
  FileSystem.FileSystem | FileLock.FileLock
> => Layer.scoped(AuditSink.AuditSink, make(options))

/**
 * The file sink with its path from `LLM_AUDIT_LOG_PATH` (default `./llm-audit.log`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: {
    readonly path?: Config.Config<string>
    readonly fsync?: FsyncPolicy
    readonly lockWait?: Duration.DurationInput
  } = {}
): Layer.Layer<
  AuditSink.AuditSink,
  AuditSink.AuditWriteError | FileLock.FileLockError | ConfigError.ConfigError,
  FileSystem.FileSystem | FileLock.FileLock
> =>
  Layer.scoped(
    AuditSink.AuditSink,
    Effect.flatMap(
      options.path ?? Config.string("LLM_AUDIT_LOG_PATH").pipe(Config.withDefault(defaultPath)),
      (path) => make({ path, fsync: options.fsync, lockWait: options.lockWait })
    )
  )

// -----------------------------------------------------------------------------
// Verification
// -----------------------------------------------------------------------------

/**
 * Why a line breaks the log: not JSON, not an entry, `edited` (its hash or its bytes do not match its content),
 * `removed-or-reordered` (its `seq` is not the next one: a line before it was removed, or lines were swapped),
 * `chain-broken` (its `prevHash` is not the previous line's hash), `torn-tail` (the last line has no newline).
 *
 * @since 0.1.0
 * @category models
 */
export type BreakReason = BreakReason_

/**
 * The outcome of `verify`. `Intact` counts the lines (call entries and recovery entries) and gives the chain's
 * head; `Broken` gives the first line (1-based) where the chain fails and why.
 *
 * @since 0.1.0
 * @category models
 */
export type VerifyResult = Data.TaggedEnum<{
  Intact: {
    readonly lines: number
    readonly entries: number
    readonly recoveries: number
    readonly head: AuditEntry.ChainHead
  }
  Broken: { readonly line: number; readonly reason: BreakReason; readonly detail: string }
}>

/**
 * @since 0.1.0
 * @category constructors
 */
export const VerifyResult = Data.taggedEnum<VerifyResult>()

const resultOf = (verifier: LineVerifier): VerifyResult => {
  const outcome = verifier.finish()
  return "reason" in outcome ? VerifyResult.Broken(outcome) : VerifyResult.Intact(outcome)
}

/**
 * Verifies a log held in memory.
 *
 * @since 0.1.0
 * @category utils
 */
export const verifyBytes = (content: Uint8Array | string): VerifyResult => {
  const verifier = new LineVerifier()
  verifier.feed(typeof content === "string" ? encoder.encode(content) : content)
  return resultOf(verifier)
}

/**
 * A failure to read the log being verified.
 *
 * @since 0.1.0
 * @category errors
 */
export class AuditReadError extends Schema.TaggedError<AuditReadError>("@genesys-llm/core/AuditReadError")(
  "AuditReadError",
  {
    path: Schema.String,
    reason: AuditSink.WriteFailureReason,
    cause: Schema.optional(Schema.Defect)
  }
) {
  override get message(): string {
    return `could not read the audit log ${this.path} (${this.reason})`
  }
}

/**
 * Verifies the log at `path`, streaming it: memory stays bounded by the longest line.
 *
 * @since 0.1.0
 * @category utils
 */
export const verify: (path: string) => Effect.Effect<VerifyResult, AuditReadError, FileSystem.FileSystem> = Effect
  .fn("AuditLog.verify")(function*(path: string) {
    const fs = yield* FileSystem.FileSystem
    const verifier = new LineVerifier()
    yield* fs.stream(path).pipe(
      Stream.takeWhile(() => verifier.broken === undefined),
      Stream.runForEach((chunk) => Effect.sync(() => verifier.feed(chunk))),
      Effect.mapError((error) => new AuditReadError({ path, reason: reasonOf(error), cause: error }))
    )
    return resultOf(verifier)
  })

/**
 * Verifies a chain held elsewhere than in a file (a database table, say), one line's text at a time, in order:
 * the same checks as `verify`, line by line, stopping at the first break. Each element is a line's text without
 * its newline; memory stays bounded by the longest line.
 *
 * @since 0.1.0
 * @category utils
 */
export const verifyLines = <E, R>(lines: Stream.Stream<string, E, R>): Effect.Effect<VerifyResult, E, R> =>
  Effect.suspend(() => {
    const verifier = new LineVerifier()
    return lines.pipe(
      Stream.takeWhile(() => verifier.broken === undefined),
      Stream.runForEach((text) => Effect.sync(() => verifier.feed(encoder.encode(`${text}\n`)))),
      Effect.map(() => resultOf(verifier))
    )
  })
