import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Preflight from "../src/preflight.js"

describe("examples/preflight", () => {
  it.effect("validates, trims, blocks and redacts", () =>
    Effect.gen(function*() {
      const summary = yield* Preflight.program.pipe(
        Effect.provide(Preflight.layer),
        Effect.provide(Logger.remove(Logger.defaultLogger))
      )
      assert.deepStrictEqual([...summary.invalidPaths].sort(), [
        "context[0].content",
        "context[0].role",
        "maxTokens",
        "modelId",
        "systemInstructions",
        "temperature"
      ])
      assert.isAbove(summary.dropped, 0)
      assert.strictEqual(summary.kept + summary.dropped, 13)
      assert.deepStrictEqual(summary.blockedRules, ["payment-card"])
      assert.strictEqual(summary.redacted, "Send the invoice to [REDACTED:email] please.")
    }))
})
