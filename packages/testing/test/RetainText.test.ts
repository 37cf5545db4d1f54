import { assert, describe, it } from "@effect/vitest"
import { Gateway, Pipeline } from "@genesys-llm/core"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as TestAuditSink from "../src/TestAuditSink.js"
import * as TestGateway from "../src/TestGateway.js"
import * as TestHttpClient from "../src/TestHttpClient.js"
import { frames, input, layer, pipelineOver, request } from "./gatewayHelpers.js"

// `retainText: false` lets a long answer stream through in bounded memory: the text goes to the events only.

const collect = (req: Gateway.Request) =>
  Effect.gen(function*() {
    const gateway = yield* Gateway.Gateway
    const fiber = yield* gateway.stream(req).pipe(Stream.runCollect, Effect.exit, Effect.fork)
    yield* TestClock.adjust("1 minute")
    return yield* Fiber.join(fiber)
  })

const deltasOf = (events: Chunk.Chunk<Gateway.Event>) =>
  Chunk.toReadonlyArray(events).flatMap((event) => event._tag === "Delta" ? [event.text] : [])

const answer = TestHttpClient.ndjson([...frames("Hello", ", ", "world"), { usage: { completion_tokens: 3 } }])

describe("Gateway retainText", () => {
  it.effect("false: the deltas carry the answer, Done.text is empty, the counts stay", () =>
    Effect.gen(function*() {
      const exit = yield* collect(request({ retainText: false }))
      assert.isTrue(Exit.isSuccess(exit))
      if (Exit.isFailure(exit)) return
      assert.deepStrictEqual(deltasOf(exit.value), ["Hello", ", ", "world"])
      const done = Chunk.unsafeLast(exit.value)
      assert.strictEqual(done._tag, "Done")
      if (done._tag !== "Done") return
      assert.strictEqual(done.outcome, "complete")
      assert.strictEqual(done.text, "")
      assert.strictEqual(done.completionTokens, 3)
    }).pipe(Effect.provide(layer(TestHttpClient.always(answer)))))

  it.effect("true (the default): Done.text is the whole answer", () =>
    Effect.gen(function*() {
      const exit = yield* collect(request())
      assert.isTrue(Exit.isSuccess(exit))
      if (Exit.isFailure(exit)) return
      const done = Chunk.unsafeLast(exit.value)
      assert.strictEqual(done._tag === "Done" ? done.text : undefined, "Hello, world")
    }).pipe(Effect.provide(layer(TestHttpClient.always(answer)))))

  it.effect("false: a break after text carries no text but counts it, and says so in its message", () =>
    Effect.gen(function*() {
      const exit = yield* collect(request({ retainText: false }))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") return assert.fail("expected a typed failure")
      const error = exit.cause.error
      assert.strictEqual(error._tag, "StreamInterrupted")
      if (error._tag !== "StreamInterrupted") return
      assert.strictEqual(error.reason, "reset")
      assert.strictEqual(error.deliveredText, "")
      assert.strictEqual(error.deliveredCharacters, 7)
      assert.include(error.message, "after 7 characters were delivered")
    }).pipe(Effect.provide(layer(TestHttpClient.always(
      TestHttpClient.ndjson(frames("Hello", ", "), { then: [TestHttpClient.reset()] })
    )))))

  it.effect("true: a break carries the delivered text and its length", () =>
    Effect.gen(function*() {
      const exit = yield* collect(request())
      if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") return assert.fail("expected a typed failure")
      const error = exit.cause.error
      if (error._tag !== "StreamInterrupted") return assert.fail(`expected StreamInterrupted, got ${error._tag}`)
      assert.strictEqual(error.deliveredText, "Hello, ")
      assert.strictEqual(error.deliveredCharacters, 7)
    }).pipe(Effect.provide(layer(TestHttpClient.always(
      TestHttpClient.ndjson(frames("Hello", ", "), { then: [TestHttpClient.reset()] })
    )))))

  it.effect("a value that is not a boolean is GatewayRequestInvalid, before any request", () =>
    Effect.gen(function*() {
      const exit = yield* collect(request({ retainText: "no" as unknown as boolean }))
      if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") return assert.fail("expected a typed failure")
      const error = exit.cause.error
      assert.strictEqual(error._tag, "GatewayRequestInvalid")
      if (error._tag === "GatewayRequestInvalid") assert.strictEqual(error.field, "retainText")
    }).pipe(Effect.provide(layer(TestHttpClient.always(answer)))))
})

