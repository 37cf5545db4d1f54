// Over any script of gateway answers and any mix of concurrent calls, the shared rules keep their promises: the
// requests sent never exceed one per call plus the retries the budget can pay (5 tokens each, its capacity plus one
// token per success), and no call waits past its first-frame deadline for its first event or its failure.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as TestHttpClient from "../src/TestHttpClient.js"
import { chatRequests } from "./gatewayHelpers.js"
import { guardedLayer, start } from "./guardHelpers.js"

const answer = FastCheck.oneof(
  FastCheck.constantFrom(500, 502, 503, 504, 408, 400).map((status) => TestHttpClient.json(status, { status })),
  FastCheck.integer({ min: 0, max: 3 }).map((seconds) =>
    TestHttpClient.json(429, { status: 429 }, { "retry-after": String(seconds) })
  ),
  FastCheck.constant(TestHttpClient.transportError()),
  FastCheck.constant(TestHttpClient.hangReply),
  FastCheck.constant(TestHttpClient.ndjson([{ content: "ok" }]))
)

const callSpec = FastCheck.record({
  startAt: FastCheck.integer({ min: 0, max: 3_000 }),
  maxLatencyMillis: FastCheck.integer({ min: 100, max: 5_000 }),
  maxAttempts: FastCheck.integer({ min: 1, max: 5 })
})

const guards = FastCheck.record({
  retryBudget: FastCheck.integer({ min: 1, max: 40 }),
  circuitFailures: FastCheck.integer({ min: 1, max: 8 }),
  circuitCooldownMillis: FastCheck.integer({ min: 100, max: 5_000 }),
  rateLimitPerMinute: FastCheck.integer({ min: 1, max: 30 })
})

describe("Gateway guards properties", () => {
  it.effect.prop(
    "requests sent <= calls + retries the budget allows; no call waits past its first-frame deadline",
    [
      FastCheck.array(answer, { minLength: 1, maxLength: 12 }),
      FastCheck.array(callSpec, { minLength: 1, maxLength: 10 }),
      guards
    ],
    ([answers, calls, settings]) =>
      Effect.gen(function*() {
        const ordered = [...calls].sort((a, b) => a.startAt - b.startAt)
        const fibers = []
        let now = 0
        for (const spec of ordered) {
          yield* TestClock.adjust(spec.startAt - now)
          now = spec.startAt
          fibers.push({
            spec,
            fiber: yield* start({ maxLatencyMillis: spec.maxLatencyMillis, maxAttempts: spec.maxAttempts })
          })
        }
        yield* TestClock.adjust("10 minutes")
        const ended = yield* Effect.forEach(fibers, ({ fiber, spec }) =>
          Effect.map(Fiber.join(fiber), (e) => ({ e, spec })))
        const sent = (yield* chatRequests).length

        const successes = ended.filter(({ e }) =>
          Exit.isSuccess(e.exit) && e.exit.value.some((event) =>
            event._tag === "Delta"
          )
        ).length
        const retriesAllowed = Math.floor((settings.retryBudget + successes) / 5)
        assert.isAtMost(sent, calls.length + retriesAllowed)
        for (const { e, spec } of ended) {
          assert.isAtLeast(e.firstAt, e.startedAt)
          assert.isAtMost(e.firstAt - e.startedAt, spec.maxLatencyMillis)
        }
      }).pipe(
        Effect.provide(guardedLayer(TestHttpClient.sequence(answers[0], ...answers.slice(1)), settings))
      ),
    { fastCheck: { numRuns: 60 } }
  )
})
