import { assert, describe, it } from "@effect/vitest"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Gateway from "../src/Gateway.js"
import * as SafetyPolicy from "../src/SafetyPolicy.js"
import * as Validation from "../src/Validation.js"

// One of each, as a caller meets them.
const all: ReadonlyArray<Gateway.GatewayError> = [
  new Gateway.AuthenticationFailed({ source: "login", status: 401, code: "invalid_client" }),
  new Gateway.AuthorizationFailed({ status: 403, scope: Gateway.requiredScope, attempts: 1, correlationId: "c-1" }),
  new Gateway.GatewayRejected({ status: 400, attempts: 1, responseBody: Redacted.make("BODY-TEXT") }),
  new Gateway.RetriesExhausted({ attempts: 3, lastStatus: 503, lastError: "HTTP 503" }),
  new Gateway.InvalidAnswer({ reason: "no-content", status: 200, attempts: 3 }),
  new Gateway.StreamInterrupted({
    reason: "stall",
    detail: "the gateway sent nothing for 10 ms",
    deliveredText: "a",
    completionTokens: 0,
    attempts: 1
  }),
  new Gateway.FrameTooLarge({ limit: 10, line: 1, attempts: 1 }),
  new Gateway.MalformedFrame({ reason: "not-json", line: 1, attempts: 1 }),
  new Gateway.CallTimeout({ timeoutMillis: 100, attempts: 2 }),
  new Gateway.TransportError({ description: "the gateway URL is not valid", attempts: 1 }),
  new Gateway.GatewayRequestInvalid({ field: "idempotencyKey", problem: "must not be empty" })
]

describe("GatewayError", () => {
  it("isGatewayError knows every member of the family, and nothing else", () => {
    assert.strictEqual(new Set(all.map((error) => error._tag)).size, Gateway.GatewayError.members.length)
    for (const error of all) assert.isTrue(Gateway.isGatewayError(error), error._tag)
    const others: ReadonlyArray<unknown> = [
      new Gateway.TokenRequestFailed({ reason: "timeout", description: "no answer within 10 ms" }),
      new Validation.PromptValidationError({ issues: [] }),
      new SafetyPolicy.SafetyViolation({ violations: [] }),
      { _tag: "CallTimeout", timeoutMillis: 1, attempts: 1 },
      new Error("CallTimeout"),
      undefined,
      "RetriesExhausted"
    ]
    for (const other of others) assert.isFalse(Gateway.isGatewayError(other), String(other))
  })

  it("every member has attempts and may have a correlation id: a caller reads them without matching tags", () => {
    const shared = all.map((error) => [error._tag, error.attempts, error.correlationId] as const)
    assert.deepStrictEqual(shared.map(([, attempts]) => typeof attempts), all.map(() => "number"))
    // Before any attempt, or from the token provider on its own: 0.
    assert.strictEqual(all[0].attempts, 0)
    assert.strictEqual(all.at(-1)?.attempts, 0)
    assert.strictEqual(all[1].correlationId, "c-1")
  })

  it("encodes and decodes through its schema; the kept body stays redacted", () => {
    for (const error of all) {
      const encoded = Schema.encodeSync(Gateway.GatewayError)(error)
      assert.notInclude(JSON.stringify(encoded), "BODY-TEXT")
      assert.deepStrictEqual(Schema.decodeSync(Gateway.GatewayError)(encoded)._tag, error._tag)
    }
  })
})
