import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Demo from "../src/demo.js"

describe("examples/demo", () => {
  it.live("walks through every stage against the simulator", () =>
    Effect.gen(function*() {
      const summary = yield* Demo.program
      assert.strictEqual(summary.streamed.status, "success")
      assert.isAbove(summary.streamed.text.length, 0)
      assert.isAbove(summary.streamed.tokensUsed, 0)
      assert.match(summary.streamed.idempotencyKey, /^llm-gw-[0-9a-f-]{36}$/)
      assert.isAbove(summary.trimmed, 0)
      assert.deepStrictEqual(summary.blockedRules, ["payment-card"])
      assert.deepStrictEqual(summary.redactedRules, ["email"])
      assert.strictEqual(summary.retried.attempts, 2)
      assert.strictEqual(summary.retried.keys.length, 2)
      assert.strictEqual(summary.retried.keys[0], summary.retried.keys[1])
      assert.strictEqual(summary.fallback.status, "fallback")
      assert.strictEqual(summary.fallback.text, "Thanks for waiting - an agent will pick this up in a moment.")
      assert.strictEqual(summary.audit._tag, "Intact")
      if (summary.audit._tag === "Intact") assert.strictEqual(summary.audit.entries, 6)
      assert.isAtLeast(summary.webhook.outboxBefore, 5)
      assert.strictEqual(summary.webhook.delivered, 6)
      assert.strictEqual(summary.webhook.unique, 6)
    }))
})
