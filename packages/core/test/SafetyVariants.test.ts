// Written variants of what the default rules look for (separators, lookalike and invisible characters, other key
// formats), and ordinary contact-center sentences that must not be taken for secrets.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as detectors from "../src/internal/detectors.js"
import * as SafetyPolicy from "../src/SafetyPolicy.js"

const payloadOf = (content: string) => ({
  systemInstructions: [],
  context: [{ role: "user" as const, content }],
  temperature: 0.2,
  maxTokens: 256,
  modelId: "model-1"
})

const defaults = SafetyPolicy.fromRules(SafetyPolicy.defaultRules)

const fullwidth = (text: string): string => text.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0))

// Made up; split so that no secret scanner takes this file for a leak.
const JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" +
  ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ" +
  ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
const OPENAI_PROJECT = "sk-" + "proj-" + "Xq3vN8bR2mK7tY1wZ5cH9dF4gJ6sL0pA".repeat(4) + "T3BlbkFJ" + "a1B2c3D4e5F6"
const OPENAI_LEGACY = "sk-" + "Ab3De5Gh7Jk9Mn1Pq3St" + "T3BlbkFJ" + "Vw5Xy7Za9Bc1De3Fg5Hi"
const ANTHROPIC = "sk-" + "ant-api03-" + "Qm4Rt7Yw2Ez5Xc8Vb1Nh6Jk3Lp9As0Df".repeat(3) + "-AbCdEfGh"
const NPM = "npm" + "_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
const GITLAB = "glpat" + "-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm"
const SLACK_PATH = "T0" + "1ABCDEF2G/B0" + "3HIJKLM4N/" + "q8W7e6R5t4Y3u2I1o0P9a8S7"
const SLACK_WEBHOOK = "https://hooks.slack" + ".com/services/" + SLACK_PATH

