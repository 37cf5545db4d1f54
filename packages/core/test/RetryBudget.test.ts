import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as RetryBudget from "../src/RetryBudget.js"

describe("RetryBudget", () => {
  it.effect("a retry costs 5, one after a timeout 10; without the tokens nothing is taken", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.RetryBudget
      assert.isTrue(yield* budget.withdraw(false))
      assert.strictEqual(yield* budget.tokens, 17)
      assert.isTrue(yield* budget.withdraw(true))
      assert.strictEqual(yield* budget.tokens, 7)
      assert.isFalse(yield* budget.withdraw(true))
      assert.strictEqual(yield* budget.tokens, 7)
      assert.isTrue(yield* budget.withdraw(false))
      assert.isFalse(yield* budget.withdraw(false))
      assert.strictEqual(yield* budget.tokens, 2)
    }).pipe(Effect.provide(RetryBudget.layerTest({ retryBudget: 22 }))))

  it.effect("each success puts one token back, never above the capacity", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.RetryBudget
      yield* budget.refund
      assert.strictEqual(yield* budget.tokens, 10)
      assert.isTrue(yield* budget.withdraw(false))
      assert.isTrue(yield* budget.withdraw(false))
      assert.isFalse(yield* budget.withdraw(false))
      for (let i = 0; i < 4; i++) yield* budget.refund
      assert.isFalse(yield* budget.withdraw(false))
      yield* budget.refund
      assert.isTrue(yield* budget.withdraw(false))
    }).pipe(Effect.provide(RetryBudget.layerTest({ retryBudget: 10 }))))

  it.effect("the AWS SDK's capacity by default: 100 retries", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.RetryBudget
      let granted = 0
      while (yield* budget.withdraw(false)) granted++
      assert.strictEqual(granted, 100)
    }).pipe(Effect.provide(RetryBudget.layerTest())))

  it.effect("0 turns the budget off: every retry goes", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.RetryBudget
      for (let i = 0; i < 1000; i++) assert.isTrue(yield* budget.withdraw(true))
      assert.strictEqual(yield* budget.tokens, Number.POSITIVE_INFINITY)
    }).pipe(Effect.provide(RetryBudget.layerTest({ retryBudget: 0 }))))
})
