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

const valid = {
  systemInstructions: ["You are a helpful contact-center assistant."],
  context: [{ role: "user", content: "Where is my order?" }],
  temperature: 0.7,
  maxTokens: 512,
  modelId: "gpt-4o"
}

const with_ = (patch: Record<string, unknown>): unknown => ({ ...valid, ...patch })
const messages = (n: number, content = "hi") => Array.from({ length: n }, () => ({ role: "user", content }))

const accepts = (input: unknown, v: Validation.Service = validator) =>
  Effect.gen(function*() {
    const result = yield* Effect.either(v.validate(input))
    assert.isTrue(result._tag === "Right", result._tag === "Left" ? result.left.message : "")
  })

// Fails, with exactly the given failing paths, each named in the message too.
const rejects = (input: unknown, paths: ReadonlyArray<string>, v: Validation.Service = validator) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(v.validate(input))
    assert.strictEqual(error._tag, "PromptValidationError")
    assert.deepStrictEqual([...new Set(error.issues.map((i) => i.path))].sort(), [...paths].sort())
    for (const path of paths) assert.include(error.message, `${path}: `)
    return error
  })

describe("Validation limits", () => {
  it.effect("accepts the valid baseline", () => accepts(valid))

  it.effect("systemInstructions: 5 accepted, 6 rejected", () =>
    Effect.gen(function*() {
      yield* accepts(with_({ systemInstructions: Array(5).fill("x") }))
      const error = yield* rejects(with_({ systemInstructions: Array(6).fill("x") }), ["systemInstructions"])
      assert.include(error.message, "at most 5")
    }))

  it.effect("a system instruction: 500 characters accepted, 501 rejected", () =>
    Effect.gen(function*() {
      yield* accepts(with_({ systemInstructions: ["ok", "x".repeat(500)] }))
      yield* rejects(with_({ systemInstructions: ["ok", "x".repeat(501)] }), ["systemInstructions[1]"])
    }))

  it.effect("context: 1,000 messages accepted (the context window trims them), 1,001 rejected", () =>
    Effect.gen(function*() {
      yield* accepts(with_({ context: messages(1000) }))
      const error = yield* rejects(with_({ context: messages(1001) }), ["context"])
      assert.include(error.message, "context must have at most 1000 items, got 1001")
    }))

  it.effect("a message: 4000 characters accepted, 4001 rejected", () =>
    Effect.gen(function*() {
      yield* accepts(with_({ context: messages(1, "y".repeat(4000)) }))
      yield* rejects(with_({ context: [...messages(2), ...messages(1, "y".repeat(4001))] }), ["context[2].content"])
    }))

  it.effect("an empty context and no system instructions are valid", () =>
    accepts(with_({ systemInstructions: [], context: [] })))

  it.effect("temperature: 0 and 2 accepted; -0.0001, 2.0001, NaN and the infinities rejected", () =>
    Effect.gen(function*() {
      for (const temperature of [0, 2, 1.3]) yield* accepts(with_({ temperature }))
      for (const temperature of [-0.0001, 2.0001, Number.NaN, Infinity, -Infinity]) {
        yield* rejects(with_({ temperature }), ["temperature"])
      }
    }))

  it.effect("maxTokens: 1 and 4096 accepted; 0, 4097, 1.5, NaN and Infinity rejected", () =>
    Effect.gen(function*() {
      for (const maxTokens of [1, 4096]) yield* accepts(with_({ maxTokens }))
      for (const maxTokens of [0, 4097, 1.5, Number.NaN, Infinity, -1]) {
        yield* rejects(with_({ maxTokens }), ["maxTokens"])
      }
    }))

  it.effect("modelId: empty or blank rejected", () =>
    Effect.gen(function*() {
      for (const modelId of ["", "   ", "\t\n"]) {
        const error = yield* rejects(with_({ modelId }), ["modelId"])
        assert.include(error.message, "must not be empty")
      }
      yield* accepts(with_({ modelId: " m " }))
    }))
})

