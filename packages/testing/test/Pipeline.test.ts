import { assert, describe, it } from "@effect/vitest"
import { Gateway, IdGenerator, Pipeline, type SafetyPolicy } from "@genesys-llm/core"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as TestAuditSink from "../src/TestAuditSink.js"
import * as TestGateway from "../src/TestGateway.js"
import * as TestMetricsWebhook from "../src/TestMetricsWebhook.js"
import * as TestPipeline from "../src/TestPipeline.js"

const stages = (scripts: TestGateway.Scripts, options: {
  readonly safety?: SafetyPolicy.Options
  readonly pipeline?: Pipeline.Options
} = {}) =>
  TestPipeline.layer(scripts, {
    keys: ["llm-gw-key-1", "llm-gw-key-2"],
    fallbackText: "One moment please.",
    safety: options.safety,
    outputGuard: options.pipeline?.outputGuard
  }).pipe(Layer.orDie)

const payload = (content: string, extra: Partial<{ maxTokens: number; context: Array<unknown> }> = {}) => ({
  systemInstructions: ["Be brief."],
  context: extra.context ?? [{ role: "user", content }],
  temperature: 0.2,
  maxTokens: extra.maxTokens ?? 256,
  modelId: "model-a"
})

const audit = TestPipeline.auditEntries
const published = TestPipeline.published
const requests = TestPipeline.requests

