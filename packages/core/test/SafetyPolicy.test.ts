import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { check as recheck } from "recheck"
import * as detectors from "../src/internal/detectors.js"
import type * as Prompt from "../src/Prompt.js"
import * as SafetyPolicy from "../src/SafetyPolicy.js"

const payloadOf = (context: ReadonlyArray<string>, systemInstructions: ReadonlyArray<string> = []) => ({
  systemInstructions,
  context: context.map((content) => ({ role: "user" as const, content })),
  temperature: 0.2,
  maxTokens: 256,
  modelId: "model-1"
})

const defaults = SafetyPolicy.fromRules(SafetyPolicy.defaultRules)

const allRules = (action?: SafetyPolicy.Action): ReadonlyArray<SafetyPolicy.Rule> =>
  SafetyPolicy.defaultRules.map((r) => ({ ...r, enabled: true, action: action ?? r.action }))

const ruleIdsIn = (rules: ReadonlyArray<SafetyPolicy.Rule>, text: string): ReadonlyArray<string> => [
  ...new Set(SafetyPolicy.scanText(rules, text).map((f) => f.ruleId))
]

const build = (options: SafetyPolicy.Options) => Effect.runSync(SafetyPolicy.make(options).pipe(Effect.orDie))

const GITHUB_TOKEN = "ghp_" + "aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5"
const JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" +
  ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ" +
  ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"

