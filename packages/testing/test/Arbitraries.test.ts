import { assert, describe, it } from "@effect/vitest"
import { Prompt, Validation } from "@genesys-llm/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { Arbitraries } from "../src/index.js"

const validate = (validator: Validation.Service, input: unknown) =>
  Effect.runSync(Effect.either(validator.validate(input)))

const custom: Partial<Prompt.Limits> = {
  maxSystemInstructions: 2,
  maxSystemInstructionLength: 30,
  maxContextMessages: 3,
  maxContextMessageLength: 50,
  minTemperature: 0.5,
  maxTemperature: 1,
  minMaxTokens: 10,
  maxMaxTokens: 20
}

describe("Arbitraries", () => {
  const defaults = Validation.make()
  const strict = Validation.make(custom)

  it.prop("validPayload always validates", [Arbitraries.validPayload], ([payload]) => {
    const result = validate(defaults, payload)
    assert.isTrue(Either.isRight(result), Either.isLeft(result) ? result.left.message : "")
  })

  it.prop("validPayloadWith(limits) validates under those limits", [Arbitraries.validPayloadWith(custom)], ([p]) => {
    const result = validate(strict, p)
    assert.isTrue(Either.isRight(result), Either.isLeft(result) ? result.left.message : "")
  })

  it.prop("chatMessage is a valid message", [Arbitraries.chatMessage], ([message]) => {
    assert.isTrue(Either.isRight(validate(defaults, {
      systemInstructions: [],
      context: [message],
      temperature: 1,
      maxTokens: 1,
      modelId: "m"
    })))
  })

  it.prop(
    "invalidPayload fails at exactly its expected path",
    [Arbitraries.invalidPayload],
    ([{ expectedPath, input }]) => {
      const result = validate(defaults, input)
      assert.isTrue(Either.isLeft(result), `expected a failure at ${expectedPath}`)
      if (Either.isLeft(result)) {
        assert.deepStrictEqual([...new Set(result.left.issues.map((i) => i.path))], [expectedPath])
        assert.include(result.left.message, `${expectedPath}: `)
      }
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop(
    "invalidPayloadWith(limits) fails at exactly its expected path under those limits",
    [Arbitraries.invalidPayloadWith(custom)],
    ([{ expectedPath, input }]) => {
      const result = validate(strict, input)
      assert.isTrue(Either.isLeft(result), `expected a failure at ${expectedPath}`)
      if (Either.isLeft(result)) {
        assert.deepStrictEqual([...new Set(result.left.issues.map((i) => i.path))], [expectedPath])
      }
    },
    { fastCheck: { numRuns: 500 } }
  )

  it("valid payloads reach every limit", () => {
    const samples = FastCheck.sample(Arbitraries.validPayload, { numRuns: 2000, seed: 7 })
    const l = Prompt.defaultLimits
    assert.isTrue(samples.some((p) => p.systemInstructions.length === l.maxSystemInstructions))
    assert.isTrue(samples.some((p) => p.systemInstructions.some((s) => s.length === l.maxSystemInstructionLength)))
    assert.isTrue(samples.some((p) => p.context.length === l.maxContextMessages))
    assert.isTrue(samples.some((p) => p.context.some((m) => m.content.length === l.maxContextMessageLength)))
    assert.isTrue(samples.some((p) => p.context.length === 0))
    for (const value of [l.minTemperature, l.maxTemperature]) {
      assert.isTrue(samples.some((p) => p.temperature === value))
    }
    for (const value of [l.minMaxTokens, l.maxMaxTokens]) {
      assert.isTrue(samples.some((p) => p.maxTokens === value))
    }
    for (const role of ["user", "agent", "system"]) {
      assert.isTrue(samples.some((p) => p.context.some((m) => m.role === role)))
    }
  })

  it("invalid payloads cover every field, element paths and the root", () => {
    const paths = new Set(
      FastCheck.sample(Arbitraries.invalidPayload, { numRuns: 2000, seed: 7 }).map((v) =>
        v.expectedPath.replace(/\[\d+\]/g, "[i]")
      )
    )
    for (
      const path of [
        "<root>",
        "systemInstructions",
        "systemInstructions[i]",
        "context",
        "context[i]",
        "context[i].role",
        "context[i].content",
        "temperature",
        "maxTokens",
        "modelId"
      ]
    ) {
      assert.isTrue(paths.has(path), path)
    }
  })
})
