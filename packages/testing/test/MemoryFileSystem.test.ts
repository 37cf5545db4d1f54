import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { MemoryFileSystem } from "@genesys-llm/testing"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

describe("MemoryFileSystem", () => {
  it.scoped("reads, writes, appends, renames over a file and lists directories", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      yield* fs.writeFileString("/data/a.txt", "hello")
      yield* fs.writeFileString("/data/a.txt", " world", { flag: "a" })
      assert.strictEqual(yield* fs.readFileString("/data/a.txt"), "hello world")
      assert.isTrue(yield* fs.exists("/data"))
      assert.isFalse(yield* fs.exists("/data/missing"))
      yield* fs.writeFileString("/data/b.tmp", "replacement")
      yield* fs.rename("/data/b.tmp", "/data/a.txt")
      assert.strictEqual(yield* fs.readFileString("/data/a.txt"), "replacement")
      assert.deepStrictEqual(yield* fs.readDirectory("/data"), ["a.txt"])
      const stat = yield* fs.stat("/data/a.txt")
      assert.strictEqual(Number(stat.size), 11)
      const error = yield* Effect.flip(fs.readFile("/data/nope"))
      assert.strictEqual(error._tag === "SystemError" && error.reason, "NotFound")
      yield* fs.remove("/data", { recursive: true })
      assert.isFalse(yield* fs.exists("/data/a.txt"))
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.scoped("file handles: append mode, seek and read, truncate; a handle outlives a rename", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const file = yield* fs.open("/log", { flag: "a+" })
      yield* file.writeAll(new TextEncoder().encode("one\n"))
      yield* file.seek(0, "start")
      yield* file.writeAll(new TextEncoder().encode("two\n"))
      yield* file.seek(0, "start")
      const read = yield* file.readAlloc(100)
      assert.strictEqual(text(Option.getOrThrow(read)), "one\ntwo\n")
      yield* file.truncate(4)
      assert.strictEqual(yield* fs.readFileString("/log"), "one\n")
      yield* fs.rename("/log", "/log.old")
      yield* file.writeAll(new TextEncoder().encode("three\n"))
      assert.strictEqual(yield* fs.readFileString("/log.old"), "one\nthree\n")
      const exclusive = yield* Effect.flip(fs.writeFileString("/log.old", "x", { flag: "wx" }))
      assert.strictEqual(exclusive._tag === "SystemError" && exclusive.reason, "AlreadyExists")
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.scoped("a full disk writes what fits, then fails with ENOSPC as Node reports it", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const control = yield* MemoryFileSystem.MemoryFileSystem
      yield* control.setCapacity(10)
      const error = yield* Effect.flip(fs.writeFileString("/f", "0123456789abcdef"))
      assert.strictEqual(error._tag, "SystemError")
      assert.match(error.description ?? "", /^ENOSPC/)
      assert.strictEqual((error.cause as { code: string }).code, "ENOSPC")
      assert.strictEqual(yield* fs.readFileString("/f"), "0123456789")
      assert.strictEqual(yield* control.usedBytes, 10)
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.scoped("injected faults hit the chosen operations and paths, the given number of times", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const control = yield* MemoryFileSystem.MemoryFileSystem
      yield* control.inject({ errno: "EACCES", operations: ["open", "write"], path: "/secret", times: 2 })
      const first = yield* Effect.flip(fs.writeFileString("/secret", "x"))
      assert.strictEqual(first._tag === "SystemError" && first.reason, "PermissionDenied")
      yield* fs.writeFileString("/other", "fine")
      yield* Effect.flip(fs.writeFileString("/secret", "x"))
      yield* fs.writeFileString("/secret", "now it works")
      assert.strictEqual(yield* fs.readFileString("/secret"), "now it works")
      yield* control.inject({ errno: "EIO", operations: ["sync"] })
      const file = yield* fs.open("/other", { flag: "a" })
      const sync = yield* Effect.flip(file.sync)
      assert.match(sync.message, /EIO/)
      yield* control.clearFaults
      yield* file.sync
    }).pipe(Effect.provide(MemoryFileSystem.layer())))

  it.scoped("unserialised concurrent writeAll calls interleave, as on a short-writing disk", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const file = yield* fs.open("/shared", { flag: "a" })
      const line = (c: string) => new TextEncoder().encode(`${c.repeat(40)}\n`)
      yield* Effect.all([file.writeAll(line("a")), file.writeAll(line("b"))], { concurrency: "unbounded" })
      const lines = (yield* fs.readFileString("/shared")).split("\n").slice(0, -1)
      assert.isTrue(lines.some((l) => l.includes("a") && l.includes("b")))
    }).pipe(Effect.provide(MemoryFileSystem.layer({ writeChunkSize: 8 }))))

  it("normalises paths", () => {
    assert.strictEqual(MemoryFileSystem.normalize("./a//b/./c/../d/"), "a/b/d")
    assert.strictEqual(MemoryFileSystem.normalize("/x/../../y"), "/y")
  })
})
