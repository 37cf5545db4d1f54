import { assert, describe, it } from "@effect/vitest"
import { AuditEntry, IdGenerator, Pipeline } from "@genesys-llm/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as TestGateway from "../src/TestGateway.js"
import * as TestMetricsWebhook from "../src/TestMetricsWebhook.js"
import * as TestPipeline from "../src/TestPipeline.js"

const payload = (content: string) => ({
  systemInstructions: ["Be brief."],
  context: [{ role: "user", content }],
  temperature: 0.2,
  maxTokens: 256,
  modelId: "model-a"
})

// Runs `effect` in a fiber and moves the TestClock by `millis` so that the scripted delays pass.
const after = <A, E, R>(millis: number, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    yield* TestClock.adjust(millis)
    return yield* Fiber.join(fiber)
  })

describe("TestPipeline", () => {
  it.effect("runs a call through every stage and records it in the audit sink and the webhook", () =>
    Effect.gen(function*() {
      const completion = yield* after(300, Pipeline.run(payload("Where is my order?")))
      assert.strictEqual(completion.status, "success")
      assert.strictEqual(completion.text, "It ships today.")
      assert.strictEqual(completion.tokensUsed, 4)
      assert.strictEqual(completion.latencyMs, 300)
      assert.strictEqual(completion.timeToFirstFrameMs, 300)
      assert.strictEqual(completion.idempotencyKey, TestPipeline.key(1))
      assert.strictEqual(TestPipeline.key(1), "llm-gw-00000000-0000-4000-8000-000000000001")

      const [request, ...moreRequests] = yield* TestPipeline.requests
      assert.strictEqual(moreRequests.length, 0)
      assert.strictEqual(request.idempotencyKey, TestPipeline.key(1))
      assert.strictEqual(
        request.options?.fallbackText,
        "Sorry, I cannot answer right now. Please try again in a moment."
      )

      const entries = yield* TestPipeline.auditEntries
      assert.deepStrictEqual(entries.map((e) => [e.seq, e.status, e.idempotencyKey, e.latencyMs]), [
        [1, "success", TestPipeline.key(1), 300]
      ])
      const records = yield* TestPipeline.published
      assert.deepStrictEqual(records.map((r) => [r.status, r.tokensUsed]), [["success", 4]])
      const [event] = yield* TestMetricsWebhook.events
      assert.deepStrictEqual(event, {
        event: "llm_prompt_completed",
        event_id: TestMetricsWebhook.eventId(1),
        timestamp: entries[0].timestamp,
        model: "model-a",
        latency_ms: 300,
        tokens_used: 4,
        cost_estimate_usd: 0.000008
      })
    }).pipe(Effect.provide(TestPipeline.layer(TestGateway.reply("It ships today.", { delayMillis: 300 })))))

  it.effect("falls back exactly at the first-frame deadline, with the configured text", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Pipeline.run(payload("Hi")))
      yield* TestClock.adjust(1_999)
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust(1)
      const completion = yield* Fiber.join(fiber)
      assert.strictEqual(completion.status, "fallback")
      assert.strictEqual(completion.text, "One moment please.")
      assert.strictEqual(completion.latencyMs, 2_000)
      assert.deepStrictEqual((yield* TestPipeline.auditEntries).map((e) => e.status), ["fallback"])
      assert.deepStrictEqual((yield* TestPipeline.published).map((r) => r.tokensUsed), [0])
    }).pipe(Effect.provide(TestPipeline.layer(TestGateway.script(TestGateway.hang), {
      fallbackText: "One moment please.",
      maxLatencyMillis: 2_000
    }))))

  it.effect("hands out counted keys, given keys, and derived keys for a conversation turn", () =>
    Effect.gen(function*() {
      const first = yield* Pipeline.run(payload("a"))
      const second = yield* Pipeline.run(payload("b"))
      const derived = yield* Pipeline.run(payload("c"), { conversation: { id: "conv-9", turn: 2 } })
      assert.deepStrictEqual([first.idempotencyKey, second.idempotencyKey], [TestPipeline.key(1), TestPipeline.key(2)])
      assert.strictEqual(derived.idempotencyKey, yield* IdGenerator.derive("conv-9", 2))

      const given = yield* Pipeline.run(payload("d")).pipe(
        Effect.provide(TestPipeline.layer(TestGateway.reply("ok"), { keys: ["llm-gw-fixed"] }))
      )
      assert.strictEqual(given.idempotencyKey, "llm-gw-fixed")
    }).pipe(Effect.provide(TestPipeline.layer(TestGateway.reply("ok")))))

  it.effect("plays a list of scripts in order and starts afresh with every build", () =>
    Effect.gen(function*() {
      const layer = TestPipeline.layer([TestGateway.reply("one"), TestGateway.reply("two")])
      const texts = yield* Effect.all([Pipeline.run(payload("a")), Pipeline.run(payload("b"))]).pipe(
        Effect.map((all) => all.map((c) => [c.text, c.idempotencyKey])),
        Effect.provide(layer)
      )
      assert.deepStrictEqual(texts, [["one", TestPipeline.key(1)], ["two", TestPipeline.key(2)]])
      const again = yield* Effect.gen(function*() {
        const completion = yield* Pipeline.run(payload("a"))
        return [completion.text, completion.idempotencyKey, (yield* TestPipeline.auditEntries).length]
      }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(again, ["one", TestPipeline.key(1), 1])
    }))

  it.effect("applies the safety options: a block sends nothing, a redaction sends the redacted text", () =>
    Effect.gen(function*() {
      const blocked = yield* Effect.flip(Pipeline.run(payload("card 4111 1111 1111 1111")))
      assert.strictEqual(blocked.status, "blocked")
      const redacted = yield* Pipeline.run(payload("write to jane@example.com"))
      assert.strictEqual(redacted.status, "success")
      const requests = yield* TestPipeline.requests
      assert.deepStrictEqual(requests.map((r) => r.payload.context[0].content), ["write to [REDACTED:email]"])
      const entries = yield* TestPipeline.auditEntries
      assert.deepStrictEqual(entries.map((e) => [e.status, e.safetyRuleIds]), [
        ["blocked", ["payment-card"]],
        ["success", ["email"]]
      ])
      // The chain is the one a file sink would write.
      assert.strictEqual(entries[1].prevHash, entries[0].hash)
      assert.strictEqual(entries[1].hash, AuditEntry.hashOf(entries[1]))
    }).pipe(Effect.provide(TestPipeline.layer(TestGateway.reply("ok"), { safety: { actions: { email: "redact" } } }))))

  it.effect("rejects invalid input under its limits without calling the gateway", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Pipeline.run({ ...payload("x"), maxTokens: 100 }))
      assert.strictEqual(error.status, "invalid")
      assert.strictEqual(error.cause._tag, "PromptValidationError")
      assert.strictEqual((yield* TestPipeline.requests).length, 0)
      assert.deepStrictEqual((yield* TestPipeline.published).map((r) => r.status), ["invalid"])
    }).pipe(Effect.provide(TestPipeline.layer(TestGateway.reply("never"), { limits: { maxMaxTokens: 50 } }))))

  it.effect("fails to build with a typed error when the safety options name an unknown rule", () =>
    Effect.gen(function*() {
      const exit = yield* Layer.build(TestPipeline.layer(TestGateway.reply("ok"), {
        safety: { actions: { "no-such-rule": "block" } }
      })).pipe(Effect.scoped, Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        assert.include(String(exit.cause), "SafetyConfigError")
        assert.include(String(exit.cause), "no-such-rule")
      }
    }))
})
