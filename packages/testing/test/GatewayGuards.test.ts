// The rules every call of a process shares (Gateway.layerGuarded), through the real gateway over the HTTP double,
// on the TestClock: the rate budget's 429 block, the circuit breaker, the retry budget.
import { assert, describe, it } from "@effect/vitest"
import { CircuitBreaker, type Gateway, Metrics, Pipeline, RetryBudget } from "@genesys-llm/core"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as TestAuditSink from "../src/TestAuditSink.js"
import * as TestHttpClient from "../src/TestHttpClient.js"
import { chatRequests, input, layer, pipelineOver } from "./gatewayHelpers.js"
import { type Ended, guardedLayer, start } from "./guardHelpers.js"

const finish = (fiber: Fiber.RuntimeFiber<Ended>, advance: Duration.DurationInput = "1 minute") =>
  Effect.zipRight(TestClock.adjust(advance), Fiber.join(fiber))

// A call run to its end: its answers here are immediate, so a second of the clock is enough.
const call = (options: Gateway.CallOptions = {}) => Effect.flatMap(start(options), (fiber) => finish(fiber, "1 second"))

const fallbackOf = (ended: Ended) => {
  assert.isTrue(Exit.isSuccess(ended.exit), "expected the call to end with events")
  const events = Exit.isSuccess(ended.exit) ? ended.exit.value : []
  const fallback = events.find((e): e is Gateway.Fallback => e._tag === "Fallback")
  assert.isDefined(fallback, "expected a fallback")
  return { fallback: fallback!, done: events[events.length - 1] as Gateway.Done }
}

const completed = (ended: Ended) => {
  assert.isTrue(Exit.isSuccess(ended.exit), Exit.isFailure(ended.exit) ? String(ended.exit.cause) : "")
  const events = Exit.isSuccess(ended.exit) ? ended.exit.value : []
  const done = events[events.length - 1] as Gateway.Done
  assert.strictEqual(done.outcome, "complete")
  return done
}

const failure = (ended: Ended) => {
  assert.isTrue(Exit.isFailure(ended.exit), "expected the call to fail")
  if (Exit.isSuccess(ended.exit) || ended.exit.cause._tag !== "Fail") throw new Error("expected a typed failure")
  return ended.exit.cause.error
}

const ok = TestHttpClient.ndjson([{ content: "ok" }, { usage: { completion_tokens: 1 } }])
const unavailable = TestHttpClient.json(503, { message: "down", code: "service.unavailable", status: 503 })

/** A chat handler whose answer the test switches. */
const switchable = (initial: TestHttpClient.Reply) => {
  let reply = initial
  const handler: TestHttpClient.Handler = () => Effect.sync(() => reply)
  return { handler, set: (next: TestHttpClient.Reply) => (reply = next) }
}

describe("Gateway guards: the rate budget", () => {
  it.effect("a 429 seen by one call holds the others until its Retry-After; a call whose deadline comes first falls back without a request", () =>
    Effect.gen(function*() {
      const a = yield* start()
      yield* TestClock.adjust(100)
      const b = yield* start()
      const c = yield* start({ maxLatencyMillis: 1_000 })
      const [endedA, endedB, endedC] = yield* Effect.all([finish(a), Fiber.join(b), Fiber.join(c)])
      const sent = yield* chatRequests

      assert.deepStrictEqual(sent.map((r) => r.at), [0, 2_000, 2_000])
      assert.strictEqual(completed(endedA).attempts, 2)
      assert.strictEqual(completed(endedB).attempts, 1)
      const { done, fallback } = fallbackOf(endedC)
      assert.strictEqual(fallback.reason, "rate-limited")
      assert.strictEqual(done.attempts, 0)
      // At once: the block would have held it past its deadline.
      assert.strictEqual(endedC.firstAt, 100)
    }).pipe(
      Effect.provide(guardedLayer(TestHttpClient.sequence(
        TestHttpClient.json(429, { message: "slow down" }, { "retry-after": "2" }),
        ok
      )))
    ))

  it.effect("past the permits of the window, a call falls back at once with reason rate-limited", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 2; i++) completed(yield* call())
      const third = yield* call()
      assert.strictEqual(fallbackOf(third).fallback.reason, "rate-limited")
      assert.strictEqual(third.firstAt, third.startedAt)
      assert.strictEqual((yield* chatRequests).length, 2)
    }).pipe(Effect.provide(guardedLayer(TestHttpClient.always(ok), { rateLimitPerMinute: 2 }))))
})

