import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { createHash } from "node:crypto"
import * as AuditEntry from "../src/AuditEntry.js"

const record = (overrides: Partial<AuditEntry.CallRecord> = {}): AuditEntry.CallRecord => ({
  kind: "call",
  timestamp: "2024-05-01T10:00:00.000Z",
  idempotencyKey: "llm-gw-6f1c2d3e-0000-4000-8000-000000000001",
  modelId: "gpt-4o-mini",
  latencyMs: 120,
  tokensUsed: 42,
  status: "success",
  systemInstructionCount: 1,
  contextMessageCount: 2,
  attempts: 1,
  droppedContextMessages: 0,
  safetyRuleIds: [],
  ...overrides
})

describe("sha256", () => {
  it("matches the FIPS 180-4 vectors", () => {
    assert.strictEqual(AuditEntry.sha256(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert.strictEqual(AuditEntry.sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert.strictEqual(
      AuditEntry.sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    )
    assert.strictEqual(
      AuditEntry.sha256("a".repeat(1_000_000)),
      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    )
  })

  it.prop("agrees with node:crypto on any string", [FastCheck.fullUnicodeString({ maxLength: 300 })], ([s]) => {
    assert.strictEqual(AuditEntry.sha256(s), createHash("sha256").update(s, "utf8").digest("hex"))
  })

  it("agrees with node:crypto at every length around the block boundaries", () => {
    for (let n = 0; n < 200; n++) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff)
      assert.strictEqual(AuditEntry.sha256(bytes), createHash("sha256").update(bytes).digest("hex"))
    }
  })
})

describe("AuditEntry", () => {
  it("seals a record into the chain: seq, prevHash and a hash over the canonical form", () => {
    const first = AuditEntry.seal(record(), AuditEntry.genesis)
    assert.strictEqual(first.seq, 1)
    assert.strictEqual(first.prevHash, "0".repeat(64))
    const { hash, ...rest } = first
    assert.strictEqual(hash, createHash("sha256").update(AuditEntry.canonical(rest)).digest("hex"))
    const second = AuditEntry.seal(record({ latencyMs: 7 }), first)
    assert.strictEqual(second.seq, 2)
    assert.strictEqual(second.prevHash, first.hash)
    // The line is canonical JSON: sorted keys, no whitespace.
    const line = AuditEntry.encodeLine(first)
    const keys = Object.keys(JSON.parse(line))
    assert.deepStrictEqual(keys, [...keys].sort())
    assert.isFalse(/\s/.test(line))
  })

  it("a fallback's reason is kept on fallbacks only; an entry written before the field existed still decodes", () => {
    const fallback = AuditEntry.fromCallAt({
      status: "fallback",
      idempotencyKey: "llm-gw-6f1c2d3e-0000-4000-8000-000000000001",
      latencyMs: 5,
      fallbackReason: "circuit-open"
    }, 0)
    assert.strictEqual(fallback.fallbackReason, "circuit-open")
    const success = AuditEntry.fromCallAt({
      status: "success",
      idempotencyKey: "llm-gw-6f1c2d3e-0000-4000-8000-000000000001",
      latencyMs: 5,
      fallbackReason: "deadline"
    }, 0)
    assert.isFalse("fallbackReason" in success)
    const decode = Schema.decodeUnknownEither(AuditEntry.Line)
    const old = AuditEntry.seal(record({ status: "fallback" }), AuditEntry.genesis)
    assert.isTrue(Either.isRight(decode(JSON.parse(AuditEntry.encodeLine(old)))))
    const sealed = AuditEntry.seal(record({ status: "fallback", fallbackReason: "rate-limited" }), old)
    assert.isTrue(Either.isRight(decode(JSON.parse(AuditEntry.encodeLine(sealed)))))
    assert.isTrue(Either.isLeft(decode({ ...JSON.parse(AuditEntry.encodeLine(sealed)), fallbackReason: "bored" })))
  })

  it("has the specification's fields", () => {
    const entry = AuditEntry.seal(
      record({ errorTag: "GatewayTimeoutError", correlationId: "abc-123" }),
      AuditEntry.genesis
    )
    const parsed = JSON.parse(AuditEntry.encodeLine(entry))
    for (
      const field of [
        "timestamp",
        "idempotencyKey",
        "modelId",
        "latencyMs",
        "tokensUsed",
        "status",
        "systemInstructionCount",
        "contextMessageCount",
        "attempts",
        "droppedContextMessages",
        "safetyRuleIds",
        "errorTag",
        "correlationId",
        "seq",
        "prevHash",
        "hash"
      ]
    ) assert.property(parsed, field)
  })

  it.effect("rejects prose in every string field, naming only the path", () =>
    Effect.gen(function*() {
      const prose = "my password is hunter2"
      for (
        const bad of [
          { modelId: prose },
          { idempotencyKey: prose },
          { errorTag: prose },
          { correlationId: prose },
          { safetyRuleIds: [prose] },
          { timestamp: prose },
          { modelId: "078-05-1120" },
          { modelId: "4111111111111111" }
        ]
      ) {
        const error = yield* Effect.flip(AuditEntry.validate(record(bad)))
        assert.strictEqual(error._tag, "InvalidAuditEntryError")
        assert.strictEqual(error.paths.length, 1)
        assert.isTrue(error.paths[0].startsWith(Object.keys(bad)[0]))
        assert.notInclude(error.message, "hunter2")
      }
      const excess = yield* Effect.flip(AuditEntry.validate({ ...record(), text: prose } as AuditEntry.CallRecord))
      assert.deepStrictEqual(excess.paths, ["text"])
    }))

  it.effect("fromCall takes counts and identifiers from a call, never text, its time from the Clock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2024, 4, 1, 12, 0, 0, 5))
      const input = {
        systemInstructions: ["You are a helpful agent. client_secret=s3cr3t-CANARY"],
        context: [
          { role: "user", content: "my SSN is 078-05-1120" },
          { role: "user", content: "card 4111 1111 1111 1111" },
          { role: "agent", content: "Authorization: Bearer eyJCANARY.token" }
        ],
        temperature: 0.2,
        maxTokens: 256,
        modelId: "gpt-4o-mini"
      }
      const entry = yield* AuditEntry.fromCall({
        status: "error",
        idempotencyKey: "llm-gw-1",
        input,
        latencyMs: 12.6,
        tokensUsed: 3,
        attempts: 2,
        droppedContextMessages: 1,
        safetyRuleIds: ["us-ssn", "a rule with spaces"],
        error: { _tag: "GatewayHttpError", message: "Bearer eyJCANARY.token rejected" },
        correlationId: "has a space"
      })
      assert.deepStrictEqual(entry, {
        kind: "call",
        timestamp: "2024-05-01T12:00:00.005Z",
        idempotencyKey: "llm-gw-1",
        modelId: "gpt-4o-mini",
        latencyMs: 13,
        tokensUsed: 3,
        status: "error",
        systemInstructionCount: 1,
        contextMessageCount: 3,
        attempts: 2,
        droppedContextMessages: 1,
        safetyRuleIds: ["us-ssn", "invalid-rule-id"],
        errorTag: "GatewayHttpError"
      })
      assert.isTrue(Either.isRight(Schema.validateEither(AuditEntry.CallRecord)(entry)))
    }))

  it.effect("fromCall of an invalid input: counts what it can, the model id becomes a placeholder", () =>
    Effect.gen(function*() {
      const entry = yield* AuditEntry.fromCall({
        status: "invalid",
        idempotencyKey: "llm-gw-2",
        input: { modelId: "Bearer abc.def", context: "not an array" },
        latencyMs: -4,
        error: new Error("boom 078-05-1120")
      })
      assert.strictEqual(entry.modelId, "unknown")
      assert.strictEqual(entry.contextMessageCount, 0)
      assert.strictEqual(entry.latencyMs, 0)
      assert.strictEqual(entry.errorTag, "UnknownError")
      yield* AuditEntry.validate(entry)
    }))

  it.prop(
    "fromCall always gives a valid record, whatever the call",
    [FastCheck.record({
      status: FastCheck.constantFrom(...AuditEntry.Status.literals),
      idempotencyKey: FastCheck.string(),
      input: FastCheck.anything(),
      modelId: FastCheck.option(FastCheck.string(), { nil: undefined }),
      latencyMs: FastCheck.double(),
      tokensUsed: FastCheck.double(),
      safetyRuleIds: FastCheck.array(FastCheck.string(), { maxLength: 40 }),
      error: FastCheck.anything(),
      correlationId: FastCheck.option(FastCheck.string(), { nil: undefined })
    })],
    ([summary]) => {
      const entry = AuditEntry.fromCallAt(summary, 0)
      assert.isTrue(Either.isRight(Schema.validateEither(AuditEntry.CallRecord, { onExcessProperty: "error" })(entry)))
    }
  )
})
