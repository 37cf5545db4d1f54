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
    failures: FastCheck.integer({ min: 1, max: 100 }),
    baseMillis: FastCheck.integer({ min: 0, max: 10_000 }),
    capMillis: FastCheck.integer({ min: 0, max: 60_000 }),
    retryAfterCapMillis: FastCheck.integer({ min: 0, max: 120_000 })
  })
  const random = FastCheck.double({ min: 0, max: 1, noNaN: true })

  it.prop("every backoff lies within [0, min(cap, base * 2^(n-1))]", [settings, random], ([s, r]) => {
    const delay = Retry.retryDelay(s, undefined, r)
    const ceiling = Math.min(s.capMillis, s.baseMillis * 2 ** (s.failures - 1))
    assert.isTrue(Number.isInteger(delay))
    assert.isTrue(delay >= 0 && delay <= ceiling, `${delay} not in [0, ${ceiling}]`)
  })

  it.prop(
    "a Retry-After is honoured up to its cap",
    [settings, FastCheck.integer({ min: 0, max: 1_000_000 }), random],
    ([s, retryAfter, r]) => {
      assert.strictEqual(Retry.retryDelay(s, retryAfter, r), Math.min(retryAfter, s.retryAfterCapMillis))
    }
  )

  it.prop(
    "no sleep that passes the deadline check ends at or after the deadline",
    [
      FastCheck.integer({ min: 0, max: 1e9 }),
      FastCheck.integer({ min: 0, max: 1e6 }),
      FastCheck.integer({ min: 0, max: 1e9 })
    ],
    ([now, delay, deadline]) => {
      if (!Retry.passesDeadline(now, delay, deadline)) assert.isTrue(now + delay < deadline)
      else assert.isTrue(now + delay >= deadline)
    }
  )
})