describe("Gateway guards: the circuit breaker", () => {
  it.effect("failures open it; while open a call falls back at once and sends nothing; after the cooldown a probe's success closes it", () =>
    Effect.gen(function*() {
      const chat = switchable(unavailable)
      return yield* Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.CircuitBreaker
        // Three 503s: the third opens the circuit, and the call ends as after its last attempt.
        const first = yield* call({ maxAttempts: 3 })
        assert.strictEqual(failure(first)._tag, "RetriesExhausted")
        assert.strictEqual(yield* breaker.state, "open")
        const sentBefore = (yield* chatRequests).length
        assert.strictEqual(sentBefore, 3)

        const refused = yield* call()
        const { done, fallback } = fallbackOf(refused)
        assert.strictEqual(fallback.reason, "circuit-open")
        assert.strictEqual(done.attempts, 0)
        assert.strictEqual(refused.firstAt, refused.startedAt)
        assert.strictEqual((yield* chatRequests).length, sentBefore)

        yield* TestClock.adjust(10_000)
        chat.set(ok)
        completed(yield* call())
        assert.strictEqual(yield* breaker.state, "closed")
        completed(yield* call())
      }).pipe(Effect.provide(guardedLayer(chat.handler, { circuitFailures: 3, retryBudget: 0 })))
    }))

  it.effect("a failed probe reopens it; other calls fall back while the probe is out", () =>
    Effect.gen(function*() {
      const chat = switchable(unavailable)
      return yield* Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.CircuitBreaker
        failure(yield* call({ maxAttempts: 2 }))
        assert.strictEqual(yield* breaker.state, "open")
        yield* TestClock.adjust(10_000)
        // The probe hangs until its deadline: a timeout before the first frame, a failure.
        chat.set(TestHttpClient.hangReply)
        const probe = yield* start({ maxLatencyMillis: 3_000 })
        yield* TestClock.adjust(1)
        const other = yield* start()
        yield* TestClock.adjust(1)
        assert.strictEqual(fallbackOf(yield* Fiber.join(other)).fallback.reason, "circuit-open")
        assert.strictEqual(fallbackOf(yield* finish(probe)).fallback.reason, "first-frame-timeout")
        assert.strictEqual(yield* breaker.state, "open")
      }).pipe(Effect.provide(guardedLayer(chat.handler, { circuitFailures: 2, circuitCooldownMillis: 10_000 })))
    }))

  it.effect("400, 403, 422 and 429 answers never open it", () =>
    Effect.gen(function*() {
      const replies = [400, 403, 422, 429, 400, 422, 429, 403].map((status) =>
        TestHttpClient.json(status, { message: "no", status }, status === 429 ? { "retry-after": "0" } : {})
      )
      return yield* Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.CircuitBreaker
        for (let i = 0; i < replies.length; i++) yield* call({ maxAttempts: 1 })
        assert.strictEqual(yield* breaker.state, "closed")
        assert.strictEqual((yield* chatRequests).length, replies.length)
      }).pipe(
        Effect.provide(
          guardedLayer(TestHttpClient.sequence(replies[0], ...replies.slice(1)), { circuitFailures: 2 })
        )
      )
    }))
})

