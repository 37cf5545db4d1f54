import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import type * as Fault from "../src/Fault.js"
import * as Reply from "../src/internal/reply.js"
import * as Wire from "../src/internal/wire.js"
import { replyOf } from "./utils.js"

const text = FastCheck.string({ unit: "binary", maxLength: 300 })

const run = (plan: Reply.ReplyPlan, fault?: Fault.StreamFault) =>
  Stream.runCollect(Wire.body({
    plan,
    paceMs: 0,
    fault,
    reset: Effect.void,
    checkpoint: Effect.void,
    progress: { frames: 0, outcome: undefined }
  })).pipe(Effect.map((pieces) => Chunk.toReadonlyArray(pieces)))

describe("reply", () => {
  it.prop("splitFrames keeps the text, respects the frame size, never splits a surrogate pair", {
    text,
    frameChars: FastCheck.integer({ min: 1, max: 40 })
  }, ({ frameChars, text }) => {
    const frames = Reply.splitFrames(text, frameChars)
    assert.strictEqual(frames.join(""), text)
    for (const frame of frames) {
      assert.isAbove(frame.length, 0)
      // Only a single code point wider than the frame may exceed it.
      assert.isTrue(frame.length <= frameChars || [...frame].length === 1, JSON.stringify(frame))
      assert.isFalse(/[\ud800-\udbff]$/.test(frame) && !/[\ud800-\udbff][\udc00-\udfff]$/.test(frame))
    }
  })

  it.prop("truncateToTokens gives a prefix whose 4-characters-a-token estimate fits maxTokens", {
    text,
    maxTokens: FastCheck.integer({ min: 1, max: 100 })
  }, ({ maxTokens, text }) => {
    const cut = Reply.truncateToTokens(text, maxTokens)
    assert.isTrue(text.startsWith(cut))
    assert.isAtMost(Reply.tokensOf(cut.length), maxTokens)
    if (text.length <= maxTokens * 4) assert.strictEqual(cut, text)
    else assert.isFalse(/[\ud800-\udbff]$/.test(cut))
  })

  it.effect("sizedPlan generates exactly the size asked, in frames of frameChars", () =>
    Effect.sync(() => {
      const plan = Reply.sizedPlan(200_003, 4096, 1)
      let total = 0
      for (let i = 0; i < plan.frameCount; i++) {
        const frame = plan.frame(i)
        assert.isAtMost(frame.length, 4096)
        total += frame.length
      }
      assert.strictEqual(total, 200_003)
      assert.strictEqual(plan.completionTokens, Math.ceil(200_003 / 4))
      // Frames cross the 64 KiB block boundary seamlessly and deterministically.
      assert.strictEqual(Reply.sizedPlan(200_003, 4096, 1).frame(16), plan.frame(16))
    }))
})

describe("wire", () => {
  it.effect.prop("framing faults change the bytes, never the frames", {
    text: FastCheck.string({ unit: "grapheme", minLength: 1, maxLength: 120 }),
    frameChars: FastCheck.integer({ min: 1, max: 24 }),
    fault: FastCheck.oneof(
      FastCheck.record({
        kind: FastCheck.constant("slice" as const),
        bytes: FastCheck.integer({ min: 1, max: 9 }),
        lineEnding: FastCheck.constantFrom("lf" as const, "crlf" as const)
      }),
      FastCheck.constant({ kind: "crlf" as const }),
      FastCheck.record({
        kind: FastCheck.constant("blankLines" as const),
        count: FastCheck.integer({ min: 1, max: 3 }),
        lineEnding: FastCheck.constantFrom("lf" as const, "crlf" as const)
      })
    )
  }, ({ fault, frameChars, text }) =>
    Effect.gen(function*() {
      const plan = Reply.textPlan(text, frameChars)
      const plain = Buffer.concat(yield* run(plan)).toString("utf8")
      const pieces = yield* run(plan, fault)
      const faulted = Buffer.concat(pieces).toString("utf8")
      assert.deepStrictEqual(replyOf(faulted), replyOf(plain))
      assert.strictEqual(replyOf(plain).text, text)
      if (fault.kind === "slice") {
        const sizes = pieces.map((p) => p.length)
        assert.isTrue(sizes.slice(0, -1).every((size) => size === fault.bytes))
      }
    }))

  it.effect("a reset happens after the N frames were handed to the socket, and nothing follows it", () =>
    Effect.gen(function*() {
      const plan = Reply.textPlan("one two three four five six", 4)
      const written: Array<string> = []
      const resets: Array<string> = []
      const progress: Wire.Progress = { frames: 0, outcome: undefined }
      const fiber = yield* Wire.body({
        plan,
        paceMs: 0,
        fault: { kind: "reset", afterFrames: 2 },
        reset: Effect.sync(() => resets.push(written.join(""))),
        checkpoint: Effect.void,
        progress
      }).pipe(
        Stream.runForEach((piece) => Effect.sync(() => written.push(Buffer.from(piece).toString()))),
        Effect.fork
      )
      while (resets.length === 0) yield* Effect.yieldNow()
      assert.deepStrictEqual(resets, ["{\"content\":\"one \"}\n{\"content\":\"two \"}\n"])
      assert.deepStrictEqual(progress, { frames: 2, outcome: "reset" })
      yield* Effect.yieldNow()
      assert.strictEqual(written.join(""), resets[0])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("a defect while producing the body resets the connection rather than ending the body", () =>
    Effect.gen(function*() {
      const plan: Reply.ReplyPlan = {
        frameCount: 3,
        frame: (index) => {
          if (index === 1) throw new Error("boom")
          return "ok "
        },
        completionTokens: 3,
        characters: 9
      }
      const written: Array<string> = []
      let resets = 0
      const progress: Wire.Progress = { frames: 0, outcome: undefined }
      const fiber = yield* Wire.body({
        plan,
        paceMs: 0,
        fault: undefined,
        reset: Effect.sync(() => resets++),
        checkpoint: Effect.void,
        progress
      }).pipe(
        Stream.runForEach((piece) => Effect.sync(() => written.push(Buffer.from(piece).toString()))),
        Effect.fork
      )
      while (resets === 0) yield* Effect.yieldNow()
      assert.deepStrictEqual(progress, { frames: 1, outcome: "failed" })
      assert.notInclude(written.join(""), "usage")
      yield* Fiber.interrupt(fiber)
    }))
})
