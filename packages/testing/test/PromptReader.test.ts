import { assert, describe, it } from "@effect/vitest"
import { Prompt } from "@genesys-llm/core"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { Arbitraries } from "../src/index.js"

// The validator reads a valid payload with `Prompt.makeReader` and leaves the rest to the schema. The reader must
// take exactly what the schema takes, and give the same payload.

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

const both = (limits: Partial<Prompt.Limits>) => {
  const read = Prompt.makeReader(limits)
  const decode = Schema.decodeUnknownEither(Prompt.makePromptPayloadSchema(limits), { onExcessProperty: "ignore" })
  return (input: unknown) => {
    const fast = read(input)
    const slow = decode(input)
    if (Either.isRight(slow)) {
      assert.isDefined(fast, "the reader takes what the schema takes")
      assert.deepStrictEqual(fast, slow.right)
    } else {
      assert.isUndefined(fast, "the reader refuses what the schema refuses")
    }
    return fast
  }
}

// A valid payload with one field, one message or one message field replaced by anything, or with extra fields.
const mutated = (limits: Partial<Prompt.Limits>) =>
  FastCheck.tuple(
    Arbitraries.validPayloadWith(limits),
    FastCheck.constantFrom("systemInstructions", "context", "temperature", "maxTokens", "modelId", "extra"),
    FastCheck.anything(),
    FastCheck.nat(4),
    FastCheck.constantFrom("role", "content", "extra", "whole")
  ).map(([payload, field, value, index, messageField]) => {
    const copy: Record<string, unknown> = { ...payload }
    if (field === "context" && payload.context.length > 0) {
      const context: Array<unknown> = [...payload.context]
      const at = index % payload.context.length
      context[at] = messageField === "whole" ? value : { ...payload.context[at], [messageField]: value }
      copy.context = context
    } else {
      copy[field] = value
    }
    return copy
  })

describe("Prompt.makeReader", () => {
  for (const [name, limits] of [["default limits", {}], ["custom limits", custom]] as const) {
    describe(name, () => {
      const check = both(limits)

      it("valid payloads: the same payload as the schema, without excess properties", () =>
        FastCheck.assert(
          FastCheck.property(Arbitraries.validPayloadWith(limits), FastCheck.anything(), (payload, extra) => {
            assert.isDefined(check(payload))
            const read = check({
              ...payload,
              extra,
              context: payload.context.map((message) => ({ ...message, extra }))
            })
            assert.deepStrictEqual(read, payload)
          })
        ))

      it("invalid payloads: refused, like the schema", () =>
        FastCheck.assert(
          FastCheck.property(Arbitraries.invalidPayloadWith(limits), (invalid) => {
            assert.isUndefined(check(invalid.input))
          })
        ))

      it("anything, and valid payloads with one part replaced by anything: the schema's answer", () =>
        FastCheck.assert(
          FastCheck.property(FastCheck.oneof(FastCheck.anything(), mutated(limits)), (input) => {
            check(input)
          }),
          { numRuns: 500 }
        ))
    })
  }

  it("edge values: -0, boundaries, fields from a prototype, holes, blank and padded model ids", () => {
    const check = both({})
    const base = {
      systemInstructions: [],
      context: [],
      temperature: 0,
      maxTokens: 1,
      modelId: "m"
    }
    assert.isDefined(check({ ...base, temperature: -0 }))
    assert.isDefined(check({ ...base, temperature: 2, maxTokens: 4096 }))
    assert.isUndefined(check({ ...base, temperature: 2.0000001 }))
    assert.isUndefined(check({ ...base, maxTokens: 4097 }))
    assert.isUndefined(check({ ...base, maxTokens: 1.5 }))
    assert.isUndefined(check({ ...base, modelId: " \t" }))
    assert.isDefined(check({ ...base, modelId: " m " }))
    assert.isDefined(check(Object.create(base)))
    assert.isDefined(check({ ...base, context: [Object.create({ role: "user", content: "x" })] }))
    assert.isUndefined(check({ ...base, systemInstructions: new Array(1) }))
    assert.isUndefined(check({ ...base, context: [["user", "x"]] }))
    assert.isUndefined(check(null))
    assert.isUndefined(check([]))
    assert.isUndefined(check(Object.assign([], base)))
  })

  it("a NaN limit refuses, as in the schema", () => {
    const valid = { systemInstructions: ["a"], context: [{ role: "user", content: "b" }], temperature: 1, maxTokens: 5 }
    for (
      const limits of [
        { maxTemperature: Number.NaN },
        { minTemperature: Number.NaN },
        { maxMaxTokens: Number.NaN },
        { minMaxTokens: Number.NaN },
        { maxSystemInstructions: Number.NaN },
        { maxSystemInstructionLength: Number.NaN },
        { maxContextMessages: Number.NaN },
        { maxContextMessageLength: Number.NaN }
      ]
    ) {
      assert.isUndefined(both(limits)({ ...valid, modelId: "m" }), JSON.stringify(Object.keys(limits)))
    }
  })
})