describe("Pipeline", () => {
  it.effect("runs a call to its end and records it once", () =>
    Effect.gen(function*() {
      const completion = yield* Pipeline.run(payload("Where is my order?"))
      assert.strictEqual(completion.status, "success")
      assert.strictEqual(completion.text, "Hello there")
      assert.strictEqual(completion.tokensUsed, 3)
      assert.strictEqual(completion.attempts, 1)
      assert.strictEqual(completion.idempotencyKey, "llm-gw-key-1")
      assert.strictEqual(completion.latencyMs, 200)
      assert.strictEqual(completion.timeToFirstFrameMs, 100)
      assert.strictEqual(completion.droppedContextMessages, 0)
      const [entry, ...others] = yield* audit
      assert.strictEqual(others.length, 0)
      assert.strictEqual(entry.status, "success")
      assert.strictEqual(entry.idempotencyKey, "llm-gw-key-1")
      assert.strictEqual(entry.latencyMs, 200)
      assert.strictEqual(entry.tokensUsed, 3)
      assert.strictEqual(entry.systemInstructionCount, 1)
      assert.strictEqual(entry.contextMessageCount, 1)
      assert.strictEqual((yield* published).length, 1)
      const [request] = yield* requests
      assert.strictEqual(request.idempotencyKey, "llm-gw-key-1")
      assert.strictEqual(request.options?.fallbackText, "One moment please.")
    }).pipe(
      Effect.provide(stages(TestGateway.script(
        TestGateway.text("Hello", 100),
        TestGateway.text(" there", 100),
        TestGateway.usage(3)
      ))),
      // The call sleeps on the TestClock: run it in a fiber and move time.
      (effect) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.fork(effect)
          yield* TestClock.adjust(200)
          return yield* Fiber.join(fiber)
        })
    ))

  it.effect("answers with the fallback text when the first frame is late", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Pipeline.run(payload("Hi")))
      yield* TestClock.adjust(4_999)
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust(1)
      const completion = yield* Fiber.join(fiber)
      assert.strictEqual(completion.status, "fallback")
      assert.strictEqual(completion.text, "One moment please.")
      assert.strictEqual(completion.latencyMs, 5_000)
      assert.strictEqual(completion.tokensUsed, 0)
      assert.isUndefined(completion.timeToFirstFrameMs)
      const entries = yield* audit
      assert.deepStrictEqual(entries.map((e) => e.status), ["fallback"])
    }).pipe(Effect.provide(stages(TestGateway.script(TestGateway.text("too late", 6_000))))))

  it.effect("fails invalid input without calling the gateway, and records it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Pipeline.run({ modelId: "" }))
      assert.strictEqual(error.status, "invalid")
      assert.strictEqual(error.cause._tag, "PromptValidationError")
      assert.strictEqual((yield* requests).length, 0)
      const [entry] = yield* audit
      assert.strictEqual(entry.status, "invalid")
      assert.strictEqual(entry.errorTag, "PromptValidationError")
      assert.strictEqual((yield* published).length, 1)
    }).pipe(Effect.provide(stages(TestGateway.reply("never")))))

  it.effect("blocks a prompt with a card number: nothing sent, rule ids recorded, no text", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Pipeline.run(payload("charge 4111 1111 1111 1111")))
      assert.strictEqual(error.status, "blocked")
      assert.strictEqual(error.cause._tag, "SafetyViolation")
      assert.notInclude(error.message, "4111")
      assert.strictEqual((yield* requests).length, 0)
      const [entry] = yield* audit
      assert.strictEqual(entry.status, "blocked")
      assert.deepStrictEqual(entry.safetyRuleIds, ["payment-card"])
      assert.notInclude(JSON.stringify(entry), "4111")
    }).pipe(Effect.provide(stages(TestGateway.reply("never")))))

  it.effect("sends the redacted prompt and records the redacting rules", () =>
    Effect.gen(function*() {
      const completion = yield* Pipeline.run(payload("mail me at jane@example.com"))
      assert.deepStrictEqual(completion.redactions.map((r) => [r.ruleId, r.path, r.count]), [
        ["email", "context[0].content", 1]
      ])
      const [request] = yield* requests
      assert.strictEqual(request.payload.context[0].content, "mail me at [REDACTED:email]")
      const [entry] = yield* audit
      assert.deepStrictEqual(entry.safetyRuleIds, ["email"])
    }).pipe(Effect.provide(stages(TestGateway.reply("ok"), { safety: { actions: { email: "redact" } } }))))

  it.effect("trims the context to the budget and says how many messages went", () =>
    Effect.gen(function*() {
      const context = Array.from({ length: 6 }, (_, i) => ({ role: "user", content: `${i}`.repeat(40) }))
      // 40 characters = 10 tokens each; "Be brief." = 3; budget 80% of 40 = 32: two messages fit.
      const completion = yield* Pipeline.run(payload("", { context, maxTokens: 40 }))
      assert.strictEqual(completion.droppedContextMessages, 4)
      const [request] = yield* requests
      assert.deepStrictEqual(request.payload.context.map((m) => m.content[0]), ["4", "5"])
      const [entry] = yield* audit
      assert.strictEqual(entry.droppedContextMessages, 4)
      assert.strictEqual(entry.contextMessageCount, 6)
    }).pipe(Effect.provide(stages(TestGateway.reply("ok")))))

  it.effect("fails with the gateway's error when no text was delivered", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Pipeline.run(payload("Hi")))
      assert.strictEqual(error.status, "error")
      assert.strictEqual(error.cause._tag, "GatewayRejected")
      assert.strictEqual(error.attempts, 1)
      assert.strictEqual(error.idempotencyKey, "llm-gw-key-1")
      const [entry] = yield* audit
      assert.strictEqual(entry.status, "error")
      assert.strictEqual(entry.errorTag, "GatewayRejected")
      assert.strictEqual(entry.correlationId, "corr-1")
    }).pipe(Effect.provide(stages(TestGateway.script(TestGateway.fail(
      new Gateway.GatewayRejected({
        status: 400,
        code: "bad.request",
        correlationId: "corr-1",
        attempts: 1
      })
    ))))))

  it.effect("keeps what was delivered when the stream breaks after text", () =>
    Effect.gen(function*() {
      const completion = yield* Pipeline.run(payload("Hi"))
      assert.strictEqual(completion.status, "error")
      assert.strictEqual(completion.text, "Partial ans")
      assert.strictEqual(completion.interruption?.reason, "reset")
      const [entry] = yield* audit
      assert.strictEqual(entry.status, "error")
      assert.strictEqual(entry.errorTag, "StreamInterrupted")
    }).pipe(Effect.provide(stages(TestGateway.script(
      TestGateway.text("Partial"),
      TestGateway.text(" ans"),
      TestGateway.interrupt("reset")
    )))))

  it.effect("records a cancelled call once when the caller interrupts it", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Pipeline.run(payload("Hi")))
      yield* TestClock.adjust(100)
      yield* Fiber.interrupt(fiber)
      const entries = yield* audit
      assert.deepStrictEqual(entries.map((e) => e.status), ["cancelled"])
      assert.strictEqual((yield* published).length, 1)
    }).pipe(Effect.provide(stages(TestGateway.script(TestGateway.text("a", 10), TestGateway.hang)))))

  it.effect("streams deltas as they arrive, then the completion", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const fiber = yield* Pipeline.stream(payload("Hi")).pipe(
        Stream.tap((event) => Ref.update(seen, (all) => [...all, event._tag === "TextDelta" ? event.text : "<done>"])),
        Stream.runCollect,
        Effect.fork
      )
      yield* TestClock.adjust(100)
      assert.deepStrictEqual(yield* Ref.get(seen), ["one"])
      yield* TestClock.adjust(100)
      assert.deepStrictEqual(yield* Ref.get(seen), ["one", " two"])
      yield* TestClock.adjust(100)
      const events = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      assert.deepStrictEqual(yield* Ref.get(seen), ["one", " two", " three", "<done>"])
      const last = events[events.length - 1]
      assert.strictEqual(last._tag, "Completed")
      if (last._tag === "Completed") assert.strictEqual(last.completion.text, "one two three")
    }).pipe(Effect.provide(stages(TestGateway.script(
      TestGateway.text("one", 100),
      TestGateway.text(" two", 100),
      TestGateway.text(" three", 100)
    )))))

  it.effect("derives the key from a conversation id and turn", () =>
    Effect.gen(function*() {
      const a = yield* Pipeline.run(payload("Hi"), { conversation: { id: "conv-1", turn: 3 } })
      const b = yield* Pipeline.run(payload("Hi"), { conversation: { id: "conv-1", turn: 3 } })
      const expected = yield* IdGenerator.derive("conv-1", 3)
      assert.strictEqual(a.idempotencyKey, expected)
      assert.strictEqual(b.idempotencyKey, expected)
      const error = yield* Effect.flip(Pipeline.run(payload("Hi"), { conversation: { id: "", turn: 1 } }))
      assert.strictEqual(error.status, "invalid")
      assert.strictEqual(error.cause._tag, "InvalidKeyInput")
      assert.deepStrictEqual((yield* audit).map((e) => e.status), ["success", "success", "invalid"])
    }).pipe(Effect.provide(stages(TestGateway.reply("ok")))))

  it.effect("a failing audit sink never fails the call", () =>
    Effect.gen(function*() {
      const control = yield* TestAuditSink.TestAuditSink
      yield* control.failWith("no-space")
      const completion = yield* Pipeline.run(payload("Hi"))
      assert.strictEqual(completion.status, "success")
      assert.strictEqual((yield* published).length, 1)
    }).pipe(Effect.provide(stages(TestGateway.reply("ok")))))

  it.effect("the output guard redacts a card number split across frames", () =>
    Effect.gen(function*() {
      const deltas = yield* Pipeline.stream(payload("Hi")).pipe(
        Stream.filterMap((event) => event._tag === "TextDelta" ? Option.some(event.text) : Option.none()),
        Stream.runCollect
      )
      const text = Chunk.toReadonlyArray(deltas).join("")
      assert.strictEqual(text, "Your card [REDACTED:payment-card] is on file.")
      const completion = yield* Pipeline.run(payload("Hi"))
      assert.strictEqual(completion.outputRedactions, 1)
    }).pipe(Effect.provide(stages(
      TestGateway.script(
        TestGateway.text("Your card 4111 11"),
        TestGateway.text("11 1111 1"),
        TestGateway.text("111 is on file.")
      ),
      { pipeline: { outputGuard: true } }
    ))))
})

