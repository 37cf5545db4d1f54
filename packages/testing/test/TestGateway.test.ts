import { assert, describe, it } from "@effect/vitest"
import { Gateway, type Prompt } from "@genesys-llm/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as TestGateway from "../src/TestGateway.js"
import { failureTagged } from "../src/TestHelpers.js"
import { runTimed } from "./gatewayHelpers.js"

const payload: Prompt.PromptPayload = {
  systemInstructions: [],
  context: [{ role: "user", content: "hi" }],
  temperature: 0,
  maxTokens: 10,
  modelId: "m"
}

// A call on the TestClock: its events as [time, event] and its exit.
const run = (options?: Gateway.CallOptions, key = "k-1") =>
  Effect.gen(function*() {
    const gateway = yield* Gateway.Gateway
    const { events, exit } = yield* runTimed(gateway.stream({ payload, idempotencyKey: key, options }), "1 minute")
    return { events: events.map(({ at, event }) => [at, event] as const), exit }
  })

describe("TestGateway", () => {
  it.effect("plays deltas on the Clock and ends with Done", () =>
    Effect.gen(function*() {
      const { events, exit } = yield* run()
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(events, [
        [100, { _tag: "Delta", text: "Hello" }],
        [300, { _tag: "Delta", text: " world" }],
        [300, {
          _tag: "Done",
          outcome: "complete",
          text: "Hello world",
          completionTokens: 3,
          usageReported: true,
          attempts: 1,
          skippedFrames: 0,
          correlationId: undefined
        }]
      ])
    }).pipe(Effect.provide(TestGateway.layer(
      TestGateway.script(TestGateway.text("Hello", 100), TestGateway.text(" world", 200), TestGateway.usage(3))
    ))))

  it.effect("falls back at exactly the deadline when the first step is later", () =>
    Effect.gen(function*() {
      const late = yield* run({ maxLatencyMillis: 2000, fallbackText: "Please hold." })
      assert.deepStrictEqual(late.events.map(([at, e]) => [at, e._tag, "text" in e ? e.text : ""]), [
        [2000, "Fallback", "Please hold."],
        [2000, "Done", "Please hold."]
      ])
      const hung = yield* run(undefined, "k-2")
      assert.deepStrictEqual(hung.events.map(([at, e]) => [at, e._tag]), [[5000, "Fallback"], [5000, "Done"]])
    }).pipe(Effect.provide(TestGateway.layer([
      TestGateway.script(TestGateway.text("late", 2500)),
      TestGateway.script(TestGateway.hang)
    ]))))

  it.effect("interrupt fails with StreamInterrupted carrying the text delivered so far", () =>
    Effect.gen(function*() {
      const { events, exit } = yield* run()
      assert.deepStrictEqual(events.map(([, e]) => e._tag), ["Delta"])
      const error = failureTagged(exit, "StreamInterrupted")
      assert.strictEqual(error.reason, "stall")
      assert.strictEqual(error.deliveredText, "partial")
      assert.strictEqual(error.completionTokens, 2)
    }).pipe(Effect.provide(TestGateway.layer(
      TestGateway.script(TestGateway.text("partial", 10), TestGateway.usage(2), TestGateway.interrupt("stall", 10_000))
    ))))

  it.effect("fail fails with the given error; records every request", () =>
    Effect.gen(function*() {
      const { exit } = yield* run()
      assert.strictEqual(failureTagged(exit, "GatewayRejected").status, 400)
      const second = yield* run(undefined, "k-2")
      assert.isTrue(Exit.isSuccess(second.exit))
      const recorder = yield* TestGateway.TestGateway
      assert.deepStrictEqual((yield* recorder.requests).map((r) => r.idempotencyKey), ["k-1", "k-2"])
    }).pipe(Effect.provide(TestGateway.layer((_request, index) =>
      index === 0
        ? TestGateway.script(
          TestGateway.fail(new Gateway.GatewayRejected({ status: 400, attempts: 1 }), 50)
        )
        : TestGateway.reply("fine", { delayMillis: 10 })
    ))))
})
