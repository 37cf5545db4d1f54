/**
 * `FileLock` for Node: an OS lock, `flock(2)` (through `fs-ext`), on a lock file beside the locked one
 * (`<file>.lock`). The kernel holds the lock for the open file: it is let go when the holder closes it or when the
 * holder's process ends in any way, SIGKILL included, so a killed writer never blocks the next one and there is
 * no staleness to guess. The lock file holds the holder's pid, host and start time (JSON) while it is held, which
 * is how a waiter names the holder; it is emptied on release and never removed (removing a lock file lets two
 * processes lock two different inodes).
 *
 * Within one process, a path already locked through this layer is reported as held by this process.
 *
 * `flock` is local to a host on most network file systems (Linux emulates it with POSIX locks on NFS): processes
 * on several hosts that want one log use the database sink, not a shared file.
 *
 * @since 0.1.0
 */
import { FileLock } from "@genesys-llm/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as FsExt from "fs-ext"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"

/**
 * The lock file of a path: `<path>.lock`.
 *
 * @since 0.1.0
 * @category utils
 */
export const lockPathOf = (path: string): string => `${path}.lock`

type Errno = NodeJS.ErrnoException

const reasonOf = (error: Errno): FileLock.FailureReason => {
  switch (error.code) {
    case "ENOSPC":
    case "EDQUOT":
      return "no-space"
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return "permission-denied"
    case "ENOENT":
    case "ENOTDIR":
      return "not-found"
    case "EBUSY":
      return "busy"
    default:
      return "io"
  }
}

const node = <A>(run: (callback: (error: Errno | null, value: A) => void) => void): Effect.Effect<A, Errno> =>
  Effect.async<A, Errno>((resume) => {
    run((error, value) => resume(error === null ? Effect.succeed(value) : Effect.fail(error)))
  })

const open = (path: string) =>
  node<number>((callback) => Fs.open(path, Fs.constants.O_RDWR | Fs.constants.O_CREAT, 0o644, callback))
const close = (fd: number) =>
  Effect.ignore(node<void>((callback) => Fs.close(fd, (error) => callback(error, undefined))))
const flock = (fd: number, flags: "exnb" | "un") =>
  node<void>((callback) => FsExt.flock(fd, flags, (error) => callback(error, undefined)))

const maxHolderBytes = 1024
const decodeHolder = Schema.decodeUnknownEither(Schema.parseJson(FileLock.Holder))

const readHolder = (fd: number): Effect.Effect<Option.Option<FileLock.Holder>> =>
  node<string>((callback) => {
    const buffer = Buffer.alloc(maxHolderBytes)
    Fs.read(fd, buffer, 0, maxHolderBytes, 0, (error, bytes) =>
      callback(error, error === null ? buffer.subarray(0, bytes).toString("utf8") : ""))
  }).pipe(
    Effect.map((text) =>
      Either.getRight(decodeHolder(text.trim()))
    ),
    Effect.orElseSucceed(() =>
      Option.none()
    )
  )

const writeHolder = (fd: number, holder: FileLock.Holder) =>
  node<void>((callback) => Fs.ftruncate(fd, 0, (error) => callback(error, undefined))).pipe(
    Effect.zipRight(node<number>((callback) => Fs.write(fd, `${JSON.stringify(holder)}\n`, 0, "utf8", callback)))
  )

const isWouldBlock = (error: Errno) => error.code === "EAGAIN" || error.code === "EWOULDBLOCK"

/**
 * Builds the service; `pid` and `host` say who this process is (default `process.pid` and `os.hostname()`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: { readonly pid?: number; readonly host?: string } = {}): FileLock.Service => {
  const pid = options.pid ?? process.pid
  const host = options.host ?? Os.hostname()
  // The locks this process holds, by the absolute path of their lock file.
  const held = new Map<string, FileLock.Holder>()

  const take = (path: string, lockPath: string, key: string) =>
    Effect.gen(function*() {
      const failed = (error: Errno) => new FileLock.FileLockError({ path, reason: reasonOf(error), cause: error })
      const fd = yield* Effect.mapError(open(lockPath), failed)
      const locked = yield* Effect.either(flock(fd, "exnb"))
      if (Either.isLeft(locked)) {
        const holder = isWouldBlock(locked.left) ? yield* readHolder(fd) : Option.none()
        yield* close(fd)
        if (!isWouldBlock(locked.left)) return yield* failed(locked.left)
        return { attempt: { _tag: "Held", holder } as const, fd: undefined }
      }
      const previous = yield* readHolder(fd)
      const mine: FileLock.Holder = { pid, host, since: new Date(yield* Clock.currentTimeMillis).toISOString() }
      const wrote = yield* Effect.either(writeHolder(fd, mine))
      if (Either.isLeft(wrote)) {
        yield* close(fd)
        return yield* failed(wrote.left)
      }
      held.set(key, mine)
      return { attempt: { _tag: "Acquired", previous } as const, fd }
    })

  const release = (key: string, fd: number | undefined) =>
    fd === undefined ? Effect.void : Effect.gen(function*() {
      held.delete(key)
      // Emptied first, so that the next holder does not take this one for a process that ended without letting go.
      yield* Effect.ignore(node<void>((callback) => Fs.ftruncate(fd, 0, (error) => callback(error, undefined))))
      yield* Effect.ignore(flock(fd, "un"))
      yield* close(fd)
    })

  return {
    tryAcquire: (path) =>
      Effect.suspend((): Effect.Effect<FileLock.Attempt, FileLock.FileLockError, Scope.Scope> => {
        const lockPath = lockPathOf(path)
        const key = NodePath.resolve(lockPath)
        const mine = held.get(key)
        if (mine !== undefined) return Effect.succeed({ _tag: "Held", holder: Option.some(mine) } as const)
        return Effect.acquireRelease(take(path, lockPath, key), ({ fd }) => release(key, fd)).pipe(
          Effect.map(({ attempt }) => attempt)
        )
      })
  }
}

/**
 * `flock(2)` locks for this process.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<FileLock.FileLock> = Layer.sync(FileLock.FileLock, () => make())