describe("SafetyPolicy: written variants", () => {
  const cases: ReadonlyArray<readonly [name: string, text: string, ruleId: string, secret: string]> = [
    ["card with dots", "card 4111.1111.1111.1111 thanks", "payment-card", "4111.1111.1111"],
    ["card with non-breaking spaces", "card 4111\u00a01111\u00a01111\u00a01111", "payment-card", "1111\u00a01111"],
    ["card with narrow no-break spaces", "card 4111\u202f1111\u202f1111\u202f1111", "payment-card", "1111\u202f1111"],
    ["card with double spaces", "card 4111  1111  1111  1111", "payment-card", "1111  1111"],
    ["card with spaced dashes", "card 4111 - 1111 - 1111 - 1111", "payment-card", "1111 - 1111"],
    ["card with mixed separators", "card 4111-1111 1111.1111", "payment-card", "4111-1111 1111"],
    ["card with en dashes", "card 4111\u20131111\u20131111\u20131111", "payment-card", "1111\u20131111"],
    ["card in fullwidth digits", `card ${fullwidth("4111 1111 1111 1111")}`, "payment-card", fullwidth("1111")],
    ["card in bare fullwidth digits", `card ${fullwidth("4111111111111111")}`, "payment-card", fullwidth("1111")],
    ["card with zero-width spaces", "card 4111\u200b1111\u200b1111\u200b1111", "payment-card", "1111\u200b1111"],
    ["SSN with dots", "ssn 123.45.6789", "us-ssn", "123.45.6789"],
    ["SSN with slashes", "ssn 123/45/6789", "us-ssn", "123/45/6789"],
    ["SSN with en dashes", "ssn 123\u201345\u20136789", "us-ssn", "123\u201345"],
    ["SSN with non-breaking hyphens", "ssn 123\u201145\u20116789", "us-ssn", "123\u201145"],
    ["SSN with minus signs", "ssn 123\u221245\u22126789", "us-ssn", "123\u221245"],
    ["SSN in fullwidth digits", `ssn ${fullwidth("123-45-6789")}`, "us-ssn", fullwidth("6789")],
    ["SSN with non-breaking spaces", "ssn 123\u00a045\u00a06789", "us-ssn", "123\u00a045"],
    ["a bare JWT", `token ${JWT}`, "jwt", JWT],
    ["a JWT after BEARER", `Authorization: BEARER ${JWT}`, "bearer-jwt", JWT],
    ["a JWT after bearer", `authorization: bearer ${JWT}`, "bearer-jwt", JWT],
    ["an OpenAI project key", `key ${OPENAI_PROJECT}`, "openai-api-key", OPENAI_PROJECT.slice(8)],
    ["an OpenAI key", `OPENAI_API_KEY ${OPENAI_LEGACY}`, "openai-api-key", OPENAI_LEGACY.slice(3)],
    ["an Anthropic key", `use ${ANTHROPIC}`, "anthropic-api-key", ANTHROPIC.slice(7)],
    ["an npm token", `registry ${NPM}`, "npm-token", NPM.slice(4)],
    ["a GitLab token", `git ${GITLAB}`, "gitlab-token", GITLAB.slice(6)],
    ["a Slack webhook URL", `post to ${SLACK_WEBHOOK} now`, "slack-webhook", SLACK_PATH],
    ["pwd=", "pwd=hunter2", "secret-assignment", "hunter2"],
    ["pw:", "user: jdoe pw: hunter2", "secret-assignment", "hunter2"],
    ["passcode", "passcode: 482193", "secret-assignment", "482193"],
    ["my passcode is", "my passcode is 482193", "secret-assignment", "482193"],
    ["a fullwidth colon", "password\uff1ahunter2", "secret-assignment", "hunter2"],
    ["a zero-width space in the keyword", "pass\u200bword: hunter2", "secret-assignment", "hunter2"],
    ["a soft hyphen in the keyword", "pass\u00adword: hunter2", "secret-assignment", "hunter2"],
    ["a fullwidth keyword", `${fullwidth("password")}: hunter2`, "secret-assignment", "hunter2"]
  ]
  for (const [name, text, ruleId, secret] of cases) {
    it.effect(`${name}: ${ruleId}`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(defaults.check(payloadOf(text)))
        assert.include(error.ruleIds, ruleId)
        assert.notInclude(JSON.stringify(error), secret)
        assert.notInclude(error.message, secret)
      }))
  }
})

it("a card written with one separator does not run on into the next number over another", () => {
  const findings = SafetyPolicy.scanText(SafetyPolicy.defaultRules, "4111 1111 1111 1111  123-45-6789")
  assert.deepStrictEqual(findings.map((f) => [f.ruleId, f.start, f.end]), [["payment-card", 0, 19], ["us-ssn", 21, 32]])
})

describe("SafetyPolicy: ordinary sentences pass", () => {
  const cases: ReadonlyArray<string> = [
    "the secret is patience",
    "token: please",
    "The secret to great service is patience.",
    "Thanks, that's a small token of our appreciation",
    "Password: reset link sent to your inbox",
    "Token: expired, please sign in again",
    "my pwd is not working",
    "the passcode is wrong, can you reset it?",
    "created at 1748503543012 by the agent",
    "call 415-555-0132 ext 1234 or 1-800-555-0199",
    "order 415-555-0132 1234 was shipped",
    "a risk-free offer for an ask-me-anything session",
    "born 01/02/1990, case 2024-0001-17 opened",
    "server 192.168.100.200 on port 8080",
    "version 4.1.1 and build 2024.06.15",
    "Amount due 1.234.567,89 EUR"
  ]
  for (const text of cases) {
    it.effect(text, () =>
      Effect.gen(function*() {
        const payload = payloadOf(text)
        const result = yield* defaults.check(payload)
        assert.strictEqual(result.payload, payload)
      }))
  }
})

