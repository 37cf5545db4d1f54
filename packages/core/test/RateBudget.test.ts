import * as RateLimiter from "@effect/experimental/RateLimiter"
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as RateBlock from "../src/RateBlock.js"
import * as RateBudget from "../src/RateBudget.js"

const key = "client-a"

// Takes a permit in a fiber of its own and lets the TestClock run: whether it was granted, and when.
const takeAt = (deadline: number, advance = 120_000, on = key) =>
  Effect.gen(function*() {
    const budget = yield* RateBudget.RateBudget
    const fiber = yield* Effect.fork(Effect.zip(budget.take(on, deadline), Clock.currentTimeMillis))
    yield* TestClock.adjust(advance)
    const [granted, at] = yield* Fiber.join(fiber)
    return { granted, at }
  })

describe("RateBudget", () => {
  it.effect("grants the permits of the window at once, and refuses at once a wait past the deadline", () =>
    Effect.gen(function*() {
      const budget = yield* RateBudget.RateBudget
      for (let i = 0; i < 3; i++) assert.isTrue(yield* budget.take(key, 5_000))
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
      // The fourth permit comes when the window resets, a minute on: past a deadline of 5 s, so no wait at all.
      const refused = yield* takeAt(5_000, 0)
      assert.deepStrictEqual(refused, { granted: false, at: 0 })
      // Another key has its own window.
      assert.isTrue(yield* budget.take("client-b", 5_000))
    }).pipe(Effect.provide(RateBudget.layerTest({ rateLimitPerMinute: 3 }))))

  it.effect("waits for the next window when it comes before the deadline", () =>
    Effect.gen(function*() {
      const budget = yield* RateBudget.RateBudget
      for (let i = 0; i < 3; i++) assert.isTrue(yield* budget.take(key, 5_000))
      const waited = yield* takeAt(90_000)
      assert.deepStrictEqual(waited, { granted: true, at: 60_000 })
    }).pipe(Effect.provide(RateBudget.layerTest({ rateLimitPerMinute: 3 }))))

  it.effect("a 429 blocks the key for its Retry-After: a call whose deadline comes later waits, one earlier does not", () =>
    Effect.gen(function*() {
      const budget = yield* RateBudget.RateBudget
      yield* budget.learn(key, { status: 429, retryAfterMillis: 5_000 })
      const early = yield* takeAt(3_000, 0)
      assert.deepStrictEqual(early, { granted: false, at: 0 })
      const later = yield* takeAt(10_000)
      assert.deepStrictEqual(later, { granted: true, at: 5_000 })
      assert.isTrue(yield* budget.take("client-b", 6_000))
    }).pipe(Effect.provide(RateBudget.layerTest())))

  it.effect("a block is never longer than a window, and a 429 without Retry-After blocks one second", () =>
    Effect.gen(function*() {
      const budget = yield* RateBudget.RateBudget
      const blocks = yield* RateBlock.RateBlock
      yield* budget.learn(key, { status: 429, retryAfterMillis: 3_600_000 })
      assert.strictEqual(yield* blocks.remaining(key), 60_000)
      yield* budget.learn("client-b", { status: 429 })
      assert.strictEqual(yield* blocks.remaining("client-b"), 1_000)
      // A shorter block does not shorten a longer one.
      yield* budget.learn(key, { status: 429, retryAfterMillis: 1_000 })
      assert.strictEqual(yield* blocks.remaining(key), 60_000)
    }).pipe(
      Effect.provide(
        RateBudget.layer().pipe(
          Layer.provideMerge(Layer.merge(RateLimiter.layerStoreMemory, RateBlock.layerTest))
        )
      )
    ))

  it.effect("learns the limit from inin-ratelimit-allowed, and blocks until the reset once the count reaches it", () =>
    Effect.gen(function*() {
      const budget = yield* RateBudget.RateBudget
      yield* budget.learn(key, { status: 200, allowed: 2, count: 1, resetMillis: 30_000 })
      assert.isTrue(yield* budget.take(key, 5_000))
      assert.isTrue(yield* budget.take(key, 5_000))
      assert.isFalse(yield* budget.take(key, 5_000))
      yield* budget.learn("client-b", { status: 200, allowed: 10, count: 10, resetMillis: 7_000 })
      const blocked = yield* takeAt(20_000, 60_000, "client-b")
      assert.deepStrictEqual(blocked, { granted: true, at: 7_000 })
    }).pipe(Effect.provide(RateBudget.layerTest())))

  it.effect("the noop budget grants everything", () =>
    Effect.gen(function*() {
      const budget = yield* RateBudget.RateBudget
      yield* budget.learn(key, { status: 429, retryAfterMillis: 5_000 })
      assert.isTrue(yield* budget.take(key, 1))
    }).pipe(Effect.provide(RateBudget.layerNoop)))
})

