import { assert, describe, it } from "@effect/vitest"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Effect from "effect/Effect"
import * as Resilience from "../src/resilience.js"
import { capture } from "./internal/output.js"

describe("examples/resilience", () => {
  // A real server, a real 429 and a real stall: this runs on the live clock, with a short deadline. It asserts
  // outcomes, never durations.
  it.live("retries the 429 with the same key, then answers the stall with the fallback text", () =>
    Effect.gen(function*() {
      const [{ attempts, completion }, output] = yield* capture(
        Resilience.run({ retryAfterSeconds: 1, maxLatencyMillis: 1_500 }).pipe(Effect.provide(Resilience.layer))
      )
      assert.strictEqual(completion.status, "fallback")
      assert.strictEqual(completion.text, Resilience.fallbackText)
      assert.strictEqual(completion.tokensUsed, 0)
      assert.strictEqual(completion.attempts, 2)
      assert.deepStrictEqual(attempts.map((a) => [a.status, a.fault]), [[429, "status"], [200, "stall"]])
      assert.deepStrictEqual(attempts.map((a) => a.idempotencyKey), [
        completion.idempotencyKey,
        completion.idempotencyKey
      ])
      assert.include(output.lines.join("\n"), `attempt 2 at +`)
      assert.include(output.lines.join("\n"), `-> fallback after`)
      assert.include(output.lines.join("\n"), `"${Resilience.fallbackText}"`)
    }).pipe(Effect.provide(GatewaySimulator.layer())))
})
