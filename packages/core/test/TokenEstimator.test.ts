import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as BpeTokenEstimator from "../src/BpeTokenEstimator.js"
import * as TokenEstimator from "../src/TokenEstimator.js"

describe("TokenEstimator", () => {
  it("counts 4 characters a token, rounding up", () => {
    const { estimate } = TokenEstimator.make()
    assert.strictEqual(estimate(""), 0)
    assert.strictEqual(estimate("a"), 1)
    assert.strictEqual(estimate("abcd"), 1)
    assert.strictEqual(estimate("abcde"), 2)
    assert.strictEqual(estimate("x".repeat(4000)), 1000)
    assert.strictEqual(estimate("x".repeat(4001)), 1001)
  })

  it("counts UTF-16 code units, as the validation limits do", () => {
    // One emoji is two code units; four of them are eight units, two tokens.
    assert.strictEqual(TokenEstimator.estimateByCharacters("😀😀😀😀"), 2)
  })

  it("estimates a message by its content unless told otherwise", () => {
    const plain = TokenEstimator.make()
    assert.strictEqual(plain.estimateMessage({ role: "user", content: "abcdefgh" }), 2)
    const withOverhead = TokenEstimator.make({ estimateMessage: (m) => 3 + plain.estimate(m.content) })
    assert.strictEqual(withOverhead.estimateMessage({ role: "agent", content: "abcdefgh" }), 5)
    assert.strictEqual(withOverhead.estimate("abcdefgh"), 2)
  })

  it.effect("layerFromFunction plugs in a custom estimate, used for messages too", () =>
    Effect.gen(function*() {
      const estimator = yield* TokenEstimator.TokenEstimator
      assert.strictEqual(estimator.estimate("one two three"), 3)
      assert.strictEqual(estimator.estimateMessage({ role: "user", content: "one two" }), 2)
    }).pipe(Effect.provide(TokenEstimator.layerFromFunction((text) => text.split(" ").length))))

  it.effect("layerDefault is the 4-characters estimator", () =>
    Effect.gen(function*() {
      const estimator = yield* TokenEstimator.TokenEstimator
      assert.strictEqual(estimator.estimate("abcdefghi"), 3)
    }).pipe(Effect.provide(TokenEstimator.layerDefault)))
})

describe("BpeTokenEstimator", () => {
  // Reference counts of the o200k_base encoding (as tiktoken gives them).
  const known: ReadonlyArray<readonly [string, number]> = [
    ["", 0],
    ["hello", 1],
    ["hello world", 2],
    ["Hello, world!", 4],
    ["The quick brown fox jumps over the lazy dog.", 10]
  ]

  it("counts o200k_base tokens exactly", () => {
    const estimator = BpeTokenEstimator.make()
    for (const [text, tokens] of known) {
      assert.strictEqual(estimator.estimate(text), tokens, JSON.stringify(text))
    }
  })

  it("counts a special-token spelling as plain text instead of throwing", () => {
    const count = BpeTokenEstimator.countO200k("<|endoftext|>")
    assert.isAbove(count, 1)
  })

  it.effect("layer provides the exact estimator, messages counted by content", () =>
    Effect.gen(function*() {
      const estimator = yield* TokenEstimator.TokenEstimator
      assert.strictEqual(estimator.estimateMessage({ role: "user", content: "Hello, world!" }), 4)
      // 11 characters: the 4-characters rule says 3, the encoding 2.
      assert.strictEqual(estimator.estimate("hello world"), 2)
      assert.notStrictEqual(estimator.estimate("hello world"), TokenEstimator.estimateByCharacters("hello world"))
    }).pipe(Effect.provide(BpeTokenEstimator.layer)))
})
