/**
 * One writer per file: an exclusive lock that a file sink (the audit log, the webhook outbox) takes when it opens
 * and holds for as long as it is open, so that a second process that opens the same file waits for the first to
 * close it, or fails with an error that names the file and the holder.
 *
 * The service only tries (`Service.tryAcquire`); `acquire` is the same for every layer: it tries again, with a
 * growing pause (10 ms up to 250 ms, jittered), until `wait` has passed, then fails with `FileLockError` (reason
 * `held`) naming the holder. With `wait: 0` it fails at once. A lock that a killed process leaves behind never
 * blocks: a layer over an OS lock (`NodeFileLock` in `@genesys-llm/node`: `flock(2)` on `<file>.lock`) loses it
 * with its process, and the next process takes it over, saying whose it was.
 *
 * A program that takes several locks takes them in one order (the Node pipeline takes the audit log's, then the
 * outbox's), so that two processes never hold one each while waiting for the other.
 *
 * Layers: `layerMemory` (locks within this process only, for tests and single-process programs); the Node layer
 * lives in `@genesys-llm/node`, since core depends on no platform.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"

/**
 * Who holds a lock: the process id, the host name, and when it took the lock (ISO 8601).
 *
 * @since 0.1.0
 * @category models
 */
export const Holder = Schema.Struct({
  pid: Schema.Int,
  host: Schema.String,
  since: Schema.String
}).annotations({ identifier: "FileLockHolder" })

/**
 * @since 0.1.0
 * @category models
 */
export type Holder = typeof Holder.Type

/**
 * A holder in words: `pid 4242 on host web-1 since 2024-05-01T10:00:00.000Z`.
 *
 * @since 0.1.0
 * @category utils
 */
export const describeHolder = (holder: Option.Option<Holder>): string =>
  Option.match(holder, {
    onNone: () => "a writer that did not say who it is",
    onSome: (h) => `pid ${h.pid} on host ${h.host} since ${h.since}`
  })

/**
 * Why a lock was not taken: `held` (another writer holds it, after waiting as long as allowed), or the lock file
 * could not be used (`no-space`, `permission-denied`, `not-found` (its directory), `busy`, `io`).
 *
 * @since 0.1.0
 * @category models
 */
export const FailureReason = Schema.Literal("held", "no-space", "permission-denied", "not-found", "busy", "io")

/**
 * @since 0.1.0
 * @category models
 */
export type FailureReason = typeof FailureReason.Type

/**
 * The lock of `path` was not taken. With reason `held`, `holder` is who holds it (when it said so) and
 * `waitedMillis` how long this process waited for it.
 *
 * @since 0.1.0
 * @category errors
 */
export class FileLockError extends Schema.TaggedError<FileLockError>("@genesys-llm/core/FileLockError")(
  "FileLockError",
  {
    path: Schema.String,
    reason: FailureReason,
    holder: Schema.optional(Holder),
    waitedMillis: Schema.optionalWith(Schema.NonNegative, { default: () => 0 }),
    cause: Schema.optional(Schema.Defect)
  }
) {
  override get message(): string {
    if (this.reason !== "held") return `could not lock ${this.path} (${this.reason})`
    const waited = this.waitedMillis > 0 ? `gave up after ${Duration.format(Duration.millis(this.waitedMillis))}` : ""
    return `${this.path} is in use by another writer: ${describeHolder(Option.fromNullable(this.holder))}` +
      (waited === "" ? "" : `; ${waited}`)
  }
}

/**
 * One try: the lock was taken (`previous` is the holder a process that ended without letting go had recorded),
 * or someone else holds it.
 *
 * @since 0.1.0
 * @category models
 */
export type Attempt =
  | { readonly _tag: "Acquired"; readonly previous: Option.Option<Holder> }
  | { readonly _tag: "Held"; readonly holder: Option.Option<Holder> }

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Tries once to take the exclusive lock of `path` for the current scope, without waiting. The lock is let go
   * when the scope closes.
   */
  readonly tryAcquire: (path: string) => Effect.Effect<Attempt, FileLockError, Scope.Scope>
}

/**
 * @since 0.1.0
 * @category context
 */