describe("SafetyPolicy", () => {
  describe("blocks by default", () => {
    const cases: ReadonlyArray<readonly [text: string, ruleId: string, secret: string]> = [
      ["my card is 4111 1111 1111 1111 thanks", "payment-card", "4111 1111 1111 1111"],
      ["card: 4111-1111-1111-1111.", "payment-card", "4111-1111-1111-1111"],
      ["amex 371449635398431", "payment-card", "371449635398431"],
      ["card 4111 1111 1111 1111 123 (cvv after it)", "payment-card", "4111 1111 1111 1111"],
      ["my SSN is 123-45-6789", "us-ssn", "123-45-6789"],
      ["ssn 123 45 6789 on file", "us-ssn", "123 45 6789"],
      ["use AKIAIOSFODNN7EXAMPLE for the bucket", "aws-access-key-id", "AKIAIOSFODNN7EXAMPLE"],
      ["session ASIAY34FZKBOKMUTVV7A", "aws-access-key-id", "ASIAY34FZKBOKMUTVV7A"],
      [`clone with ${GITHUB_TOKEN} please`, "github-token", GITHUB_TOKEN],
      [
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV0123",
        "github-token",
        "github_pat_11ABCDEFG0123456789"
      ],
      ["stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe-secret-key", "4eC39HqLyjWDarjtT1zdp7dc"],
      ["stripe sk_test_4eC39HqLyjWDarjtT1zdp7dc", "stripe-secret-key", "4eC39HqLyjWDarjtT1zdp7dc"],
      ["restricted rk_live_51H8abcdefghijklmnop", "stripe-secret-key", "51H8abcdefghijklmnop"],
      ["slack xoxb-1234567890-abcdefghijkl", "slack-token", "xoxb-1234567890-abcdefghijkl"],
      ["maps AIzaSyA1234567890abcdefghijklmnopqrstuv", "google-api-key", "AIzaSyA1234567890abcdefghijklmnopqrstuv"],
      ["-----BEGIN RSA PRIVATE KEY-----", "private-key", "BEGIN RSA PRIVATE KEY"],
      [
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----",
        "private-key",
        "b3BlbnNzaC1rZXktdjE="
      ],
      [`Authorization: Bearer ${JWT}`, "bearer-jwt", JWT],
      ["connect to postgres://admin:hunter2pw@db.internal:5432/app", "url-credentials", "hunter2pw"],
      ["password: hunter2", "secret-assignment", "hunter2"],
      ["password=hunter2", "secret-assignment", "hunter2"],
      ["my password is hunter2", "secret-assignment", "hunter2"],
      ["The wifi password is Tr0ub4dor", "secret-assignment", "Tr0ub4dor"],
      ["api_key=abc123def", "secret-assignment", "abc123def"],
      ["apikey: abc123def", "secret-assignment", "abc123def"],
      ["X-Api-Key: abc123def", "secret-assignment", "abc123def"],
      ["secret: s3cr3tv4lue", "secret-assignment", "s3cr3tv4lue"],
      ["client_secret = 's3cr3t value'", "secret-assignment", "s3cr3t value"],
      ["token=abc123def", "secret-assignment", "abc123def"],
      ["{\"password\": \"hunter2\"}", "secret-assignment", "hunter2"],
      ["DB_PASSWORD := hunter2", "secret-assignment", "hunter2"]
    ]
    for (const [text, ruleId, secret] of cases) {
      it.effect(`${ruleId}: ${text.slice(0, 40).replace(/\n/g, " ")}`, () =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(defaults.check(payloadOf(["hello", text])))
          assert.strictEqual(error._tag, "SafetyViolation")
          assert.include(error.ruleIds, ruleId)
          assert.include(error.message, ruleId)
          assert.include(error.message, "context[1].content")
          assert.notInclude(error.message, secret)
          assert.notInclude(JSON.stringify(error), secret)
          assert.notInclude(String(error), secret)
        }))
    }
  })

  describe("allows", () => {
    const cases: ReadonlyArray<readonly [name: string, text: string]> = [
      ["a number failing Luhn", "card 4012-8888-8888-1882"],
      ["area 000", "ssn 000-12-3456"],
      ["area 666", "ssn 666-12-3456"],
      ["area 9xx", "ssn 900-12-3456"],
      ["group 00", "ssn 123-00-4567"],
      ["serial 0000", "ssn 123-45-0000"],
      ["mixed delimiters", "ssn 123-45.6789"],
      ["nine bare digits", "ssn 123456789"],
      ["a grouped number longer than an SSN", "ref 123-45-6789-12"],
      ["a UUID", "id 123e4567-e89b-12d3-a456-426614174000"],
      // The last two groups, 8123456789012340, pass the Luhn check.
      ["a UUID ending in digits", "id 12345678-9abc-4def-8123-456789012340"],
      ["a git SHA", "commit 3b18e512dba79e4c8300dd08aeb37f8e728b8dad"],
      ["a git SHA starting with digits", "commit 4111111111111111a8300dd08aeb37f8e728b8da"],
      ["digits glued to letters", "sku X4111111111111111"],
      ["all zeros", "0000 0000 0000 0000"],
      ["the bare word", "I forgot my password"],
      ["the bare word again", "please reset my password"],
      ["talk about a password", "my password is not working, the token is expired"],
      ["a key word without value", "password:"],
      ["a longer key name", "password_hash: abc and tokens: 5 and max_tokens=20"],
      ["an access key id glued to more letters", "XAKIAIOSFODNN7EXAMPLE"],
      ["a short ghp_ string", "ghp_short"],
      ["a public key", "-----BEGIN PUBLIC KEY-----"],
      ["Bearer without a JWT", "Authorization: Bearer abc.def"],
      ["a URL without credentials", "https://example.com:8443/path?a=b"],
      ["an e-mail and a phone (off by default)", "write to jane@example.com or call (415) 555-0132"],
      ["an already redacted payload", "password: [REDACTED:secret-assignment] and password: ****"]
    ]
    for (const [name, text] of cases) {
      it.effect(name, () =>
        Effect.gen(function*() {
          const payload = payloadOf([text], [text])
          const result = yield* defaults.check(payload)
          assert.strictEqual(result.payload, payload)
          assert.deepStrictEqual(result.redactions, [])
        }))
    }
  })

  it.effect("names every blocking rule and field, and nothing of the text", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(defaults.check(payloadOf(
        ["fine", "also fine", "ssn 123-45-6789", "card 4111111111111111 and 5500 0000 0000 0004"],
        ["password: hunter2"]
      )))
      assert.deepStrictEqual(
        error.violations.map((v) => [v.ruleId, v.path, v.count]),
        [
          ["secret-assignment", "systemInstructions[0]", 1],
          ["us-ssn", "context[2].content", 1],
          ["payment-card", "context[3].content", 2]
        ]
      )
      assert.deepStrictEqual(error.ruleIds, ["secret-assignment", "us-ssn", "payment-card"])
      assert.strictEqual(
        error.message,
        "prompt blocked by the safety policy: rule secret-assignment in systemInstructions[0]; " +
          "rule us-ssn in context[2].content; rule payment-card in context[3].content"
      )
    }))

  describe("redaction", () => {
    const redacting = build({
      actions: {
        "payment-card": "redact",
        "us-ssn": "redact",
        "secret-assignment": "redact",
        "aws-access-key-id": "redact",
        "bearer-jwt": "redact",
        email: "redact",
        "phone-number": "redact"
      }
    })

    it.effect("replaces each match with its marker and reports counts", () =>
      Effect.gen(function*() {
        const payload = payloadOf(
          [
            "card 4111 1111 1111 1111, ssn 123-45-6789, password: hunter2.",
            "nothing here",
            "write to jane.doe@example.com or call (415) 555-0132, or 415-555-0199"
          ],
          ["Authorization: Bearer " + JWT]
        )
        const result = yield* redacting.check(payload)
        assert.deepStrictEqual(result.payload, {
          ...payload,
          systemInstructions: ["Authorization: Bearer [REDACTED:bearer-jwt]"],
          context: [
            {
              role: "user",
              content: "card [REDACTED:payment-card], ssn [REDACTED:us-ssn], password: [REDACTED:secret-assignment]."
            },
            { role: "user", content: "nothing here" },
            {
              role: "user",
              content: "write to [REDACTED:email] or call [REDACTED:phone-number], or [REDACTED:phone-number]"
            }
          ]
        })
        assert.strictEqual(result.payload.context[1], payload.context[1])
        assert.deepStrictEqual(
          result.redactions.map((r) => [r.ruleId, r.path, r.count]),
          [
            ["bearer-jwt", "systemInstructions[0]", 1],
            ["payment-card", "context[0].content", 1],
            ["us-ssn", "context[0].content", 1],
            ["secret-assignment", "context[0].content", 1],
            ["email", "context[2].content", 1],
            ["phone-number", "context[2].content", 2]
          ]
        )
      }))

    it.effect("merges overlapping findings into one marker and is idempotent", () =>
      Effect.gen(function*() {
        const result = yield* redacting.check(payloadOf(["api_key=AKIAIOSFODNN7EXAMPLE and \"password\": \"a b\""]))
        assert.strictEqual(
          result.payload.context[0].content,
          "api_key=[REDACTED:secret-assignment] and \"password\": \"[REDACTED:secret-assignment]\""
        )
        assert.deepStrictEqual(
          result.redactions.map((r) => [r.ruleId, r.count]),
          [["secret-assignment", 2], ["aws-access-key-id", 1]]
        )
        const again = yield* redacting.check(result.payload)
        assert.strictEqual(again.payload, result.payload)
        assert.deepStrictEqual(again.redactions, [])
      }))

    it.effect("a blocking finding wins over redactions", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(redacting.check(payloadOf(["ssn 123-45-6789", `token ${GITHUB_TOKEN}`])))
        assert.deepStrictEqual(error.ruleIds, ["github-token"])
      }))

    it("redactText and scanText are pure functions of the text", () => {
      const rules = allRules("redact")
      const text = "a 4111-1111-1111-1111 b 078-05-1120 c"
      const findings = SafetyPolicy.scanText(rules, text)
      assert.deepStrictEqual(findings, [
        { ruleId: "payment-card", action: "redact", start: 2, end: 21 },
        { ruleId: "us-ssn", action: "redact", start: 24, end: 35 }
      ])
      assert.strictEqual(
        SafetyPolicy.redactText(text, findings),
        "a [REDACTED:payment-card] b [REDACTED:us-ssn] c"
      )
      assert.strictEqual(SafetyPolicy.redactText(text, []), text)
    })
  })

  describe("configuration", () => {
    it.effect("disables a rule and adds a custom one", () =>
      Effect.gen(function*() {
        const policy = yield* SafetyPolicy.make({
          disabled: ["payment-card"],
          custom: [
            SafetyPolicy.fromRegExp({
              id: "employee-id",
              pattern: /EMP-\d{6}/,
              action: "redact",
              maxMatchLength: 12,
              validate: (match) => match !== "EMP-000000"
            })
          ]
        })
        const result = yield* policy.check(payloadOf(["card 4111 1111 1111 1111, EMP-123456, EMP-000000"]))
        assert.strictEqual(
          result.payload.context[0].content,
          "card 4111 1111 1111 1111, [REDACTED:employee-id], EMP-000000"
        )
        assert.strictEqual(policy.rules.find((r) => r.id === "payment-card")?.enabled, false)
      }))

    it.effect("rejects unknown, conflicting, duplicate and malformed ids", () =>
      Effect.gen(function*() {
        const unknown = yield* Effect.flip(SafetyPolicy.make({ actions: { "credit-card": "redact" } }))
        assert.strictEqual(unknown._tag, "SafetyConfigError")
        assert.include(unknown.message, "\"credit-card\"")
        assert.include(unknown.message, "actions")
        const unknownDisabled = yield* Effect.flip(SafetyPolicy.make({ disabled: ["nope"] }))
        assert.include(unknownDisabled.message, "disabled")
        assert.include(unknownDisabled.message, "\"nope\"")
        const conflict = yield* Effect.flip(SafetyPolicy.make({ actions: { email: "redact" }, disabled: ["email"] }))
        assert.include(conflict.message, "\"email\"")
        const duplicate = yield* Effect.flip(SafetyPolicy.make({
          custom: [SafetyPolicy.fromRegExp({ id: "email", pattern: /x/, maxMatchLength: 1 })]
        }))
        assert.include(duplicate.message, "duplicate rule id \"email\"")
        const malformed = yield* Effect.flip(SafetyPolicy.make({
          custom: [SafetyPolicy.fromRegExp({ id: "not an id", pattern: /x/ })]
        }))
        assert.include(malformed.message, "custom")
      }))

    it.effect("actions enable a rule that is off by default", () =>
      Effect.gen(function*() {
        const policy = yield* SafetyPolicy.make({ actions: { email: "block" } })
        const error = yield* Effect.flip(policy.check(payloadOf(["jane@example.com"])))
        assert.deepStrictEqual(error.ruleIds, ["email"])
      }))

    const fromEnv = (entries: ReadonlyArray<readonly [string, string]>) =>
      Effect.gen(function*() {
        return yield* SafetyPolicy.SafetyPolicy
      }).pipe(
        Effect.provide(SafetyPolicy.layerConfig()),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries)))
      )

    it.effect("reads rule ids from the environment", () =>
      Effect.gen(function*() {
        const policy = yield* fromEnv([
          ["LLM_SAFETY_REDACT_RULES", " payment-card , email,"],
          ["LLM_SAFETY_BLOCK_RULES", "phone-number"],
          ["LLM_SAFETY_DISABLED_RULES", "us-ssn"]
        ])
        const result = yield* policy.check(payloadOf(["4111 1111 1111 1111 to a@b.co, ssn 123-45-6789"]))
        assert.strictEqual(
          result.payload.context[0].content,
          "[REDACTED:payment-card] to [REDACTED:email], ssn 123-45-6789"
        )
        const error = yield* Effect.flip(policy.check(payloadOf(["call 415-555-0132"])))
        assert.deepStrictEqual(error.ruleIds, ["phone-number"])
        const plain = yield* fromEnv([])
        assert.deepStrictEqual(
          plain.rules.map((r) => [r.id, r.action, r.enabled]),
          SafetyPolicy.defaultRules.map((r) => [r.id, r.action, r.enabled])
        )
      }))

    it.effect("names the setting and the id of a bad environment value", () =>
      Effect.gen(function*() {
        const unknown = yield* Effect.flip(fromEnv([["LLM_SAFETY_DISABLED_RULES", "payment-card,cc"]]))
        assert.include(String(unknown), "LLM_SAFETY_DISABLED_RULES")
        assert.include(String(unknown), "\"cc\"")
        const conflict = yield* Effect.flip(fromEnv([
          ["LLM_SAFETY_BLOCK_RULES", "email"],
          ["LLM_SAFETY_REDACT_RULES", "email"]
        ]))
        assert.include(String(conflict), "LLM_SAFETY_REDACT_RULES")
        assert.include(String(conflict), "LLM_SAFETY_BLOCK_RULES")
      }))

    it.effect("the noop layer passes everything", () =>
      Effect.gen(function*() {
        const policy = yield* SafetyPolicy.SafetyPolicy
        const payload = payloadOf(["password: hunter2"])
        assert.strictEqual((yield* policy.check(payload)).payload, payload)
      }).pipe(Effect.provide(SafetyPolicy.layerNoop)))

    it("holdBack is the longest stretch an enabled rule depends on", () => {
      const byId = new Map(SafetyPolicy.defaultRules.map((r) => [r.id, r]))
      assert.strictEqual(SafetyPolicy.holdBack([]), 0)
      assert.strictEqual(SafetyPolicy.holdBack([byId.get("us-ssn")!]), byId.get("us-ssn")!.maxMatchLength)
      assert.strictEqual(
        SafetyPolicy.holdBack(SafetyPolicy.defaultRules),
        Math.max(...SafetyPolicy.defaultRules.filter((r) => r.enabled).map((r) => r.maxMatchLength))
      )
      assert.isTrue(Number.isFinite(SafetyPolicy.holdBack(allRules())))
      assert.strictEqual(SafetyPolicy.holdBack([SafetyPolicy.fromRegExp({ id: "x", pattern: /x+/ })]), Infinity)
    })

    it("every finding of a default rule fits in its maxMatchLength", () => {
      const text = [
        "password: " + "p".repeat(1000),
        "Bearer " + JWT,
        "-----BEGIN PRIVATE KEY-----\n" + "A".repeat(10_000),
        GITHUB_TOKEN + "x".repeat(500),
        "4111 1111 1111 1111 1111 1111 1111"
      ].join("\n")
      for (const r of allRules()) {
        for (const span of r.detect(text)) assert.isAtMost(span.end - span.start, r.maxMatchLength, r.id)
      }
    })
  })

  describe("linear scanning", () => {
    // recheck runs each pattern as the JavaScript engine would, unanchored, and reports any super-linear case.
    for (const [ruleId, pattern] of detectors.patterns) {
      it.effect(`${ruleId}: /${pattern.source.slice(0, 48)}/ is ReDoS-safe`, () =>
        Effect.gen(function*() {
          const result = yield* Effect.promise(() => recheck(pattern.source, pattern.flags, { timeout: 30_000 }))
          assert.strictEqual(result.status, "safe", JSON.stringify(result))
        }), 60_000)
    }

    it("adversarial inputs complete", () => {
      const rules = allRules()
      const inputs: ReadonlyArray<readonly [string, string]> = [
        ["100k digits", "1".repeat(100_000)],
        ["digits and single separators", "1-".repeat(50_000)],
        ["groups of three", "411 ".repeat(25_000)],
        ["card-like groups", "4111 ".repeat(20_000)],
        ["long run of spaces", " ".repeat(100_000)],
        ["long run of dashes", "-".repeat(100_000)],
        ["SSN-like prefixes", "123-45-".repeat(15_000)],
        ["password repeated", "password".repeat(10_000)],
        ["password and separator repeated", "password: ".repeat(10_000)],
        ["password is repeated", "password is ".repeat(10_000)],
        ["keys without values", "api_key= ".repeat(10_000)],
        ["private key headers", "-----BEGIN RSA PRIVATE KEY-----".repeat(3_000)],
        ["a huge PEM body", "-----BEGIN PRIVATE KEY-----\n" + "A".repeat(100_000)],
        ["a bearer without end", "Bearer eyJ" + "a".repeat(100_000)],
        ["bearers", "Bearer eyJa.".repeat(10_000)],
        ["at signs", "a@".repeat(50_000)],
        ["a long local part", "a".repeat(100_000) + "@"],
        ["URL-like", "a://b:".repeat(20_000)],
        ["prefixes", "AKIAghp_sk_live_xoxb-AIza".repeat(4_000)],
        ["phone-like", "+1 (".repeat(25_000)],
        ["international phone-like", "+1 2 3 ".repeat(15_000)],
        ["token headers", "eyJ".repeat(30_000)],
        ["token headers and dots", "eyJabcdefghij.eyJ".repeat(6_000)],
        ["GitLab prefixes", "glpat-".repeat(15_000)],
        ["OpenAI and Anthropic prefixes", "sk-proj-sk-ant-".repeat(6_000)],
        ["zero-width spaces", "4\u200b".repeat(50_000)],
        ["combining marks", "a" + "\u0301\u0316".repeat(50_000)],
        ["fullwidth digit groups", "\uff14\uff11\uff11\uff11 ".repeat(20_000)],
        ["separator runs", "4111 - ".repeat(15_000)]
      ]
      for (const [name, text] of inputs) {
        const findings = SafetyPolicy.scanText(rules, text)
        const redacted = SafetyPolicy.redactText(text, findings)
        assert.isString(redacted, name)
      }
      assert.deepStrictEqual(ruleIdsIn(rules, "1".repeat(100_000)), [])
      assert.deepStrictEqual(ruleIdsIn(rules, "password".repeat(10_000)), [])
      assert.deepStrictEqual(ruleIdsIn(rules, " ".repeat(100_000)), [])
    })
  })

  describe("properties", () => {
    const digit = FastCheck.integer({ min: 0, max: 9 })

    const luhnCheckDigit = (body: ReadonlyArray<number>): number => {
      let sum = 0
      for (let i = 0; i < body.length; i++) {
        let d = body[body.length - 1 - i]
        if (i % 2 === 0) {
          d *= 2
          if (d > 9) d -= 9
        }
        sum += d
      }
      return (10 - (sum % 10)) % 10
    }

    // Only Visa issues 13-digit numbers, all starting with 4 (other 13-digit numbers are not taken for cards).
    const cardDigits = FastCheck.integer({ min: 13, max: 19 })
      .chain((length) => FastCheck.array(digit, { minLength: length - 1, maxLength: length - 1 }))
      .map((body) => body.length === 12 ? [4, ...body.slice(1)] : body)
      .map((body) => [...body, luhnCheckDigit(body)].join(""))
      .filter((digits) => /[1-9]/.test(digits))

    const grouped = (digits: string, separator: string): string => {
      const groups: Array<string> = []
      for (let i = 0; i < digits.length; i += 4) groups.push(digits.slice(i, i + 4))
      if (groups.length > 1 && groups[groups.length - 1].length < 3) {
        const last = groups.pop()!
        groups[groups.length - 1] += last
      }
      return groups.join(separator)
    }

    const card = FastCheck.tuple(cardDigits, FastCheck.constantFrom("", " ", "-"))
      .map(([digits, separator]) => separator === "" ? digits : grouped(digits, separator))

    const word = FastCheck.stringMatching(/^[A-Za-z]{1,10}$/)
    const prose = FastCheck.array(FastCheck.oneof(word, FastCheck.constantFrom(",", ".", "!", "?")), {
      maxLength: 20
    }).map((parts) => parts.join(" "))

    it.prop("a Luhn-valid card number in prose is found", [prose, card, prose], ([before, number, after]) => {
      const text = `${before} ${number} ${after}`
      const start = before.length + 1
      const findings = SafetyPolicy.scanText(SafetyPolicy.defaultRules, text)
      assert.deepInclude(findings, { ruleId: "payment-card", action: "block", start, end: start + number.length })
      assert.isTrue(detectors.luhn(number.replace(/[ -]/g, "")))
    })

    const ssn = FastCheck.tuple(
      FastCheck.integer({ min: 1, max: 899 }).filter((a) => a !== 666),
      FastCheck.integer({ min: 1, max: 99 }),
      FastCheck.integer({ min: 1, max: 9999 }),
      FastCheck.constantFrom("-", " ")
    ).map(([a, g, s, d]) =>
      [String(a).padStart(3, "0"), String(g).padStart(2, "0"), String(s).padStart(4, "0")].join(d)
    )

    const secretValue = FastCheck.stringMatching(/^[A-Za-z]{4,10}[0-9][A-Za-z0-9!#%]{0,10}[A-Za-z0-9]$/)

    it.prop(
      "redaction never leaves the match in the output",
      [prose, card, prose, ssn, prose, secretValue],
      ([a, number, b, socialSecurity, c, value]) => {
        const rules = allRules("redact")
        const text = `${a} ${number} ${b} ${socialSecurity} ${c} password: ${value}`
        const redacted = SafetyPolicy.redactText(text, SafetyPolicy.scanText(rules, text))
        assert.strictEqual(
          redacted,
          `${a} [REDACTED:payment-card] ${b} [REDACTED:us-ssn] ${c} password: [REDACTED:secret-assignment]`
        )
        assert.notInclude(redacted, number)
        assert.notInclude(redacted, socialSecurity)
        assert.notInclude(redacted, value)
      }
    )

    // Near misses on purpose: separators, "my ... is", parts of key words, URL and key punctuation.
    const token = FastCheck.oneof(
      word,
      FastCheck.constantFrom(
        " ",
        " ",
        "\n",
        ":",
        "=",
        ":=",
        "-",
        "--",
        "_",
        "/",
        ".",
        "\"",
        "'",
        "my",
        "is",
        "key",
        "word",
        "pass",
        "api",
        "Bearer",
        "BEGIN",
        "PRIVATE KEY",
        "-----",
        "eyJ",
        "sk_",
        "AKIA",
        "://"
      )
    )
    const trigger =
      /pass(?:word|wd|phrase|code)|pwd?|secret|token|api[ _-]?key|access[ _-]?key|private[ _-]?key|akia|asia|gh[pousr]_|github_pat|[rs]k_(?:live|test)|sk-|npm_|gl[a-z]*-|hooks\.slack|xox|aiza|eyj|begin[ \w]*private key|:\/\/[^/\s]*@/i
    const harmless = FastCheck.array(token, { maxLength: 60 })
      .map((parts) => parts.join(""))
      .filter((text) => !trigger.test(text))

    it.prop("text without digits or trigger words passes unchanged", [harmless, harmless], ([a, b]) => {
      const policy = SafetyPolicy.fromRules(allRules())
      const payload: Prompt.PromptPayload = payloadOf([a, b], [b])
      const result = Effect.runSync(Effect.either(policy.check(payload)))
      assert.isTrue(Either.isRight(result))
      if (Either.isRight(result)) {
        assert.strictEqual(result.right.payload, payload)
        assert.deepStrictEqual(result.right.redactions, [])
      }
    })
  })
})
