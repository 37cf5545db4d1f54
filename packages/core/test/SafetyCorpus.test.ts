// Microsoft Presidio's recognizer test cases (test/fixtures/presidio.ts) against our rules. Each test name gives
// the score; every case passes exactly except the misses documented, with their reasons, in the fixture.
import { assert, describe, it } from "@effect/vitest"
import * as SafetyPolicy from "../src/SafetyPolicy.js"
import * as Presidio from "./fixtures/presidio.js"

const found = (ruleId: string, text: string): ReadonlyArray<readonly [number, number]> => {
  const rule = SafetyPolicy.defaultRules.filter((r) => r.id === ruleId).map((r) => ({ ...r, enabled: true }))
  return SafetyPolicy.scanText(rule, text).map((f) => [f.start, f.end] as const)
}

const passes = (ruleId: string, c: Presidio.Case): boolean =>
  JSON.stringify(found(ruleId, c.text)) === JSON.stringify(c.spans)

// The scores this change reached; a rule change that lowers one fails here.
const floors: Readonly<Record<string, number>> = { "payment-card": 18, "us-ssn": 11, email: 8, "phone-number": 16 }

describe("Presidio's recognizer test cases", () => {
  for (const recognizer of Presidio.recognizers) {
    const score = recognizer.cases.filter((c) => passes(recognizer.ruleId, c)).length
    const misses = recognizer.cases.filter((c) => c.miss !== undefined).length
    describe(`${recognizer.name} (${recognizer.ruleId}): ${score}/${recognizer.cases.length} cases`, () => {
      it(`scores at least ${floors[recognizer.ruleId]}, ${misses} documented misses`, () => {
        assert.isAtLeast(score, floors[recognizer.ruleId])
        assert.strictEqual(score, recognizer.cases.length - misses)
      })
      for (const c of recognizer.cases) {
        it(`${c.miss === undefined ? "finds" : "documented miss:"} ${JSON.stringify(c.text)}`, () => {
          if (c.miss === undefined) assert.deepStrictEqual(found(recognizer.ruleId, c.text), c.spans)
          // Still a miss: when a rule starts passing it, the fixture's note is out of date.
          else assert.isFalse(passes(recognizer.ruleId, c), c.miss)
        })
      }
    })
  }
})