const stages = (scripts: TestGateway.Scripts, pipeline: Pipeline.Options = {}) =>
  pipelineOver(TestGateway.layer(scripts), { pipeline, safety: { actions: { email: "redact" } } })

const payload = input

const streamed = (options: Pipeline.RunOptions) =>
  Pipeline.stream(payload, options).pipe(
    Stream.runCollect,
    Effect.map((events) => {
      const all = Chunk.toReadonlyArray(events)
      const last = all[all.length - 1]
      assert.strictEqual(last._tag, "Completed")
      return {
        text: all.flatMap((e) => e._tag === "TextDelta" ? [e.text] : []).join(""),
        completion: (last as Pipeline.Completed).completion
      }
    })
  )

describe("Pipeline retainText", () => {
  it.effect("false: the deltas are the answer, the completion's text is empty, the rest is as with text", () =>
    Effect.gen(function*() {
      const without = yield* streamed({ retainText: false })
      const withText = yield* streamed({})
      assert.strictEqual(without.text, "one two three")
      assert.strictEqual(without.completion.text, "")
      assert.strictEqual(withText.completion.text, "one two three")
      assert.deepStrictEqual(
        { ...without.completion, text: "", idempotencyKey: "" },
        { ...withText.completion, text: "", idempotencyKey: "" }
      )
      const requests = yield* Effect.flatMap(TestGateway.TestGateway, (recorder) => recorder.requests)
      // The pipeline keeps its own copy of the text; the gateway never keeps one.
      assert.deepStrictEqual(requests.map((r) => r.options?.retainText), [false, false])
    }).pipe(Effect.provide(stages(TestGateway.script(
      TestGateway.text("one"),
      TestGateway.text(" two"),
      TestGateway.text(" three"),
      TestGateway.usage(3)
    )))))

  it.effect("false: run returns a completion without text and records the call as usual", () =>
    Effect.gen(function*() {
      const completion = yield* Pipeline.run(payload, { retainText: false })
      assert.strictEqual(completion.status, "success")
      assert.strictEqual(completion.text, "")
      assert.strictEqual(completion.tokensUsed, 3)
      const entries = yield* Effect.flatMap(TestAuditSink.TestAuditSink, (control) => control.entries)
      assert.deepStrictEqual(entries.map((e) => e.status), ["success"])
    }).pipe(Effect.provide(stages(TestGateway.reply("Hello there", { completionTokens: 3 })))))

  it.effect("false: a break after text still ends with an error completion, whose text is empty", () =>
    Effect.gen(function*() {
      const { completion, text } = yield* streamed({ retainText: false })
      assert.strictEqual(text, "Partial ans")
      assert.strictEqual(completion.status, "error")
      assert.strictEqual(completion.text, "")
      assert.strictEqual(completion.interruption?.reason, "reset")
    }).pipe(Effect.provide(stages(TestGateway.script(
      TestGateway.text("Partial"),
      TestGateway.text(" ans"),
      TestGateway.interrupt("reset")
    )))))

  it.effect("false with the output guard: held-back text is released and redacted, and not kept", () =>
    Effect.gen(function*() {
      const { completion, text } = yield* streamed({ retainText: false })
      assert.strictEqual(text, "Write to [REDACTED:email] please")
      assert.strictEqual(completion.text, "")
      assert.strictEqual(completion.outputRedactions, 1)
    }).pipe(Effect.provide(stages(
      TestGateway.script(TestGateway.text("Write to jane.doe@"), TestGateway.text("example.com please")),
      { outputGuard: true }
    ))))

  it.effect("false with the output guard: a break while the guard holds all the text still completes", () =>
    Effect.gen(function*() {
      const { completion, text } = yield* streamed({ retainText: false })
      assert.strictEqual(text, "short")
      assert.strictEqual(completion.status, "error")
      assert.strictEqual(completion.text, "")
    }).pipe(Effect.provide(stages(
      TestGateway.script(TestGateway.text("short"), TestGateway.interrupt("reset")),
      { outputGuard: true }
    ))))
})
