import { assert, describe, it } from "@effect/vitest"
import { TestHelpers } from "@genesys-llm/testing"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as Crypto from "node:crypto"
import * as GatewaySimulator from "../src/GatewaySimulator.js"
import * as Reply from "../src/internal/reply.js"
import { chat, clientLayer, payload, replyOf, token } from "./utils.js"

const STREAMS = 200

describe("concurrency", () => {
  it.scoped(`${STREAMS} concurrent streams are open at once and each completes with its own correct frames`, () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make({ requestsPerMinute: 1000 })
      const bearer = yield* token(simulator)
      // Every stream sends one frame, then waits 1 s on the server's (test) clock: once all of them wait, all of
      // them are open at the same time, without relying on real timing.
      yield* simulator.control.enqueue(
        ...Array.from({ length: STREAMS }, () => ({ kind: "stall", afterFrames: 1, ms: 1000 }) as const)
      )
      const fiber = yield* Effect.forEach(
        Array.from({ length: STREAMS }, (_, i) => i),
        (i) => Effect.map(chat(simulator, bearer, payload(`question number ${i}`), `key-${i}`), (a) => ({ i, a })),
        { concurrency: "unbounded" }
      ).pipe(Effect.fork)
      yield* TestHelpers.eventually(Effect.map(TestClock.sleeps(), (sleeps) => sleeps.length === STREAMS))
      const open = (yield* simulator.control.requests).filter((r) => r.outcome === "stalled")
      assert.strictEqual(open.length, STREAMS)
      yield* TestClock.adjust("1 second")
      const results = yield* Fiber.join(fiber)

      for (const { a, i } of results) {
        assert.strictEqual(a.status, 200)
        const body = JSON.stringify(payload(`question number ${i}`))
        const seed = Reply.seedOf(Crypto.createHash("sha256").update(body).digest("hex"))
        const reply = replyOf(a.text)
        assert.strictEqual(reply.text, Reply.composeText(seed, 1))
        assert.strictEqual(reply.usageFrames, 1)
        assert.strictEqual(reply.usage, Math.ceil(reply.text.length / 4))
      }
      const records = (yield* simulator.control.requests).filter((r) => r.idempotencyKey !== null)
      assert.strictEqual(records.length, STREAMS)
      assert.isTrue(records.every((r) => r.status === 200 && r.outcome === "completed"))
    }).pipe(Effect.provide(clientLayer)))
})