describe("Validation input shapes", () => {
  it.effect("rejects a non-object at the root", () =>
    Effect.gen(function*() {
      for (const input of [null, undefined, "a prompt", 42, true, [], [valid]]) {
        const error = yield* rejects(input, ["<root>"])
        assert.include(error.issues[0].message, "expected a JSON object")
      }
    }))

  it.effect("names every missing field", () =>
    Effect.gen(function*() {
      const error = yield* rejects({}, ["systemInstructions", "context", "temperature", "maxTokens", "modelId"])
      for (const issue of error.issues) assert.strictEqual(issue.message, "is missing")
      yield* rejects(with_({ context: [{ role: "user" }] }), ["context[0].content"])
      yield* rejects(with_({ context: [{ content: "x" }] }), ["context[0].role"])
      const { modelId: _, ...noModel } = valid
      yield* rejects(noModel, ["modelId"])
    }))

  it.effect("rejects wrong types, naming the path", () =>
    Effect.gen(function*() {
      yield* rejects(with_({ systemInstructions: "be nice" }), ["systemInstructions"])
      yield* rejects(with_({ systemInstructions: ["ok", 7, null] }), ["systemInstructions[1]", "systemInstructions[2]"])
      yield* rejects(with_({ context: { role: "user", content: "x" } }), ["context"])
      yield* rejects(with_({ context: [{ role: "user", content: "x" }, "hello"] }), ["context[1]"])
      yield* rejects(with_({ context: [{ role: "user", content: 5 }] }), ["context[0].content"])
      yield* rejects(with_({ temperature: "0.5" }), ["temperature"])
      yield* rejects(with_({ maxTokens: "100" }), ["maxTokens"])
      yield* rejects(with_({ modelId: 4 }), ["modelId"])
    }))

  it.effect("rejects an unknown role and accepts the three known ones", () =>
    Effect.gen(function*() {
      for (const role of ["user", "agent", "system"]) yield* accepts(with_({ context: [{ role, content: "x" }] }))
      for (const role of ["bot", "assistant", "USER", "", 1]) {
        const error = yield* rejects(with_({ context: [{ role, content: "x" }] }), ["context[0].role"])
        assert.include(error.message, "\"user\", \"agent\" or \"system\"")
      }
    }))

  it.effect("ignores unknown fields", () => accepts(with_({ stream: true, extra: { a: 1 } })))

  it.effect("reports each failing path with its own issue", () =>
    Effect.gen(function*() {
      const error = yield* rejects(
        {
          systemInstructions: ["x".repeat(501)],
          context: [{ role: "user", content: "ok" }, { role: "bot", content: "y".repeat(4001) }],
          temperature: 3,
          maxTokens: 0,
          modelId: ""
        },
        [
          "systemInstructions[0]",
          "context[1].role",
          "context[1].content",
          "temperature",
          "maxTokens",
          "modelId"
        ]
      )
      assert.strictEqual(error.issues.length, 6)
    }))
})

