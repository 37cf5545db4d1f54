// How to test your own code on top of the pipeline: `TestPipeline.layer(scripts)` gives the real pipeline (validation,
// context window, safety policy, fallback, audit) over a scripted gateway whose delays run on Effect's `Clock`.
// Under `it.effect` that clock is the `TestClock`: fork the code, move time with `TestClock.adjust`, then join.
import { assert, describe, it } from "@effect/vitest"
import { IdGenerator } from "@genesys-llm/core"
import { TestGateway, TestPipeline } from "@genesys-llm/testing"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import {
  answerCustomer,
  blockedText,
  brokenText,
  type CustomerTurn,
  patienceMillis,
  program
} from "../src/testing-with-testclock.js"

const turn: CustomerTurn = { conversationId: "chat-1", turn: 4, message: "Do you ship to Norway?" }
const waitText = "One moment, I am passing you to a colleague."

describe("answerCustomer", () => {
  it.effect("answers with the model when its first words come just in time", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(answerCustomer(turn))
      yield* TestClock.adjust(patienceMillis - 1)
      const answer = yield* Fiber.join(fiber)
      assert.deepStrictEqual(answer, { _tag: "Answered", text: "Yes, in 3 to 5 days." })

      // The gateway got the turn's derived key and the customer's patience as its deadline.
      const [request] = yield* TestPipeline.requests
      assert.strictEqual(request.idempotencyKey, yield* IdGenerator.derive("chat-1", 4))
      assert.strictEqual(request.options?.maxLatencyMillis, patienceMillis)
      const [entry] = yield* TestPipeline.auditEntries
      assert.strictEqual(entry.status, "success")
      assert.strictEqual(entry.latencyMs, patienceMillis - 1)
    }).pipe(Effect.provide(TestPipeline.layer(TestGateway.reply("Yes, in 3 to 5 days.", {
      delayMillis: patienceMillis - 1
    })))))

  it.effect("hands over at exactly 2 seconds when the model is slow, saying the fallback text", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(answerCustomer(turn))
      yield* TestClock.adjust(patienceMillis - 1)
      assert.isNull(fiber.unsafePoll(), "still waiting 1 ms before the deadline")
      yield* TestClock.adjust(1)
      const answer = yield* Fiber.join(fiber)
      assert.deepStrictEqual(answer, { _tag: "HandedOver", reason: "slow", say: waitText })

      const [entry] = yield* TestPipeline.auditEntries
      assert.strictEqual(entry.status, "fallback")
      assert.strictEqual(entry.latencyMs, patienceMillis)
      const [record] = yield* TestPipeline.published
      assert.strictEqual(record.tokensUsed, 0)
    }).pipe(Effect.provide(TestPipeline.layer(TestGateway.script(TestGateway.hang), { fallbackText: waitText }))))

  it.effect("hands over when the answer breaks off after its first words", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(answerCustomer(turn))
      yield* TestClock.adjust(700)
      const answer = yield* Fiber.join(fiber)
      assert.deepStrictEqual(answer, { _tag: "HandedOver", reason: "broken", say: brokenText })
      assert.deepStrictEqual((yield* TestPipeline.auditEntries).map((e) => [e.status, e.errorTag]), [
        ["error", "StreamInterrupted"]
      ])
    }).pipe(Effect.provide(TestPipeline.layer(TestGateway.script(
      TestGateway.text("Yes, we ship", 500),
      TestGateway.interrupt("stall", 200)
    )))))

  it.effect("hands over without calling the model when the message holds a card number", () =>
    Effect.gen(function*() {
      const answer = yield* answerCustomer({ ...turn, message: "Charge 4111 1111 1111 1111 please" })
      assert.deepStrictEqual(answer, { _tag: "HandedOver", reason: "blocked", say: blockedText })
      assert.strictEqual((yield* TestPipeline.requests).length, 0)
      assert.deepStrictEqual((yield* TestPipeline.auditEntries).map((e) => e.safetyRuleIds), [["payment-card"]])
    }).pipe(Effect.provide(TestPipeline.layer(TestGateway.reply("never sent")))))

  it.effect("runs the example's two turns: the slow one handed over at the deadline, the next one answered", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(program)
      yield* TestClock.adjust(patienceMillis + 100)
      const answers = yield* Fiber.join(fiber)
      assert.deepStrictEqual(answers, [
        { _tag: "HandedOver", reason: "slow", say: waitText },
        { _tag: "Answered", text: "It takes 3 to 5 days." }
      ])
      assert.deepStrictEqual((yield* TestPipeline.auditEntries).map((e) => [e.status, e.latencyMs]), [
        ["fallback", patienceMillis],
        ["success", 100]
      ])
    }).pipe(Effect.provide(TestPipeline.layer(
      [TestGateway.script(TestGateway.hang), TestGateway.reply("It takes 3 to 5 days.", { delayMillis: 100 })],
      { fallbackText: waitText }
    ))))
})
