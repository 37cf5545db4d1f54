import { assert, describe, it } from "@effect/vitest"
import { GatewaySimulator } from "@genesys-llm/simulator"
import { TestGateway, TestPipeline } from "@genesys-llm/testing"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { pipelineOnSimulator } from "../src/internal/simulated.js"
import * as Streaming from "../src/streaming.js"
import { capture, makeCapture } from "./internal/output.js"

describe("examples/streaming", () => {
  it.effect("displays every delta when it arrives, before the next one", () =>
    Effect.gen(function*() {
      const { captured, output } = makeCapture()
      const fiber = yield* Effect.fork(captured(Streaming.program))
      yield* TestClock.adjust(300)
      assert.deepStrictEqual(output.displayed, ["Your parcel"])
      yield* TestClock.adjust(300)
      assert.deepStrictEqual(output.displayed, ["Your parcel", " is on the van"])
      yield* TestClock.adjust(300)
      const completion = yield* Fiber.join(fiber)
      assert.strictEqual(completion.text, "Your parcel is on the van today.")
      assert.strictEqual(completion.timeToFirstFrameMs, 300)
      assert.strictEqual(completion.latencyMs, 900)
      assert.deepStrictEqual(output.displayed.slice(0, 3), ["Your parcel", " is on the van", " today."])
      assert.strictEqual(
        output.displayed[3],
        "\n\n(success: first text after 300 ms, all of it after 900 ms, 8 tokens)\n"
      )
    }).pipe(Effect.provide(TestPipeline.layer(TestGateway.script(
      TestGateway.text("Your parcel", 300),
      TestGateway.text(" is on the van", 300),
      TestGateway.text(" today.", 300),
      TestGateway.usage(8)
    )))))

  it.scoped("streams the simulator's frames one delta each", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.GatewaySimulator
      const [completion, output] = yield* capture(Streaming.program.pipe(Effect.provide(pipelineOnSimulator())))
      const deltas = output.displayed.slice(0, -1)
      assert.strictEqual(completion.status, "success")
      assert.strictEqual(completion.text, "Parcel 1042 is out for delivery and should reach you before 6 pm today.")
      assert.strictEqual(deltas.join(""), completion.text)
      const [chat] = (yield* simulator.control.requests).filter((r) => r.path === simulator.options.chatPath)
      assert.isAbove(deltas.length, 4)
      assert.strictEqual(deltas.length, chat.frames)
      for (const delta of deltas) assert.isAtMost(delta.length, 12)
    }).pipe(Effect.provide(GatewaySimulator.layer({
      frameChars: 12,
      replyText: "Parcel 1042 is out for delivery and should reach you before 6 pm today."
    }))))
})