export class FileLock extends Context.Tag("@genesys-llm/core/FileLock")<FileLock, Service>() {}

/**
 * How long `acquire` waits for a holder to let go, when the caller does not say: 30 seconds. A second writer is
 * most often a short overlap (a command run while another is finishing, a restart while the old process drains),
 * which waiting bridges; a writer that stays open makes the waiter fail, clearly, once this has passed.
 *
 * @since 0.1.0
 * @category models
 */
export const defaultWait: Duration.Duration = Duration.seconds(30)

/**
 * @since 0.1.0
 * @category models
 */
export interface AcquireOptions {
  /** How long to wait for the holder to let go (default 30 seconds); 0 fails at once. */
  readonly wait?: Duration.DurationInput | undefined
}

// The pause before the `n`th retry: 10 ms growing by half each time up to 250 ms, jittered by ±20% so that
// processes that started waiting together do not try together. Whole milliseconds: each pause moves the clock, so
// that the wait always reaches its end (a fraction of a millisecond can vanish in the clock's arithmetic).
const pause = (n: number): Effect.Effect<number> =>
  Effect.map(Random.nextRange(0.8, 1.2), (jitter) => Math.max(1, Math.round(Math.min(250, 10 * 1.5 ** n) * jitter)))

/**
 * Takes the exclusive lock of `path` for the current scope, waiting up to `options.wait` for its holder to let it
 * go (one last try when the wait is over). Logs once when it starts to wait, and when it takes over a lock that a
 * process which is gone left behind.
 *
 * @since 0.1.0
 * @category utils
 */
export const acquire: (
  path: string,
  options?: AcquireOptions
) => Effect.Effect<Attempt & { readonly _tag: "Acquired" }, FileLockError, FileLock | Scope.Scope> = Effect.fn(
  "FileLock.acquire"
)(function*(path: string, options: AcquireOptions = {}) {
  const lock = yield* FileLock
  const wait = Duration.toMillis(options.wait ?? defaultWait)
  const start = yield* Clock.currentTimeMillis
  for (let n = 0;; n++) {
    const result = yield* lock.tryAcquire(path)
    if (result._tag === "Acquired") {
      if (Option.isSome(result.previous)) {
        yield* Effect.logWarning(
          `took over the lock of ${path} from ${describeHolder(result.previous)}, which ended without letting go`
        )
      }
      return result
    }
    const waited = (yield* Clock.currentTimeMillis) - start
    if (waited >= wait) {
      return yield* new FileLockError({
        path,
        reason: "held",
        holder: Option.getOrUndefined(result.holder),
        waitedMillis: waited
      })
    }
    if (n === 0) yield* Effect.logInfo(`waiting for the lock of ${path}, held by ${describeHolder(result.holder)}`)
    yield* Effect.sleep(Duration.millis(Math.max(1, Math.min(yield* pause(n), Math.ceil(wait - waited)))))
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
  /** What this process says it is, as a holder (default pid 0 on host `memory`). */
  readonly pid?: number | undefined
  readonly host?: string | undefined
  /** How paths are compared (default: as given). */
  readonly normalize?: ((path: string) => string) | undefined
}

/**
 * Locks held in this process's memory: two holders of one layer exclude each other, other processes see nothing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (options: MemoryOptions = {}): Service => {
  const held = new Map<string, Holder>()
  const normalize = options.normalize ?? ((path: string) => path)
  return {
    tryAcquire: (path) =>
      Effect.gen(function*() {
        const key = normalize(path)
        const holder = held.get(key)
        if (holder !== undefined) return { _tag: "Held", holder: Option.some(holder) } as const
        const since = new Date(yield* Clock.currentTimeMillis).toISOString()
        const mine: Holder = { pid: options.pid ?? 0, host: options.host ?? "memory", since }
        yield* Effect.acquireRelease(
          Effect.sync(() => held.set(key, mine)),
          () => Effect.sync(() => held.get(key) === mine && held.delete(key))
        )
        return { _tag: "Acquired", previous: Option.none() } as const
      })
  }
}

/**
 * A fresh set of in-memory locks.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options: MemoryOptions = {}): Layer.Layer<FileLock> =>
  Layer.sync(FileLock, () => makeMemory(options))
