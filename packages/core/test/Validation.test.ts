import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Validation from "../src/Validation.js"

const validator = Validation.make()

describe("Validation", () => {
  it.effect("lists every failing path", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(validator.validate({
        systemInstructions: ["ok", 1],
        context: [{ role: "bot", content: "x" }],
        temperature: Number.NaN,
        maxTokens: 5000
      }))
      const paths = error.issues.map((i) => i.path)
      assert.deepStrictEqual([...new Set(paths)].sort(), [
        "context[0].role",
        "maxTokens",
        "modelId",
        "systemInstructions[1]",
        "temperature"
      ])
    }))
})
