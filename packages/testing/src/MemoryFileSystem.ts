/**
 * An in-memory `FileSystem` for tests, with fault injection: a capacity that runs out (ENOSPC, after writing what
 * still fits, as a real disk does), and injected errors (EACCES, EPERM, EROFS, ENOSPC, EIO) for chosen
 * operations and paths. Errors have the shape `@effect/platform-node` gives them (a `SystemError` whose cause
 * carries the errno `code`), so code under test sees what it would see on a real disk.
 *
 * Files are inodes: a renamed or removed file stays readable and writable through handles opened before, and
 * `link` shares an inode. Directories are implicit (a file may be created anywhere) but can also be made,
 * listed and removed. `writeAll` writes in small chunks and yields between them, as a short-writing kernel
 * would, so unserialised concurrent writers do interleave here; like `@effect/platform-node`, it fails with
 * `WriteZero` when given nothing to write.
 *
 * @since 0.1.0
 */
import * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { FileLock } from "@genesys-llm/core"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

/**
 * The errno codes a fault can raise.
 *
 * @since 0.1.0
 * @category models
 */
export type Errno = "ENOSPC" | "EACCES" | "EPERM" | "EROFS" | "EIO" | "EBUSY"

/**
 * The operations a fault can target.
 *
 * @since 0.1.0
 * @category models
 */
export type Operation =
  | "open"
  | "read"
  | "write"
  | "sync"
  | "truncate"
  | "rename"
  | "remove"
  | "stat"
  | "makeDirectory"
  | "readDirectory"
  | "copy"
  | "link"

/**
 * An injected failure: every matching operation on a matching path fails with `errno`, `times` times (for ever
 * when omitted). No `operations` means all operations; no `path` means all paths.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fault {
  readonly errno: Errno
  readonly operations?: ReadonlyArray<Operation> | undefined
  readonly path?: string | ((path: string) => boolean) | undefined
  readonly times?: number | undefined
}

/**
 * Controls a memory file system from a test.
 *
 * @since 0.1.0
 * @category models
 */
export interface Control {
  readonly inject: (fault: Fault) => Effect.Effect<void>
  readonly clearFaults: Effect.Effect<void>
  /** Total bytes all files may hold; `undefined` for no limit. Shrinking it below the used bytes keeps them. */
  readonly setCapacity: (bytes: number | undefined) => Effect.Effect<void>
  readonly usedBytes: Effect.Effect<number>
  /** Every file by path, with a copy of its bytes. */
  readonly snapshot: Effect.Effect<ReadonlyMap<string, Uint8Array>>
  /** A file's text, or `undefined` when there is no such file. */
  readonly readText: (path: string) => Effect.Effect<string | undefined>
}

/**
 * @since 0.1.0
 * @category context
 */
export class MemoryFileSystem extends Context.Tag("@genesys-llm/testing/MemoryFileSystem")<
  MemoryFileSystem,
  Control
>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Files present at the start, by path. */
  readonly files?: Readonly<Record<string, string | Uint8Array>> | undefined
  readonly capacity?: number | undefined
  /** The largest piece `writeAll` writes before it yields (default 64 bytes). */
  readonly writeChunkSize?: number | undefined
}

interface Inode {
  bytes: Uint8Array
  size: number
  mtime: number
}

const messages: Record<string, string> = {
  ENOENT: "no such file or directory",
  EEXIST: "file already exists",
  EISDIR: "illegal operation on a directory",
  ENOTDIR: "not a directory",
  ENOTEMPTY: "directory not empty",
  EBADF: "bad file descriptor",
  ENOSPC: "no space left on device",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  EIO: "i/o error",
  EBUSY: "resource busy or locked"
}

const reasons: Record<string, PlatformError.SystemErrorReason> = {
  ENOENT: "NotFound",
  EACCES: "PermissionDenied",
  EEXIST: "AlreadyExists",
  EISDIR: "BadResource",
  ENOTDIR: "BadResource",
  EBADF: "BadResource",
  EBUSY: "Busy"
}

