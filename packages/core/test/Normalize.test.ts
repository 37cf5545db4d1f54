import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { check as recheck } from "recheck"
import { afterEach, vi } from "vitest"
import * as Normalize from "../src/internal/normalize.js"

// The view by definition: each character with its combining marks, ignorable code points removed, in NFKC.
const reference = (text: string): string =>
  (text.match(/[^]\p{M}*/gu) ?? []).map((c) => c.replace(/\p{Default_Ignorable_Code_Point}/gu, "").normalize("NFKC"))
    .join("")

const pieces = [
  "a",
  "Z",
  "7",
  " ",
  "-",
  ":",
  "\u00a0",
  "\u202f",
  "\uff14",
  "\uff41",
  "\uff1a",
  "\u200b",
  "\u200d",
  "\u00ad",
  "\ufeff",
  "\u2060",
  "\u0301",
  "\u0316",
  "e\u0301",
  "\u00e9",
  "\u2026",
  "\ufb01",
  "\u2460",
  "\ud835\udfd2",
  "\ud83d\ude00",
  "\u3042",
  "\u1100\u1161",
  "\u2013"
]
const mixed = FastCheck.array(FastCheck.constantFrom(...pieces), { maxLength: 80 }).map((parts) => parts.join(""))

describe("Normalize", () => {
  it("an ASCII text is its own view", () => {
    const text = "card 4111 1111 1111 1111, password: hunter2"
    const view = Normalize.view(text)
    assert.isTrue(view.identity)
    assert.strictEqual(view.text, text)
    assert.deepStrictEqual(view.toOriginal(5, 24), { start: 5, end: 24 })
  })

  it("a text already in normal form, without ignorable characters, is its own view", () => {
    const text = "We’ll call you — caf\u00e9, \u3042\u308a\u304c\u3068\u3046 \ud83d\ude00"
    assert.isTrue(Normalize.view(text).identity)
  })

  it("maps fullwidth characters one to one and removed characters as nothing", () => {
    const text = "pass\u200bword\uff1a \uff14\uff11\u00a011"
    const view = Normalize.view(text)
    assert.strictEqual(view.text, "password: 41 11")
    // "password" in the view covers the zero-width space inside it.
    assert.deepStrictEqual(view.toOriginal(0, 8), { start: 0, end: 9 })
    // "41 11": fullwidth digits and a no-break space, one to one.
    assert.deepStrictEqual(view.toOriginal(10, 15), { start: 11, end: 16 })
    assert.strictEqual(view.originalAt(8), 9)
    assert.strictEqual(view.viewAt(9), 8)
  })

  it("a removed character at the edge of a stretch stays outside it", () => {
    const text = "x\u200b4111\u200by"
    const view = Normalize.view(text)
    assert.strictEqual(view.text, "x4111y")
    assert.deepStrictEqual(view.toOriginal(1, 5), { start: 2, end: 6 })
  })

  it("a character that changes length maps as a whole", () => {
    const text = "a\ud835\udfd2b\u2026c e\u0301"
    const view = Normalize.view(text)
    assert.strictEqual(view.text, "a4b...c \u00e9")
    // The mathematical digit is two code units, its view one.
    assert.deepStrictEqual(view.toOriginal(1, 2), { start: 1, end: 3 })
    // Any part of the ellipsis's three dots maps to the ellipsis.
    assert.deepStrictEqual(view.toOriginal(4, 5), { start: 4, end: 5 })
    assert.deepStrictEqual(view.toOriginal(2, 7), { start: 3, end: 6 })
    // A base and its combining mark compose, and map together.
    assert.deepStrictEqual(view.toOriginal(8, 9), { start: 7, end: 9 })
  })

  it.prop("the view is each character with its marks in NFKC, ignorable ones removed", [mixed], ([text]) => {
    assert.strictEqual(Normalize.view(text).text, reference(text))
  })

  it.prop(
    "a stretch of the view comes from its mapped original stretch, and positions only move forward",
    [mixed, FastCheck.nat(), FastCheck.nat()],
    ([text, a, b]) => {
      const view = Normalize.view(text)
      if (view.text.length === 0) return
      const start = a % view.text.length
      const end = start + 1 + (b % (view.text.length - start))
      const original = view.toOriginal(start, end)
      assert.isAtMost(original.end, text.length)
      assert.include(Normalize.view(text.slice(original.start, original.end)).text, view.text.slice(start, end))
      for (let i = 1; i <= view.text.length; i++) assert.isAtLeast(view.originalAt(i), view.originalAt(i - 1))
    }
  )

  describe("linear whatever the input", () => {
    afterEach(() => {
      vi.restoreAllMocks()
    })

    // ICU's normalisation is quadratic in a run of combining marks out of order; the view must hand it bounded
    // pieces only, and in all no more than a few times the text.
    const adversarial: ReadonlyArray<readonly [string, string]> = [
      ["combining marks out of order", "a" + "\u0301\u0316".repeat(50_000)],
      ["combining marks alone", "\u0301\u0316".repeat(50_000)],
      ["zero-width spaces", "1\u200b".repeat(50_000)],
      ["only zero-width spaces", "\u200b".repeat(100_000)],
      ["fullwidth digits", "\uff14\uff11\uff11\uff11 ".repeat(20_000)],
      ["an expanding ligature", "\ufdfa".repeat(20_000)],
      ["astral digits", "\ud835\udfd2".repeat(50_000)],
      ["a lone surrogate", "\ud835".repeat(100_000)]
    ]
    for (const [name, text] of adversarial) {
      it(name, () => {
        const normalize = vi.spyOn(String.prototype, "normalize")
        const view = Normalize.view(text)
        let total = 0
        let longest = 0
        for (const call of normalize.mock.contexts) {
          const length = String(call).length
          total += length
          longest = Math.max(longest, length)
        }
        assert.isAtMost(longest, Math.max(Normalize.CHUNK_MAX, Normalize.MARKS_MAX + 1) * 2)
        assert.isAtMost(total, 3 * text.length)
        assert.isAtMost(view.text.length, 18 * text.length)
      })
    }

    for (const pattern of [Normalize.nonAsciiPattern, Normalize.chunkPattern, Normalize.ignorablePattern]) {
      it(`/${pattern.source.slice(0, 40)}/ is ReDoS-safe`, async () => {
        const result = await recheck(pattern.source, pattern.flags, { timeout: 30_000 })
        assert.strictEqual(result.status, "safe", JSON.stringify(result))
      }, 60_000)
    }
  })
})