describe("Gateway guards: the retry budget", () => {
  it.effect("without tokens a call does not retry and ends as after its last attempt; successes refill it", () =>
    Effect.gen(function*() {
      const chat = switchable(unavailable)
      return yield* Effect.gen(function*() {
        const budget = yield* RetryBudget.RetryBudget
        const first = failure(yield* call({ maxAttempts: 3 }))
        assert.strictEqual(first._tag, "RetriesExhausted")
        assert.strictEqual(first.attempts, 3)
        assert.strictEqual(yield* budget.tokens, 0)
        // No tokens: one attempt, and the same end as after the last one.
        const second = failure(yield* call({ maxAttempts: 3 }))
        assert.strictEqual(second._tag, "RetriesExhausted")
        assert.strictEqual(second.attempts, 1)
        assert.strictEqual((yield* chatRequests).length, 4)

        chat.set(ok)
        for (let i = 0; i < 5; i++) completed(yield* call())
        assert.strictEqual(yield* budget.tokens, 5)
        chat.set(unavailable)
        assert.strictEqual(failure(yield* call({ maxAttempts: 3 })).attempts, 2)
      }).pipe(Effect.provide(guardedLayer(chat.handler, { retryBudget: 10, circuitFailures: 100 })))
    }))

  it.effect("a retry after a timeout costs 10", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.RetryBudget
      assert.strictEqual(failure(yield* call({ maxAttempts: 3 })).attempts, 2)
      assert.strictEqual(yield* budget.tokens, 5)
    }).pipe(
      Effect.provide(
        guardedLayer(TestHttpClient.always(TestHttpClient.json(504, { message: "slow" })), {
          retryBudget: 15,
          circuitFailures: 100
        })
      )
    ))
})

describe("Gateway guards: why a call fell back", () => {
  it.effect("the Completion, the audit entry and the metrics say circuit-open", () =>
    Effect.gen(function*() {
      const fallbacks = (reason: string) =>
        Effect.map(Metric.value(Metric.tagged(Metrics.fallbacks, "reason", reason)), (state) => state.count)
      const before = yield* fallbacks("circuit-open")
      const run = Effect.gen(function*() {
        const fiber = yield* Effect.fork(Pipeline.run(input))
        yield* TestClock.adjust("1 second")
        return yield* Fiber.join(fiber)
      })
      // The first 503 opens the circuit; the retry meets it.
      const first = yield* run
      assert.strictEqual(first.status, "fallback")
      assert.strictEqual(first.fallbackReason, "circuit-open")
      assert.strictEqual(first.attempts, 1)
      const second = yield* run
      assert.strictEqual(second.fallbackReason, "circuit-open")
      assert.strictEqual(second.attempts, 0)
      const entries = yield* Ref.get((yield* TestAuditSink.TestAuditSink).entries)
      assert.deepStrictEqual(entries.map((e) => [e.status, e.fallbackReason, e.attempts]), [
        ["fallback", "circuit-open", 1],
        ["fallback", "circuit-open", 0]
      ])
      assert.strictEqual((yield* fallbacks("circuit-open")) - before, 2)
    }).pipe(Effect.provide(pipelineOver(guardedLayer(TestHttpClient.always(unavailable), { circuitFailures: 1 })))))

  it.effect("a late first frame is reason deadline", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Pipeline.run(input))
      yield* TestClock.adjust("1 minute")
      const completion = yield* Fiber.join(fiber)
      assert.strictEqual(completion.fallbackReason, "deadline")
      const entries = yield* Ref.get((yield* TestAuditSink.TestAuditSink).entries)
      assert.strictEqual(entries[0].fallbackReason, "deadline")
    }).pipe(Effect.provide(pipelineOver(guardedLayer(TestHttpClient.always(TestHttpClient.hangReply))))))

  it.effect("a 429 whose Retry-After passes the deadline is reason rate-limited, without the shared rules too", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Pipeline.run(input))
      yield* TestClock.adjust("1 minute")
      const completion = yield* Fiber.join(fiber)
      assert.strictEqual(completion.fallbackReason, "rate-limited")
      assert.strictEqual(completion.attempts, 1)
    }).pipe(
      Effect.provide(
        pipelineOver(layer(TestHttpClient.always(TestHttpClient.json(429, { status: 429 }, { "retry-after": "30" }))))
      )
    ))
})
