import type * as PlatformError from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

/**
 * Writes `bytes` to `path` opened with `flag` and syncs it before returning. An empty write is skipped: Node's
 * `writeAll` reports writing 0 bytes as an error.
 * @internal
 */
export const writeSynced = (
  fs: FileSystem.FileSystem,
  path: string,
  bytes: Uint8Array,
  flag: FileSystem.OpenFlag
): Effect.Effect<void, PlatformError.PlatformError> =>
  Effect.scoped(
    Effect.flatMap(
      fs.open(path, { flag }),
      (file) => Effect.zipRight(bytes.length > 0 ? file.writeAll(bytes) : Effect.void, file.sync)
    )
  )

/**
 * Keeps bytes that recovery takes out of a file: writes them, synced, to a new side file `<path>.<kind>-<millis>`
 * (`-1`, `-2`, ... when that name is taken) and returns the suffix it used. Written before the file is cut, so
 * that a crash in between leaves the bytes in both places, never in neither.
 * @internal
 */
export const keepAside = (
  fs: FileSystem.FileSystem,
  path: string,
  kind: string,
  bytes: Uint8Array
): Effect.Effect<string, PlatformError.PlatformError> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    let suffix = `.${kind}-${now}`
    for (let attempt = 1; yield* fs.exists(`${path}${suffix}`).pipe(Effect.orElseSucceed(() => false)); attempt++) {
      suffix = `.${kind}-${now}-${attempt}`
    }
    yield* writeSynced(fs, `${path}${suffix}`, bytes, "wx")
    return suffix
  })