describe("RateBlock memory store", () => {
  it.effect("a block ends on the clock", () =>
    Effect.gen(function*() {
      const blocks = yield* RateBlock.RateBlock
      yield* blocks.block(key, 2_000)
      yield* blocks.block(key, 0)
      assert.strictEqual(yield* blocks.remaining(key), 2_000)
      yield* TestClock.adjust(1_500)
      assert.strictEqual(yield* blocks.remaining(key), 500)
      yield* TestClock.adjust(500)
      assert.strictEqual(yield* blocks.remaining(key), 0)
    }).pipe(Effect.provide(RateBlock.layerMemory)))
})

describe("RateBudget before a key's first answer", () => {
  const learning = RateBudget.layerTest({ learnBeforeBurst: true })

  it.effect("one attempt goes; the others wait for what its answer says of the limit, and keep to it", () =>
    Effect.gen(function*() {
      const budget = yield* RateBudget.RateBudget
      assert.isTrue(yield* budget.take(key, 5_000))
      const second = yield* Effect.fork(Effect.zip(budget.take(key, 5_000), Clock.currentTimeMillis))
      yield* TestClock.adjust(100)
      assert.isTrue(Option.isNone(yield* Fiber.poll(second)), "the second waits for the first answer")
      // The gateway allows 2 a minute, not the configured 300.
      yield* budget.learn(key, { status: 200, allowed: 2, count: 1, resetMillis: 59_900 })
      assert.deepStrictEqual(yield* Fiber.join(second), [true, 100])
      // The third would wait for the next window, past its deadline: refused at once, nothing sent.
      assert.isFalse(yield* budget.take(key, 5_000))
      // Another key was never answered: its first attempt goes at once.
      assert.isTrue(yield* budget.take("client-b", 5_000))
    }).pipe(Effect.provide(learning)))

  it.effect("without an answer (the first attempt found no gateway) the others go on after the bound", () =>
    Effect.gen(function*() {
      const budget = yield* RateBudget.RateBudget
      assert.isTrue(yield* budget.take(key, 10_000))
      const waited = yield* takeAt(10_000, RateBudget.defaults.firstAnswerWaitMillis)
      assert.deepStrictEqual(waited, { granted: true, at: RateBudget.defaults.firstAnswerWaitMillis })
      // Nobody waits for that key's first answer again.
      assert.isTrue(yield* budget.take(key, 10_000))
      assert.strictEqual(yield* Clock.currentTimeMillis, RateBudget.defaults.firstAnswerWaitMillis)
    }).pipe(Effect.provide(learning)))

  it.effect("an attempt that got no answer lets the waiting calls go at once", () =>
    Effect.gen(function*() {
      const budget = yield* RateBudget.RateBudget
      assert.isTrue(yield* budget.take(key, 10_000))
      const second = yield* Effect.fork(Effect.zip(budget.take(key, 10_000), Clock.currentTimeMillis))
      yield* TestClock.adjust(50)
      yield* budget.learn(key, { status: 0 })
      assert.deepStrictEqual(yield* Fiber.join(second), [true, 50])
    }).pipe(Effect.provide(learning)))

  it.effect("a deadline nearer than the bound is never passed for it", () =>
    Effect.gen(function*() {
      const budget = yield* RateBudget.RateBudget
      assert.isTrue(yield* budget.take(key, 10_000))
      // It gives up at its deadline: no request sent with nothing left of its time.
      assert.deepStrictEqual(yield* takeAt(500, 10_000), { granted: false, at: 500 })
      // A call whose deadline has passed neither waits nor opens the gate for the others.
      assert.isFalse(yield* budget.take(key, 0))
      const from = yield* Clock.currentTimeMillis
      const later = yield* takeAt(from + 20_000, 10_000)
      assert.deepStrictEqual(later, { granted: true, at: from + RateBudget.defaults.firstAnswerWaitMillis })
    }).pipe(Effect.provide(learning)))
})
