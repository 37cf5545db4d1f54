// Properties of the whole call on the TestClock: whatever the gateway answers before the first frame, and whatever
// the jitter draws, no request is sent and no sleep ends at or past the first-frame deadline, every sleep lies in
// its bounds, and the attempts never exceed the budget.
import { assert, describe, it } from "@effect/vitest"
import { Gateway } from "@genesys-llm/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { failureTagged } from "../src/TestHelpers.js"
import * as TestHttpClient from "../src/TestHttpClient.js"
import { chatRequests, layer, request } from "./gatewayHelpers.js"

const base = 250
const cap = 2000
const retryAfterCap = 30_000

const failureReply = FastCheck.record({
  status: FastCheck.constantFrom(408, 429, 500, 502, 503, 504),
  retryAfterMillis: FastCheck.option(FastCheck.integer({ min: 0, max: 12_000 }), { nil: undefined }),
  asMillisHeader: FastCheck.boolean()
})

type FailureReply = typeof failureReply extends FastCheck.Arbitrary<infer A> ? A : never

const toReply = (reply: FailureReply): TestHttpClient.Reply =>
  TestHttpClient.json(
    reply.status,
    { message: "try later" },
    reply.retryAfterMillis === undefined
      ? {}
      : reply.asMillisHeader
      ? { "retry-after-ms": String(reply.retryAfterMillis) }
      : { "retry-after": String(Math.ceil(reply.retryAfterMillis / 1000)) }
  )

const waitOf = (reply: FailureReply): number | undefined =>
  reply.retryAfterMillis === undefined
    ? undefined
    : reply.asMillisHeader
    ? reply.retryAfterMillis
    : Math.ceil(reply.retryAfterMillis / 1000) * 1000

describe("Gateway properties", () => {
  it.effect.prop(
    "no request and no sleep reaches the first-frame deadline; every sleep lies in its bounds",
    [
      FastCheck.array(failureReply, { minLength: 1, maxLength: 8 }),
      FastCheck.boolean(),
      FastCheck.integer({ min: 50, max: 10_000 }),
      FastCheck.integer({ min: 1, max: 8 }),
      FastCheck.array(FastCheck.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 8 })
    ],
    ([failures, thenSuccess, maxLatency, maxAttempts, draws]) =>
      Effect.gen(function*() {
        const replies = [
          ...failures.map(toReply),
          thenSuccess ? TestHttpClient.ndjson([{ content: "ok" }]) : toReply(failures[failures.length - 1])
        ]
        const handler = TestHttpClient.sequence(replies[0], ...replies.slice(1))
        return yield* Effect.gen(function*() {
          const gateway = yield* Gateway.Gateway
          const fiber = yield* gateway.stream(request({ maxLatencyMillis: maxLatency, maxAttempts })).pipe(
            Stream.runCollect,
            Effect.exit,
            Effect.zip(Clock.currentTimeMillis),
            Effect.fork
          )
          yield* TestClock.adjust("1 hour")
          const [exit, endedAt] = yield* Fiber.join(fiber)
          const sent = yield* chatRequests

          assert.isAtMost(sent.length, maxAttempts)
          assert.isAtLeast(sent.length, 1)
          for (const r of sent) assert.isBelow(r.at, maxLatency)
          assert.isAtMost(endedAt, maxLatency)
          // Each sleep: the server's wait (capped) when it gave one, else within the full-jitter ceiling.
          for (let i = 1; i < sent.length; i++) {
            const slept = sent[i].at - sent[i - 1].at
            const wait = waitOf(failures[Math.min(i - 1, failures.length - 1)])
            if (wait !== undefined) assert.strictEqual(slept, Math.min(wait, retryAfterCap))
            else {
              assert.isAtLeast(slept, 0)
              assert.isAtMost(slept, Math.min(cap, base * 2 ** (i - 1)))
            }
          }
          if (Exit.isSuccess(exit)) {
            const events = [...exit.value]
            assert.strictEqual(events[events.length - 1]?._tag, "Done")
            const fallback = events.find((e) => e._tag === "Fallback")
            if (fallback !== undefined && fallback._tag === "Fallback") {
              // Every answer here is immediate, so the call never waits into the deadline: it gives up at once,
              // when the next sleep would reach it.
              assert.strictEqual(fallback.reason, "retry-past-deadline")
              assert.strictEqual(endedAt, sent[sent.length - 1].at)
            }
          } else {
            failureTagged(exit, "RetriesExhausted")
            assert.strictEqual(sent.length, maxAttempts)
          }
        }).pipe(Effect.provide(layer(handler)), Effect.withRandom(Random.fixed(draws as [number, ...Array<number>])))
      }),
    { fastCheck: { numRuns: 150 } }
  )
})