describe("SafetyPolicy: redaction on the normalised view", () => {
  const redactAll = SafetyPolicy.defaultRules.map((r) => ({ ...r, enabled: true, action: "redact" as const }))
  const invisible = FastCheck.constantFrom("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")
  // Each character as it is or as a lookalike, with invisible characters inserted anywhere.
  const disguise = (text: string) =>
    FastCheck.tuple(
      FastCheck.array(FastCheck.tuple(FastCheck.boolean(), FastCheck.option(invisible, { freq: 3 })), {
        minLength: text.length,
        maxLength: text.length
      }),
      FastCheck.option(invisible, { freq: 3 })
    ).map(([choices, last]) =>
      [...text].map((c, i) => {
        const [lookalike, hidden] = choices[i]
        const shown = !lookalike
          ? c
          : c === " "
          ? "\u00a0"
          : /[!-~]/.test(c)
          ? String.fromCharCode(c.charCodeAt(0) + 0xfee0)
          : c
        return hidden === null ? shown : hidden + shown
      }).join("") + (last ?? "")
    )

  const luhnComplete = (body: string): string => {
    for (let d = 0; d <= 9; d++) if (detectors.luhn(body + d)) return body + d
    return body
  }
  const cardNumber = FastCheck.stringMatching(/^4[0-9]{14}$/).map((body) => {
    const digits = luhnComplete(body)
    return [0, 4, 8, 12].map((i) => digits.slice(i, i + 4)).join(" ")
  })
  const ssn = FastCheck.tuple(
    FastCheck.integer({ min: 1, max: 665 }),
    FastCheck.integer({ min: 1, max: 99 }),
    FastCheck.integer({ min: 1, max: 9999 })
  ).map(([a, g, n]) => `${String(a).padStart(3, "0")}-${String(g).padStart(2, "0")}-${String(n).padStart(4, "0")}`)
  const value = FastCheck.stringMatching(/^[a-z]{3,8}[0-9]{1,3}$/)

  // [the secret's text with what stays before it, the part a marker replaces]
  const secret = FastCheck.oneof(
    FastCheck.tuple(FastCheck.constant(""), cardNumber),
    FastCheck.tuple(FastCheck.constant(""), ssn),
    value.map((v) => ["password: ", v] as const)
  ).chain(([keyword, hidden]) =>
    FastCheck.tuple(
      keyword === "" ? FastCheck.constant("") : disguise(keyword),
      disguise(hidden),
      FastCheck.constant(hidden)
    )
  )
  const prose = FastCheck.array(
    FastCheck.constantFrom(
      "thanks",
      "your order",
      "caf\u00e9",
      "we\u2019ll call",
      "\u3042\u308a",
      "ok.",
      "\ud83d\ude00"
    ),
    { maxLength: 6 }
  ).map((words) => words.join(" "))

  it.prop(
    "never leaves a disguised secret in the output, and changes nothing outside the mapped spans",
    [prose, secret, prose],
    ([before, [keyword, disguised, plain], after]) => {
      const text = `${before} ${keyword}${disguised} ${after}`
      const findings = SafetyPolicy.scanText(redactAll, text)
      const redacted = SafetyPolicy.redactText(text, findings)
      // Invisible characters at the edges of the disguised secret are outside its span and stay.
      const leading = /^[\u200b-\u200d\u2060\ufeff\u00ad]*/.exec(disguised)![0]
      const trailing = /[\u200b-\u200d\u2060\ufeff\u00ad]*$/.exec(disguised)![0]
      const ruleId = plain.includes(" ") ? "payment-card" : plain.includes("-") ? "us-ssn" : "secret-assignment"
      assert.strictEqual(redacted, `${before} ${keyword}${leading}[REDACTED:${ruleId}]${trailing} ${after}`)
      assert.deepStrictEqual(SafetyPolicy.scanText(redactAll, redacted), [])
    },
    { fastCheck: { numRuns: 300 } }
  )
})