const systemError = (code: string, method: string, path: string): PlatformError.PlatformError => {
  const description = `${code}: ${messages[code] ?? "error"}, ${method} '${path}'`
  return new PlatformError.SystemError({
    reason: reasons[code] ?? "Unknown",
    module: "FileSystem",
    method,
    pathOrDescriptor: path,
    syscall: method,
    description,
    cause: Object.assign(new Error(description), { code, syscall: method, path })
  })
}

/**
 * Normalises a path: `a//b/./c/../d/` is `a/b/d`; a leading `/` is kept.
 *
 * @since 0.1.0
 * @category utils
 */
export const normalize = (path: string): string => {
  const absolute = path.startsWith("/")
  const parts: Array<string> = []
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue
    if (part === ".." && parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop()
    else if (part !== ".." || !absolute) parts.push(part)
  }
  const joined = parts.join("/")
  return absolute ? `/${joined}` : joined === "" ? "." : joined
}

const parentOf = (path: string): string => {
  const index = path.lastIndexOf("/")
  if (index < 0) return "."
  return index === 0 ? "/" : path.slice(0, index)
}

const isUnder = (path: string, dir: string): boolean =>
  dir === "." ? !path.startsWith("/") : dir === "/" ? path.startsWith("/") : path.startsWith(`${dir}/`)

const relative = (path: string, dir: string): string =>
  dir === "." ? path : dir === "/" ? path.slice(1) : path.slice(dir.length + 1)

const encoder = new TextEncoder()

