import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as TestClock from "effect/TestClock"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Metrics from "../src/Metrics.js"

const options = { circuitFailures: 3, circuitCooldownMillis: 10_000 }

const failures = (breaker: CircuitBreaker.Service, n: number) =>
  Effect.forEach(Array.from({ length: n }), () => breaker.record("failure", false), { discard: true })

describe("CircuitBreaker", () => {
  it.effect("opens after the threshold of failures in a row; a success or a neutral end in between changes that", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.CircuitBreaker
      yield* failures(breaker, 2)
      yield* breaker.record("success", false)
      yield* failures(breaker, 2)
      yield* breaker.record("neutral", false)
      assert.strictEqual(yield* breaker.state, "closed")
      assert.strictEqual(yield* breaker.admit, "closed")
      yield* breaker.record("failure", false)
      assert.strictEqual(yield* breaker.state, "open")
      assert.strictEqual(yield* breaker.admit, "open")
      assert.strictEqual((yield* Metric.value(Metrics.circuitState)).value, 2)
    }).pipe(Effect.provide(CircuitBreaker.layerTest(options))))

  it.effect("after the cooldown one probe goes; its success closes the circuit", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.CircuitBreaker
      yield* failures(breaker, 3)
      yield* TestClock.adjust(9_999)
      assert.strictEqual(yield* breaker.admit, "open")
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* breaker.admit, "probe")
      assert.strictEqual(yield* breaker.state, "half-open")
      // Only one probe at a time.
      assert.strictEqual(yield* breaker.admit, "open")
      yield* breaker.record("success", true)
      assert.strictEqual(yield* breaker.state, "closed")
      assert.strictEqual(yield* breaker.admit, "closed")
      // Closed again from zero: it takes the threshold again to open.
      yield* failures(breaker, 2)
      assert.strictEqual(yield* breaker.state, "closed")
    }).pipe(Effect.provide(CircuitBreaker.layerTest(options))))

  it.effect("a failed probe opens it for another cooldown; a neutral probe lets the next call probe", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.CircuitBreaker
      yield* failures(breaker, 3)
      yield* TestClock.adjust(10_000)
      assert.strictEqual(yield* breaker.admit, "probe")
      yield* breaker.record("failure", true)
      assert.strictEqual(yield* breaker.state, "open")
      yield* TestClock.adjust(9_000)
      assert.strictEqual(yield* breaker.admit, "open")
      yield* TestClock.adjust(1_000)
      assert.strictEqual(yield* breaker.admit, "probe")
      yield* breaker.record("neutral", true)
      assert.strictEqual(yield* breaker.admit, "probe")
      // A late failure of a call admitted before the circuit opened does not count as the probe's.
      yield* breaker.record("failure", false)
      assert.strictEqual(yield* breaker.state, "half-open")
      // A probe that never tells its end stands for one cooldown, then another call may probe.
      yield* TestClock.adjust(9_999)
      assert.strictEqual(yield* breaker.admit, "open")
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* breaker.admit, "probe")
    }).pipe(Effect.provide(CircuitBreaker.layerTest(options))))

  it.effect("the defaults: 5 failures, 10 s", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.CircuitBreaker
      yield* failures(breaker, 4)
      assert.strictEqual(yield* breaker.state, "closed")
      yield* failures(breaker, 1)
      assert.strictEqual(yield* breaker.state, "open")
      yield* TestClock.adjust(10_000)
      assert.strictEqual(yield* breaker.admit, "probe")
    }).pipe(Effect.provide(CircuitBreaker.layerTest())))
})
