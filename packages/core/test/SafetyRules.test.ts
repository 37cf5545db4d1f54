// The rule records hold each rule's data in one place; these tests fail when that data disagrees with what the
// detector does: a bound too small for the longest finding, or a prefilter that skips a text with a finding.
import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as detectors from "../src/internal/detectors.js"
import * as OutputGuard from "../src/internal/outputGuard.js"
import * as SafetyPolicy from "../src/SafetyPolicy.js"

const luhnComplete = (body: string): string => {
  for (let d = 0; d <= 9; d++) if (detectors.luhn(body + d)) return body + d
  throw new Error("unreachable")
}

// Per rule, findings as long as the rule allows, with what the detector reads around them.
const longest: Readonly<Record<string, ReadonlyArray<string>>> = {
  "secret-assignment": [
    `private_key" \t := \t${"v".repeat(400)}`,
    `passphrase \t is: \t"${"q".repeat(254)}"`,
    `api key   is   ${"w1".repeat(200)}`
  ],
  "aws-access-key-id": ["AKIAIOSFODNN7EXAMPLE"],
  "github-token": [`github_pat_${"a".repeat(300)}`, `ghp_${"b".repeat(300)}`],
  "stripe-secret-key": [`sk_live_${"c".repeat(300)}`],
  "slack-token": [`xoxb-${"d".repeat(300)}`],
  "slack-webhook": [`https://hooks.slack.com/workflows/${"T0/B1/".repeat(60)}`],
  "openai-api-key": [`sk-svcacct-${"o1-".repeat(100)}`, `sk-${"a1".repeat(150)}`],
  "anthropic-api-key": [`sk-ant-${"k9_".repeat(100)}`],
  "npm-token": [`npm_${"n1".repeat(18)}`],
  "gitlab-token": [`glagent-${"g-".repeat(150)}`, `glpat-${"x".repeat(20)}`],
  "google-api-key": [`AIza${"e".repeat(35)}`],
  "private-key": [
    `-----BEGIN RSA PRIVATE KEY-----\n${"A".repeat(6000)}`,
    `-----BEGIN PRIVATE KEY-----\n${"B".repeat(4000)}\n-----END PRIVATE KEY-----`
  ],
  "bearer-jwt": [`BEARER    eyJ${"h".repeat(1024)}.${"p".repeat(4096)}.${"s".repeat(3000)}`],
  jwt: [`eyJ${"h".repeat(1024)}.eyJ${"p".repeat(4093)}.${"s".repeat(3000)}`, `eyJ${"h".repeat(8)}.eyJp.`],
  "url-credentials": [`a://${"u".repeat(128)}:${"p".repeat(256)}@host`],
  "us-ssn": ["123-45-6789", "123 45 6789"],
  "payment-card": [
    luhnComplete("411111111111111111").replace(/^(...)(...)(...)(...)(...)(....)$/, "$1 $2 $3 $4 $5 $6"),
    luhnComplete("411111111111111111")
  ],
  email: [`${"l".repeat(64)}@${"d".repeat(250)}.com`],
  "phone-number": ["1-(415) 555-0132", "+442071838750123", "+1 (2345) 6 7 8 9 0 1 2 3 4", "+1 415 555 0132"]
}

const around = ["", " ", "x ", "said: ", "\n", ". Then ", "see "]

// The text through a guard in pieces of the given sizes, in turn, and what the guard released.
const stream = (rules: ReadonlyArray<SafetyPolicy.Rule>, text: string, cuts: ReadonlyArray<number>): string => {
  const guard = OutputGuard.make(rules)
  let out = ""
  for (let i = 0, k = 0; i < text.length; k++) {
    const size = cuts[k % cuts.length]
    out += guard.push(text.slice(i, i + size))
    i += size
  }
  return out + guard.flush()
}