/**
 * Builds a memory file system and its control.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<{ readonly fileSystem: FileSystem.FileSystem; readonly control: Control }> =>
  Effect.sync(() => {
    const files = new Map<string, Inode>()
    const dirs = new Set<string>(["/", "."])
    let faults: Array<{ fault: Fault; left: number }> = []
    let capacity = options.capacity
    let tempCounter = 0
    let fdCounter = 3
    const chunkSize = Math.max(1, options.writeChunkSize ?? 64)

    for (const [path, content] of Object.entries(options.files ?? {})) {
      const bytes = typeof content === "string" ? encoder.encode(content) : content.slice()
      files.set(normalize(path), { bytes, size: bytes.length, mtime: 0 })
    }

    const used = () => {
      let total = 0
      for (const inode of files.values()) total += inode.size
      return total
    }
    const available = () => capacity === undefined ? Number.POSITIVE_INFINITY : Math.max(0, capacity - used())

    const fault = (
      operation: Operation,
      method: string,
      path: string
    ): Effect.Effect<void, PlatformError.PlatformError> =>
      Effect.suspend(() => {
        for (const entry of faults) {
          const f = entry.fault
          if (f.operations !== undefined && !f.operations.includes(operation)) continue
          if (f.path !== undefined) {
            const matches = typeof f.path === "string" ? normalize(f.path) === path : f.path(path)
            if (!matches) continue
          }
          entry.left--
          if (entry.left <= 0) faults = faults.filter((e) => e !== entry)
          return Effect.fail(systemError(f.errno, method, path))
        }
        return Effect.void
      })

    const isDirectory = (path: string) => {
      if (dirs.has(path)) return true
      for (const p of files.keys()) if (isUnder(p, path)) return true
      for (const d of dirs) if (isUnder(d, path)) return true
      return false
    }

    const touch = (inode: Inode) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        inode.mtime = now
      })

    const resize = (inode: Inode, size: number, method: string, path: string) =>
      Effect.suspend(() => {
        if (size > inode.size && size - inode.size > available()) {
          return Effect.fail(systemError("ENOSPC", method, path))
        }
        if (size > inode.bytes.length) {
          const grown = new Uint8Array(Math.max(size, inode.bytes.length * 2, 64))
          grown.set(inode.bytes.subarray(0, inode.size))
          inode.bytes = grown
        } else if (size < inode.size) {
          inode.bytes.fill(0, size, inode.size)
        }
        inode.size = size
        return touch(inode)
      })

    // Writes what fits at `position` and returns how much that was; no room at all is ENOSPC.
    const writeAt = (inode: Inode, data: Uint8Array, position: number, method: string, path: string) =>
      Effect.suspend(() => {
        const end = position + data.length
        const growth = Math.max(0, end - inode.size)
        const room = available()
        const fits = growth <= room ? data.length : Math.max(0, data.length - (growth - room))
        if (fits === 0 && data.length > 0) return Effect.fail(systemError("ENOSPC", method, path))
        const newSize = Math.max(inode.size, position + fits)
        if (newSize > inode.bytes.length) {
          const grown = new Uint8Array(Math.max(newSize, inode.bytes.length * 2, 64))
          grown.set(inode.bytes.subarray(0, inode.size))
          inode.bytes = grown
        }
        inode.bytes.set(data.subarray(0, fits), position)
        inode.size = newSize
        return Effect.as(touch(inode), fits)
      })

    const info = (type: FileSystem.File.Type, size: number, mtime: number): FileSystem.File.Info => ({
      type,
      mtime: Option.some(new Date(mtime)),
      atime: Option.none(),
      birthtime: Option.none(),
      dev: 0,
      ino: Option.none(),
      mode: type === "Directory" ? 0o755 : 0o644,
      nlink: Option.none(),
      uid: Option.none(),
      gid: Option.none(),
      rdev: Option.none(),
      size: FileSystem.Size(size),
      blksize: Option.none(),
      blocks: Option.none()
    })

    const makeFile = (inode: Inode, path: string, flag: FileSystem.OpenFlag) => {
      const append = flag.startsWith("a")
      const readable = flag.startsWith("r") || flag.endsWith("+")
      const writable = flag !== "r"
      let position = 0
      let closed = false
      const guard = (method: string, allowed: boolean) =>
        Effect.suspend(() => closed || !allowed ? Effect.fail(systemError("EBADF", method, path)) : Effect.void)
      const writeChunk = (data: Uint8Array) =>
        Effect.flatMap(
          writeAt(inode, data, append ? inode.size : position, "write", path),
          (written) =>
            Effect.sync(() => {
              if (!append) position += written
              return written
            })
        )
      const file: FileSystem.File = {
        [FileSystem.FileTypeId]: FileSystem.FileTypeId,
        fd: FileSystem.FileDescriptor(fdCounter++),
        stat: Effect.zipRight(guard("fstat", true), Effect.sync(() => info("File", inode.size, inode.mtime))),
        seek: (offset, from) =>
          Effect.sync(() => {
            position = from === "start" ? Number(offset) : position + Number(offset)
          }),
        sync: Effect.zipRight(guard("fsync", true), fault("sync", "fsync", path)),
        read: (buffer) =>
          guard("read", readable).pipe(
            Effect.zipRight(fault("read", "read", path)),
            Effect.map(() => {
              const n = Math.max(0, Math.min(buffer.length, inode.size - position))
              buffer.set(inode.bytes.subarray(position, position + n))
              position += n
              return FileSystem.Size(n)
            })
          ),
        readAlloc: (size) =>
          guard("read", readable).pipe(
            Effect.zipRight(fault("read", "read", path)),
            Effect.map(() => {
              const n = Math.max(0, Math.min(Number(size), inode.size - position))
              if (n === 0) return Option.none()
              const out = inode.bytes.slice(position, position + n)
              position += n
              return Option.some(out)
            })
          ),
        truncate: (length) =>
          guard("ftruncate", writable).pipe(
            Effect.zipRight(fault("truncate", "ftruncate", path)),
            Effect.zipRight(resize(inode, Number(length ?? 0), "ftruncate", path)),
            Effect.tap(() =>
              Effect.sync(() => {
                if (!append && position > inode.size) position = inode.size
              })
            )
          ),
        write: (buffer) =>
          guard("write", writable).pipe(
            Effect.zipRight(fault("write", "write", path)),
            Effect.zipRight(writeChunk(buffer)),
            Effect.map(FileSystem.Size)
          ),
        writeAll: (buffer) =>
          guard("write", writable).pipe(
            Effect.zipRight(fault("write", "write", path)),
            // As `@effect/platform-node` does: a write of nothing "wrote 0 bytes", which it reports as an error.
            Effect.zipRight(
              buffer.length === 0
                ? Effect.fail(
                  new PlatformError.SystemError({
                    module: "FileSystem",
                    method: "writeAll",
                    reason: "WriteZero",
                    pathOrDescriptor: path,
                    description: "write returned 0 bytes written"
                  })
                )
                : Effect.void
            ),
            Effect.zipRight(Effect.suspend(() => {
              let offset = 0
              const loop: Effect.Effect<void, PlatformError.PlatformError> = Effect.suspend(() => {
                if (offset >= buffer.length) return Effect.void
                return writeChunk(buffer.subarray(offset, Math.min(buffer.length, offset + chunkSize))).pipe(
                  Effect.flatMap((written) => {
                    offset += written
                    return offset < buffer.length ? Effect.zipRight(Effect.yieldNow(), loop) : Effect.void
                  })
                )
              })
              return loop
            }))
          )
      }
      return {
        file,
        close: Effect.sync(() => {
          closed = true
        })
      }
    }

    const getFile = (path: string, method: string) =>
      Effect.suspend(() => {
        const inode = files.get(path)
        if (inode !== undefined) return Effect.succeed(inode)
        return Effect.fail(systemError(isDirectory(path) ? "EISDIR" : "ENOENT", method, path))
      })

    const createFile = (path: string, method: string) =>
      Effect.suspend(() => {
        if (isDirectory(path)) return Effect.fail(systemError("EISDIR", method, path))
        const inode: Inode = { bytes: new Uint8Array(0), size: 0, mtime: 0 }
        files.set(path, inode)
        return Effect.as(touch(inode), inode)
      })

    const openInode = (path: string, flag: FileSystem.OpenFlag, method: string) =>
      Effect.suspend(() => {
        const existing = files.get(path)
        if (flag.includes("x") && existing !== undefined) return Effect.fail(systemError("EEXIST", method, path))
        if (flag.startsWith("r")) return getFile(path, method)
        if (existing === undefined) return createFile(path, method)
        if (flag.startsWith("w")) return Effect.as(resize(existing, 0, method, path), existing)
        return Effect.succeed(existing)
      })

    const writeWhole = (rawPath: string, data: Uint8Array, flag: FileSystem.OpenFlag = "w") => {
      const path = normalize(rawPath)
      return fault("write", "open", path).pipe(
        Effect.zipRight(openInode(path, flag, "open")),
        Effect.flatMap((inode) => {
          const { file } = makeFile(inode, path, flag)
          return data.length === 0 ? Effect.void : file.writeAll(data)
        })
      )
    }

    const makeTempDirectory = (opts?: FileSystem.MakeTempDirectoryOptions) =>
      Effect.sync(() => {
        const base = normalize(opts?.directory ?? "/tmp")
        const dir = normalize(`${base}/${opts?.prefix ?? ""}${++tempCounter}`)
        dirs.add(dir)
        return dir
      })

    const removePath = (rawPath: string, opts?: FileSystem.RemoveOptions) => {
      const path = normalize(rawPath)
      return fault("remove", "rm", path).pipe(Effect.zipRight(Effect.suspend(() => {
        if (files.delete(path)) return Effect.void
        if (isDirectory(path)) {
          const children = [...files.keys()].filter((p) => isUnder(p, path))
          const subdirs = [...dirs].filter((d) => isUnder(d, path))
          if ((children.length > 0 || subdirs.length > 0) && opts?.recursive !== true) {
            return Effect.fail(systemError("ENOTEMPTY", "rm", path))
          }
          for (const p of children) files.delete(p)
          for (const d of subdirs) dirs.delete(d)
          dirs.delete(path)
          return Effect.void
        }
        return opts?.force === true ? Effect.void : Effect.fail(systemError("ENOENT", "rm", path))
      })))
    }

    const copyPath = (rawFrom: string, rawTo: string) => {
      const from = normalize(rawFrom)
      const to = normalize(rawTo)
      return fault("copy", "copy", from).pipe(Effect.zipRight(Effect.suspend(() => {
        const inode = files.get(from)
        if (inode !== undefined) return writeWhole(to, inode.bytes.slice(0, inode.size))
        if (!isDirectory(from)) return Effect.fail(systemError("ENOENT", "copy", from))
        return Effect.forEach(
          [...files.entries()].filter(([p]) => isUnder(p, from)),
          ([p, node]) => writeWhole(`${to}/${relative(p, from)}`, node.bytes.slice(0, node.size)),
          { discard: true }
        )
      })))
    }

    const fileSystem = FileSystem.make({
      access: (rawPath) => {
        const path = normalize(rawPath)
        return fault("stat", "access", path).pipe(Effect.zipRight(Effect.suspend(() =>
          files.has(path) || isDirectory(path) ? Effect.void : Effect.fail(systemError("ENOENT", "access", path))
        )))
      },
      copy: (from, to) =>
        copyPath(from, to),
      copyFile: (from, to) => copyPath(from, to),
      chmod: (path) => Effect.asVoid(fault("stat", "chmod", normalize(path))),
      chown: (path) => Effect.asVoid(fault("stat", "chown", normalize(path))),
      link: (rawFrom, rawTo) => {
        const from = normalize(rawFrom)
        const to = normalize(rawTo)
        return fault("link", "link", from).pipe(Effect.zipRight(Effect.suspend(() => {
          const inode = files.get(from)
          if (inode === undefined) return Effect.fail(systemError("ENOENT", "link", from))
          if (files.has(to)) return Effect.fail(systemError("EEXIST", "link", to))
          files.set(to, inode)
          return Effect.void
        })))
      },
      makeDirectory: (rawPath, opts) => {
        const path = normalize(rawPath)
        return fault("makeDirectory", "mkdir", path).pipe(Effect.zipRight(Effect.suspend(() => {
          if (files.has(path)) return Effect.fail(systemError("EEXIST", "mkdir", path))
          if (isDirectory(path) && opts?.recursive !== true) return Effect.fail(systemError("EEXIST", "mkdir", path))
          dirs.add(path)
          return Effect.void
        })))
      },
      makeTempDirectory,
      makeTempDirectoryScoped: (opts) =>
        Effect.acquireRelease(makeTempDirectory(opts), (dir) => Effect.ignore(removePath(dir, { recursive: true }))),
      makeTempFile: (opts) =>
        Effect.flatMap(makeTempDirectory(opts), (dir) => {
          const path = `${dir}/${opts?.prefix ?? ""}file${opts?.suffix ?? ""}`
          return Effect.as(writeWhole(path, new Uint8Array(0)), path)
        }),
      makeTempFileScoped: (opts) =>
        Effect.acquireRelease(
          Effect.flatMap(makeTempDirectory(opts), (dir) => {
            const path = `${dir}/${opts?.prefix ?? ""}file${opts?.suffix ?? ""}`
            return Effect.as(writeWhole(path, new Uint8Array(0)), path)
          }),
          (path) => Effect.ignore(removePath(parentOf(path), { recursive: true }))
        ),
      open: (rawPath, opts) => {
        const path = normalize(rawPath)
        const flag = opts?.flag ?? "r"
        return Effect.acquireRelease(
          fault("open", "open", path).pipe(
            Effect.zipRight(openInode(path, flag, "open")),
            Effect.map((inode) => makeFile(inode, path, flag))
          ),
          (handle) => handle.close
        ).pipe(Effect.map((handle) => handle.file))
      },
      readDirectory: (rawPath, opts) => {
        const path = normalize(rawPath)
        return fault("readDirectory", "scandir", path).pipe(Effect.zipRight(Effect.suspend(() => {
          if (files.has(path)) return Effect.fail(systemError("ENOTDIR", "scandir", path))
          if (!isDirectory(path)) return Effect.fail(systemError("ENOENT", "scandir", path))
          const names = new Set<string>()
          for (const p of [...files.keys(), ...dirs]) {
            if (p === path || !isUnder(p, path)) continue
            const rest = relative(p, path)
            if (opts?.recursive === true) {
              const parts = rest.split("/")
              for (let i = 1; i <= parts.length; i++) names.add(parts.slice(0, i).join("/"))
            } else {
              names.add(rest.split("/")[0])
            }
          }
          return Effect.succeed([...names].sort())
        })))
      },
      readFile: (rawPath) => {
        const path = normalize(rawPath)
        return fault("read", "open", path).pipe(
          Effect.zipRight(getFile(path, "open")),
          Effect.map((inode) => inode.bytes.slice(0, inode.size))
        )
      },
      readLink: (path) => Effect.fail(systemError("EINVAL", "readlink", normalize(path))),
      realPath: (rawPath) => {
        const path = normalize(rawPath)
        return Effect.suspend(() =>
          files.has(path) || isDirectory(path)
            ? Effect.succeed(path)
            : Effect.fail(systemError("ENOENT", "realpath", path))
        )
      },
      remove: removePath,
      rename: (rawFrom, rawTo) => {
        const from = normalize(rawFrom)
        const to = normalize(rawTo)
        return fault("rename", "rename", from).pipe(Effect.zipRight(Effect.suspend(() => {
          const inode = files.get(from)
          if (inode !== undefined) {
            if (isDirectory(to) && !files.has(to)) return Effect.fail(systemError("EISDIR", "rename", to))
            files.delete(from)
            files.set(to, inode)
            return Effect.void
          }
          if (!isDirectory(from)) return Effect.fail(systemError("ENOENT", "rename", from))
          for (const [p, node] of [...files.entries()]) {
            if (isUnder(p, from)) {
              files.delete(p)
              files.set(`${to}/${relative(p, from)}`, node)
            }
          }
          for (const d of [...dirs]) {
            if (d === from || isUnder(d, from)) {
              dirs.delete(d)
              dirs.add(d === from ? to : `${to}/${relative(d, from)}`)
            }
          }
          return Effect.void
        })))
      },
      stat: (rawPath) => {
        const path = normalize(rawPath)
        return fault("stat", "stat", path).pipe(Effect.zipRight(Effect.suspend(() => {
          const inode = files.get(path)
          if (inode !== undefined) return Effect.succeed(info("File", inode.size, inode.mtime))
          if (isDirectory(path)) return Effect.succeed(info("Directory", 0, 0))
          return Effect.fail(systemError("ENOENT", "stat", path))
        })))
      },
      symlink: (_from, to) => Effect.fail(systemError("EPERM", "symlink", normalize(to))),
      truncate: (rawPath, length) => {
        const path = normalize(rawPath)
        return fault("truncate", "truncate", path).pipe(
          Effect.zipRight(getFile(path, "truncate")),
          Effect.flatMap((inode) => resize(inode, Number(length ?? 0), "truncate", path))
        )
      },
      utimes: (rawPath, _atime, mtime) => {
        const path = normalize(rawPath)
        return Effect.flatMap(getFile(path, "utime"), (inode) =>
          Effect.sync(() => {
            inode.mtime = typeof mtime === "number" ? mtime : mtime.getTime()
          }))
      },
      watch: (path) =>
        Stream.fail(
          new PlatformError.BadArgument({
            module: "FileSystem",
            method: "watch",
            description: `MemoryFileSystem does not support watch (${path})`
          })
        ),
      writeFile: (path, data, opts) => writeWhole(path, data, opts?.flag ?? "w")
    })

    const control: Control = {
      inject: (f) =>
        Effect.sync(() => {
          faults.push({ fault: f, left: f.times ?? Number.POSITIVE_INFINITY })
        }),
      clearFaults: Effect.sync(() => {
        faults = []
      }),
      setCapacity: (bytes) =>
        Effect.sync(() => {
          capacity = bytes
        }),
      usedBytes: Effect.sync(used),
      snapshot: Effect.sync(() =>
        new Map([...files.entries()].map(([p, inode]) => [p, inode.bytes.slice(0, inode.size)]))
      ),
      readText: (path) =>
        Effect.sync(() => {
          const inode = files.get(normalize(path))
          return inode === undefined ? undefined : new TextDecoder().decode(inode.bytes.subarray(0, inode.size))
        })
    }

    return { fileSystem, control }
  })

/**
 * A fresh memory file system as `FileSystem`, with its `MemoryFileSystem` control and its locks (`FileLock`, in
 * memory, by normalized path: a second sink on one file waits or is refused, as on a disk).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<FileSystem.FileSystem | MemoryFileSystem | FileLock.FileLock> =>
  Layer.effectContext(
    Effect.map(
      make(options),
      ({ control, fileSystem }) =>
        Context.make(FileSystem.FileSystem, fileSystem).pipe(
          Context.add(MemoryFileSystem, control),
          Context.add(FileLock.FileLock, FileLock.makeMemory({ normalize }))
        )
    )
  )