describe("Validation with custom limits", () => {
  const strict = Validation.make({
    maxSystemInstructions: 1,
    maxSystemInstructionLength: 10,
    maxContextMessages: 2,
    maxContextMessageLength: 20,
    maxTemperature: 1,
    maxMaxTokens: 100
  })

  it.effect("applies each custom limit on both sides", () =>
    Effect.gen(function*() {
      const base = {
        ...valid,
        systemInstructions: ["x".repeat(10)],
        context: messages(2, "y".repeat(20)),
        temperature: 1,
        maxTokens: 100
      }
      yield* accepts(base, strict)
      yield* rejects({ ...base, systemInstructions: ["a", "b"] }, ["systemInstructions"], strict)
      yield* rejects({ ...base, systemInstructions: ["x".repeat(11)] }, ["systemInstructions[0]"], strict)
      yield* rejects({ ...base, context: messages(3) }, ["context"], strict)
      yield* rejects({ ...base, context: messages(1, "y".repeat(21)) }, ["context[0].content"], strict)
      yield* rejects({ ...base, temperature: 1.01 }, ["temperature"], strict)
      const error = yield* rejects({ ...base, maxTokens: 101 }, ["maxTokens"], strict)
      assert.include(error.message, "between 1 and 100")
    }))

  it.effect("keeps the defaults for limits it does not set", () =>
    Effect.gen(function*() {
      const loose = Validation.make({ maxContextMessages: 30 })
      yield* accepts(with_({ context: messages(30) }), loose)
      yield* rejects(with_({ context: messages(31) }), ["context"], loose)
      yield* rejects(with_({ maxTokens: 4097 }), ["maxTokens"], loose)
    }))

  it.effect("layer provides the validator with its limits", () =>
    Effect.gen(function*() {
      const v = yield* Validation.Validation
      yield* rejects(with_({ maxTokens: 11 }), ["maxTokens"], v)
    }).pipe(Effect.provide(Validation.layer({ maxMaxTokens: 10 }))))
})

describe("Validation error size", () => {
  const bad = (n: number) => Array.from({ length: n }, () => ({ role: "robot", content: 1 }))

  it.effect("a context of 200,000 bad messages is refused by its length, with one issue", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(validator.validate(with_({ context: bad(200_000), temperature: 7 })))
      assert.deepStrictEqual(error.issues.map((i) => i.path), ["context", "temperature"])
      assert.strictEqual(error.omittedIssues, 0)
      assert.include(error.message, "context must have at most 1000 items, got 200000")
      assert.isBelow(error.message.length, 300)
    }))

  it.effect("lists the first 20 problems and counts the others", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(validator.validate(with_({ context: bad(1000) })))
      assert.strictEqual(error.issues.length, Validation.maxReportedIssues)
      assert.strictEqual(error.omittedIssues, 2000 - 20)
      assert.deepStrictEqual(error.issues.slice(0, 2).map((i) => i.path), ["context[0].role", "context[0].content"])
      assert.isTrue(error.message.endsWith("; and 1980 more"), error.message.slice(-40))
      assert.isBelow(error.message.length, 2000)
    }))

  it.effect("an oversize list of system instructions is refused by its length, the other fields still named", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        validator.validate(with_({ systemInstructions: Array(100_000).fill(0), context: bad(1) }))
      )
      assert.deepStrictEqual(error.issues.map((i) => i.path), [
        "systemInstructions",
        "context[0].role",
        "context[0].content"
      ])
    }))
})

describe("Validation error messages", () => {
  it.effect("never contain the prompt text", () =>
    Effect.gen(function*() {
      const prompt = "My card is 4111 1111 1111 1111 and my password is hunter2, please help. "
      const long = prompt.repeat(60)
      const inputs: ReadonlyArray<unknown> = [
        with_({ systemInstructions: [long] }),
        with_({ context: [{ role: "user", content: long }] }),
        with_({ context: [{ role: prompt, content: "x" }] }),
        with_({ context: [prompt] }),
        with_({ context: prompt }),
        with_({ systemInstructions: prompt }),
        with_({ temperature: prompt }),
        with_({ maxTokens: prompt }),
        with_({ modelId: 0, extra: prompt }),
        // A card number, an SSN, a phone number sent as numbers.
        with_({ temperature: 4111111111111111 }),
        with_({ maxTokens: 4111111111111111 }),
        with_({ maxTokens: 4111111111111111.5 }),
        with_({ systemInstructions: [4111111111111111] }),
        with_({ context: [{ role: 4111111111111111, content: 4111111111111111 }] }),
        prompt,
        long
      ]
      for (const input of inputs) {
        const error = yield* Effect.flip(validator.validate(input))
        for (const text of [error.message, JSON.stringify(error.issues), String(error)]) {
          assert.notInclude(text, "4111")
          assert.notInclude(text, "hunter2")
          assert.notInclude(text, "please help")
        }
      }
    }))
})