describe("rule records", () => {
  it("every default rule has longest-match samples here", () => {
    assert.deepStrictEqual(Object.keys(longest).sort(), detectors.rules.map((r) => r.id).sort())
  })

  for (const spec of detectors.rules.filter((r) => longest[r.id] !== undefined)) {
    const rule = SafetyPolicy.defaultRules.find((r) => r.id === spec.id)!
    const alone = [{ ...rule, enabled: true }]

    it(`${spec.id}: each sample is found`, () => {
      for (const sample of longest[spec.id]) assert.isNotEmpty(rule.detect(` ${sample} `), sample.slice(0, 40))
    })

    // The guard holds back `maxMatchLength` characters of a rule without an anchor (and from an anchor match for
    // one with it): a bound below what the detector reads lets it release a finding's start unredacted.
    it.prop(
      `${spec.id}: the streaming guard over this rule alone redacts as the whole text does`,
      [
        FastCheck.array(
          FastCheck.tuple(FastCheck.constantFrom(...around), FastCheck.constantFrom(...longest[spec.id])),
          { minLength: 1, maxLength: 4 }
        ),
        FastCheck.array(FastCheck.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 12 })
      ],
      ([parts, cuts]) => {
        const text = parts.map(([before, sample]) => before + sample).join(" ") + " end"
        assert.strictEqual(stream(alone, text, cuts), SafetyPolicy.redactText(text, SafetyPolicy.scanText(alone, text)))
      },
      { fastCheck: { numRuns: 40 } }
    )

    if (spec.prefilter !== undefined) {
      const prefilter = spec.prefilter
      it(`${spec.id}: the prefilter passes every text with a finding`, () => {
        for (const sample of longest[spec.id]) {
          for (const text of [sample, sample.toUpperCase(), sample.toLowerCase()]) {
            if (spec.detect(text).length > 0) assert.isTrue(detectors.mayMatch(prefilter, text), text.slice(0, 40))
          }
        }
      })
    }
  }
})

describe("the streaming guard on the normalised view", () => {
  const zw = (n: number) => "\u200b".repeat(n)
  // Longer in the reply than any rule's maxMatchLength, though short in the view the rules read.
  const spread = [
    `4111${zw(200)} 1111${zw(200)} 1111${zw(200)} 1111`,
    `pass${zw(300)}word${zw(300)}: hunter2${zw(100)}x`,
    `\uff14\uff11\uff11\uff11\u00a0${zw(150)}\uff11\uff11\uff11\uff11 1111 1111`,
    `AKIA${zw(50)}IOSFODNN7EXAMPLE`
  ]
  const prose = "All good here, your order ships today. "

  it.prop(
    "holds a finding spread by invisible characters back whole",
    [
      FastCheck.array(FastCheck.constantFrom(...spread, prose.repeat(5)), { minLength: 2, maxLength: 8 }),
      FastCheck.array(FastCheck.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 12 })
    ],
    ([parts, cuts]) => {
      const text = prose.repeat(30) + parts.join(" ")
      const rules = SafetyPolicy.defaultRules
      assert.strictEqual(stream(rules, text, cuts), SafetyPolicy.redactText(text, SafetyPolicy.scanText(rules, text)))
    },
    { fastCheck: { numRuns: 60 } }
  )

  it("holds a bounded number of characters of a flood of invisible ones", () => {
    const guard = OutputGuard.make(SafetyPolicy.defaultRules)
    const shortHold = SafetyPolicy.holdBack(SafetyPolicy.defaultRules.filter((r) => r.anchor === undefined))
    let pushed = 0
    let released = 0
    for (let i = 0; i < 2_000; i++) {
      released += guard.push(i % 100 === 0 ? "4" : zw(100)).length
      pushed += i % 100 === 0 ? 1 : 100
      assert.isAtMost(pushed - released, (OutputGuard.HOLD_SLACK + 2) * shortHold)
    }
    assert.strictEqual(released + guard.flush().length, pushed)
  })
})
