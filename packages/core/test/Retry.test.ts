import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as Retry from "../src/internal/retry.js"

describe("Retry", () => {
  it("retries exactly 408, 429, 500, 502, 503 and 504", () => {
    const retried = Array.from({ length: 500 }, (_, i) => i + 100).filter(Retry.isRetryableStatus)
    assert.deepStrictEqual(retried, [408, 429, 500, 502, 503, 504])
  })

  it("doubles the backoff ceiling from the base up to the cap", () => {
    assert.deepStrictEqual([1, 2, 3, 4, 5, 6].map((n) => Retry.backoffCeiling(n, 250, 2000)), [
      250,
      500,
      1000,
      2000,
      2000,
      2000
    ])
    assert.strictEqual(Retry.backoffCeiling(10_000, 250, 2000), 2000)
  })

  it("reads Retry-After as seconds, as an HTTP date, and retry-after-ms first", () => {
    const now = Date.parse("2025-01-01T00:00:00Z")
    assert.strictEqual(Retry.parseRetryAfter({ "retry-after": "2" }, now), 2000)
    assert.strictEqual(Retry.parseRetryAfter({ "retry-after": " 0 " }, now), 0)
    assert.strictEqual(Retry.parseRetryAfter({ "retry-after": "1.5" }, now), 1500)
    assert.strictEqual(Retry.parseRetryAfter({ "retry-after": "Wed, 01 Jan 2025 00:00:03 GMT" }, now), 3000)
    assert.strictEqual(Retry.parseRetryAfter({ "retry-after": "Tue, 31 Dec 2024 23:59:00 GMT" }, now), 0)
    assert.strictEqual(Retry.parseRetryAfter({ "retry-after": "2", "retry-after-ms": "250" }, now), 250)
    assert.strictEqual(Retry.parseRetryAfter({ "retry-after": "soon" }, now), undefined)
    assert.strictEqual(Retry.parseRetryAfter({ "retry-after": "-3" }, now), undefined)
    assert.strictEqual(Retry.parseRetryAfter({ "retry-after-ms": "x", "retry-after": "1" }, now), 1000)
    assert.strictEqual(Retry.parseRetryAfter({}, now), undefined)
  })

  it("uses the server's wait, capped, instead of the jitter", () => {
    const options = { failures: 1, baseMillis: 250, capMillis: 2000, retryAfterCapMillis: 30_000 }
    assert.strictEqual(Retry.retryDelay(options, 1000, 0.9), 1000)
    assert.strictEqual(Retry.retryDelay(options, 120_000, 0.9), 30_000)
    assert.strictEqual(Retry.retryDelay(options, undefined, 0.5), 125)
    assert.strictEqual(Retry.retryDelay({ ...options, failures: 3 }, undefined, 1), 1000)
  })

  const settings = FastCheck.record({
    baseMillis: FastCheck.integer({ min: 0, max: 10_000 }),
    capMillis: FastCheck.integer({ min: 0, max: 60_000 }),
    retryAfterCapMillis: FastCheck.integer({ min: 0, max: 120_000 })
  })
  // One failed attempt: the wait its response asked for (or none) and the random draw of its jitter.
  const failure = FastCheck.record({
    retryAfter: FastCheck.option(FastCheck.integer({ min: 0, max: 1_000_000 }), { nil: undefined }),
    random: FastCheck.double({ min: 0, max: 1, noNaN: true })
  })
  const failures = FastCheck.array(failure, { minLength: 1, maxLength: 200 })

  type Settings = typeof settings extends FastCheck.Arbitrary<infer A> ? A : never
  type Failure = typeof failure extends FastCheck.Arbitrary<infer A> ? A : never

  // The sleeps of a call whose attempts all fail, as the gateway takes them: after each failure the next delay,
  // unless a sleep that long would reach the deadline (then the call stops retrying).
  const schedule = (s: Settings, start: number, deadline: number, all: ReadonlyArray<Failure>) => {
    const sleeps: Array<{ readonly at: number; readonly delay: number; readonly asked: boolean }> = []
    let now = start
    for (const [i, { random, retryAfter }] of all.entries()) {
      const delay = Retry.retryDelay({ ...s, failures: i + 1 }, retryAfter, random)
      if (Retry.passesDeadline(now, delay, deadline)) break
      sleeps.push({ at: now, delay, asked: retryAfter !== undefined })
      now += delay
    }
    return { sleeps, end: now }
  }

  it.prop(
    "over many attempts every sleep is whole, non-negative and within its cap",
    [settings, failures],
    ([s, all]) => {
      const { sleeps } = schedule(s, 0, Number.POSITIVE_INFINITY, all)
      assert.strictEqual(sleeps.length, all.length, "with no deadline every failure is followed by a sleep")
      for (const { asked, delay } of sleeps) {
        assert.isTrue(Number.isInteger(delay) && delay >= 0, `${delay}`)
        assert.isAtMost(delay, asked ? s.retryAfterCapMillis : s.capMillis)
      }
    }
  )

  it.prop(
    "over many attempts no sleep reaches the deadline, and the call stops at the first one that would",
    [settings, failures, FastCheck.integer({ min: 0, max: 1e9 }), FastCheck.integer({ min: 0, max: 200_000 })],
    ([s, all, start, budget]) => {
      const deadline = start + budget
      const { end, sleeps } = schedule(s, start, deadline, all)
      for (const { at, delay } of sleeps) assert.isBelow(at + delay, deadline)
      assert.isTrue(end === start || end < deadline)
      if (sleeps.length < all.length) {
        const next = all[sleeps.length]
        const delay = Retry.retryDelay({ ...s, failures: sleeps.length + 1 }, next.retryAfter, next.random)
        assert.isAtLeast(end + delay, deadline, "it stopped although the next sleep fitted")
      }
    }
  )

  it.prop(
    "without Retry-After the widest sleeps double from the base and then stay at the cap",
    [settings, FastCheck.integer({ min: 1, max: 100 })],
    ([s, n]) => {
      const widest = schedule(
        s,
        0,
        Number.POSITIVE_INFINITY,
        Array.from({ length: n }, () => ({ random: 1, retryAfter: undefined }))
      )
        .sleeps.map(({ delay }) => delay)
      widest.forEach((delay, i) => {
        if (i > 0) assert.isAtLeast(delay, widest[i - 1])
        assert.isAtMost(delay, s.capMillis)
        if (delay < s.capMillis) assert.strictEqual(delay, s.baseMillis * 2 ** i)
      })
    }
  )
})