describe("Pipeline: canaries", () => {
  const canaries = ["jane.canary@example.com", "4111 1111 1111 1111", "123-45-6789", "hunter2canary"]

  it.effect("no prompt secret or PII reaches the audit entries or the webhook events, whatever the call's end", () =>
    Effect.gen(function*() {
      yield* Pipeline.run(payload(`mail ${canaries[0]} please`))
      yield* Effect.flip(Pipeline.run(payload(`card ${canaries[1]}`)))
      yield* Effect.flip(Pipeline.run(payload(`ssn ${canaries[2]}`)))
      yield* Effect.flip(Pipeline.run(payload(`password: ${canaries[3]}`)))
      const entries = yield* audit
      assert.deepStrictEqual(entries.map((e) => e.status), ["success", "blocked", "blocked", "blocked"])
      const events = yield* TestMetricsWebhook.events
      assert.strictEqual(events.length, 4)
      const written = JSON.stringify(entries) + JSON.stringify(events) + JSON.stringify(yield* published)
      for (const canary of canaries) assert.notInclude(written, canary)
      // The gateway saw the redacted prompt only.
      assert.notInclude(JSON.stringify(yield* requests), canaries[0])
    }).pipe(Effect.provide(stages(TestGateway.reply("ok"), { safety: { actions: { email: "redact" } } }))))
})
