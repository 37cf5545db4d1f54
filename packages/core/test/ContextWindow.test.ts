import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as ContextWindow from "../src/ContextWindow.js"
import type * as Prompt from "../src/Prompt.js"
import * as TokenEstimator from "../src/TokenEstimator.js"
import type * as Validation from "../src/Validation.js"

const fitWith = (
  payload: Prompt.PromptPayload,
  options: ContextWindow.Options = {},
  estimator: Layer.Layer<TokenEstimator.TokenEstimator> = TokenEstimator.layerDefault
) =>
  Effect.flatMap(ContextWindow.ContextWindow, (window) => window.fit(payload)).pipe(
    // The options of these tests are valid; the invalid ones are tested through `make`.
    Effect.provide(ContextWindow.layer(options).pipe(Layer.provide(estimator), Layer.orDie))
  )

// The failure of a fit that must overflow its token budget.
const overflow = <A>(fit: Effect.Effect<A, ContextWindow.ContextOverflowError | Validation.PromptValidationError>) =>
  Effect.flatMap(
    Effect.flip(fit),
    (error) =>
      error._tag === "ContextOverflowError"
        ? Effect.succeed(error)
        : Effect.dieMessage(`not an overflow: ${error._tag}`)
  )

const budgetError = (options: ContextWindow.Options) =>
  Effect.flip(ContextWindow.make(options).pipe(Effect.provide(TokenEstimator.layerDefault)))

const payload = (
  systemInstructions: ReadonlyArray<string>,
  context: ReadonlyArray<Prompt.ChatMessage>,
  maxTokens = 100
): Prompt.PromptPayload => ({ systemInstructions, context, temperature: 0.7, maxTokens, modelId: "model-a" })

// A message of exactly `tokens` tokens under the 4-characters estimate.
const message = (tokens: number, role: Prompt.Role = "user"): Prompt.ChatMessage => ({
  role,
  content: "m".repeat(tokens * 4)
})
const text = (tokens: number) => "s".repeat(tokens * 4)
const estimate = TokenEstimator.estimateByCharacters

// Small token counts against small budgets, so that fitting, dropping and overflowing all happen often.
const smallPayload = FastCheck.record({
  systemInstructions: FastCheck.array(FastCheck.string({ maxLength: 40 }), { maxLength: 5 }),
  context: FastCheck.array(
    FastCheck.record({
      role: FastCheck.constantFrom<Array<Prompt.Role>>("user", "agent", "system"),
      content: FastCheck.string({ maxLength: 60 })
    }),
    { maxLength: 12 }
  ),
  temperature: FastCheck.double({ min: 0, max: 2, noNaN: true }),
  maxTokens: FastCheck.integer({ min: 1, max: 80 }),
  modelId: FastCheck.constantFrom("model-a", "model-b")
})
const ratio = FastCheck.oneof(
  FastCheck.constant(undefined),
  FastCheck.constant(1),
  FastCheck.double({ min: Number.EPSILON, max: 1, noNaN: true })
)

describe("ContextWindow", () => {
  describe("properties", () => {
    it.effect.prop("fits the budget with a suffix of the context, or proves that the minimum cannot fit", {
      input: smallPayload,
      budgetRatio: ratio,
      maxMessages: FastCheck.option(FastCheck.integer({ min: 1, max: 12 }), { nil: undefined })
    }, ({ budgetRatio, input, maxMessages }) =>
      Effect.gen(function*() {
        const budget = Math.floor(input.maxTokens * (budgetRatio ?? 0.8) + 1e-9)
        const systemTokens = input.systemInstructions.reduce((sum, s) => sum + estimate(s), 0)
        const n = input.context.length
        const minimum = systemTokens + (n === 0 ? 0 : estimate(input.context[n - 1].content))
        const result = yield* Effect.either(fitWith(input, { budgetRatio, maxMessages }))
        if (result._tag === "Left") {
          const error = result.left
          assert(error._tag === "ContextOverflowError", error._tag)
          assert.strictEqual(error.budget, budget)
          assert.strictEqual(error.requiredTokens, minimum)
          assert.isAbove(minimum, budget)
          return
        }
        const fitted = result.right
        const out = fitted.payload
        assert.isAtMost(minimum, budget)
        assert.strictEqual(fitted.budget, budget)
        assert.isAtMost(fitted.estimatedTokens, budget)
        assert.strictEqual(
          fitted.estimatedTokens,
          systemTokens + out.context.reduce((sum, m) => sum + estimate(m.content), 0)
        )
        assert.deepStrictEqual(out.systemInstructions, input.systemInstructions)
        // A suffix, in order, of the very same message objects.
        assert.strictEqual(fitted.droppedContextMessages, n - out.context.length)
        out.context.forEach((m, i) => assert.strictEqual(m, input.context[fitted.droppedContextMessages + i]))
        if (n > 0) assert.strictEqual(out.context[out.context.length - 1], input.context[n - 1])
        // At most `maxMessages`, and as many as fit: unless the count is the limit, the next older message would
        // have gone over the budget.
        const limit = maxMessages ?? ContextWindow.defaultMaxMessages
        assert.isAtMost(out.context.length, limit)
        if (fitted.droppedContextMessages > 0 && out.context.length < limit) {
          const next = input.context[fitted.droppedContextMessages - 1]
          assert.isAbove(fitted.estimatedTokens + estimate(next.content), budget)
        }
        assert.strictEqual(out.temperature, input.temperature)
        assert.strictEqual(out.maxTokens, input.maxTokens)
        assert.strictEqual(out.modelId, input.modelId)
      }), { fastCheck: { numRuns: 300 } })

    it.effect.prop("estimates each message at most once, and exactly once when all fit", {
      input: smallPayload
    }, ({ input }) =>
      Effect.gen(function*() {
        const seen: Array<Prompt.ChatMessage> = []
        const counting = TokenEstimator.layer({
          estimateMessage: (m) => {
            seen.push(m)
            return estimate(m.content)
          }
        })
        const result = yield* Effect.either(fitWith(input, {}, counting))
        assert.strictEqual(new Set(seen).size, seen.length)
        if (result._tag === "Right") {
          const kept = result.right.payload.context.length
          // The kept ones, plus the one that stopped the walk when something was dropped.
          assert.strictEqual(seen.length, result.right.droppedContextMessages === 0 ? kept : kept + 1)
        }
      }))
  })

  describe("budget", () => {
    it.effect("is 80% of maxTokens, rounded down, by default", () =>
      Effect.gen(function*() {
        const fitted = yield* fitWith(payload([], [message(1)], 4096))
        assert.strictEqual(fitted.budget, 3276)
        const small = yield* fitWith(payload([], [], 9))
        assert.strictEqual(small.budget, 7)
      }))

    it.effect("layerDefault gives the same budget", () =>
      Effect.gen(function*() {
        const window = yield* ContextWindow.ContextWindow
        const fitted = yield* window.fit(payload([], [message(1)], 1000))
        assert.strictEqual(fitted.budget, 800)
      }).pipe(Effect.provide(ContextWindow.layerDefault.pipe(Layer.provide(TokenEstimator.layerDefault)))))

    it.effect("takes a ratio of maxTokens", () =>
      Effect.gen(function*() {
        assert.strictEqual((yield* fitWith(payload([], [], 100), { budgetRatio: 0.5 })).budget, 50)
        assert.strictEqual((yield* fitWith(payload([], [], 100), { budgetRatio: 1 })).budget, 100)
        // 0.29 * 100 is 28.999999999999996 in floating point; the budget is still 29.
        assert.strictEqual((yield* fitWith(payload([], [], 100), { budgetRatio: 0.29 })).budget, 29)
      }))

    it.effect("takes an absolute number of tokens, whatever maxTokens is", () =>
      Effect.gen(function*() {
        const fitted = yield* fitWith(
          payload([text(2)], [message(3), message(3), message(3)], 4096),
          { budgetTokens: 8 }
        )
        assert.strictEqual(fitted.budget, 8)
        assert.strictEqual(fitted.droppedContextMessages, 1)
        assert.strictEqual(fitted.estimatedTokens, 8)
      }))

    it.effect("rejects a ratio outside (0, 1], a non-positive or fractional token count, and both at once", () =>
      Effect.gen(function*() {
        for (const budgetRatio of [0, -0.5, 1.0001, 2, Number.NaN, Infinity]) {
          const error = yield* budgetError({ budgetRatio })
          assert.strictEqual(error._tag, "InvalidBudgetError")
          assert.include(error.message, "budgetRatio must be greater than 0 and at most 1")
          assert.include(error.message, String(budgetRatio))
        }
        for (const budgetTokens of [0, -1, 2.5, Number.NaN, Infinity]) {
          const error = yield* budgetError({ budgetTokens })
          assert.strictEqual(error._tag, "InvalidBudgetError")
          assert.include(error.message, "budgetTokens must be a positive integer")
        }
        const both = { budgetRatio: 0.5, budgetTokens: 10 } as unknown as ContextWindow.Options
        const error = yield* budgetError(both)
        assert.include(error.message, "not both")
      }))
  })

  describe("fitting", () => {
    it.effect("keeps everything, as the same payload object, when it fits exactly", () =>
      Effect.gen(function*() {
        // budget 8 = 2 (system) + 3 + 3
        const input = payload([text(1), text(1)], [message(3), message(3, "agent")], 10)
        const fitted = yield* fitWith(input)
        assert.strictEqual(fitted.budget, 8)
        assert.strictEqual(fitted.estimatedTokens, 8)
        assert.strictEqual(fitted.droppedContextMessages, 0)
        assert.strictEqual(fitted.payload, input)
      }))

    it.effect("drops the oldest message when one token over", () =>
      Effect.gen(function*() {
        const oldest = message(4)
        const input = payload([text(1), text(1)], [oldest, message(3, "agent"), message(1)], 10)
        const fitted = yield* fitWith(input)
        assert.strictEqual(fitted.droppedContextMessages, 1)
        assert.deepStrictEqual(fitted.payload.context, input.context.slice(1))
        assert.deepStrictEqual(fitted.payload.systemInstructions, input.systemInstructions)
        assert.strictEqual(fitted.estimatedTokens, 6)
      }))

    it.effect("stops at the first message that does not fit, even if an older one would", () =>
      Effect.gen(function*() {
        // budget 8: newest 2 fits, then 7 does not; the 1-token message before it is dropped too.
        const input = payload([], [message(1), message(7), message(2)], 10)
        const fitted = yield* fitWith(input)
        assert.strictEqual(fitted.droppedContextMessages, 2)
        assert.strictEqual(fitted.payload.context.length, 1)
        assert.strictEqual(fitted.payload.context[0], input.context[2])
      }))

    it.effect("allows an empty context when the input has none", () =>
      Effect.gen(function*() {
        const fitted = yield* fitWith(payload([text(3)], [], 10))
        assert.strictEqual(fitted.droppedContextMessages, 0)
        assert.strictEqual(fitted.payload.context.length, 0)
        assert.strictEqual(fitted.estimatedTokens, 3)
      }))

    it.effect("keeps the newest message when it fits exactly with the system instructions", () =>
      Effect.gen(function*() {
        const fitted = yield* fitWith(payload([text(3)], [message(1), message(5)], 10))
        assert.strictEqual(fitted.estimatedTokens, 8)
        assert.strictEqual(fitted.droppedContextMessages, 1)
      }))
  })

  describe("overflow", () => {
    it.effect("fails with the budget and the tokens needed, never the prompt text", () =>
      Effect.gen(function*() {
        const secretish = "confidential-customer-words ".repeat(3)
        const error = yield* Effect.flip(
          fitWith(payload([secretish.slice(0, 40)], [message(1), { role: "user", content: secretish }], 10))
        )
        assert(error._tag === "ContextOverflowError", error._tag)
        assert.strictEqual(error.budget, 8)
        assert.strictEqual(error.requiredTokens, 10 + Math.ceil(secretish.length / 4))
        assert.include(error.message, `${error.requiredTokens} tokens`)
        assert.include(error.message, "budget is 8 tokens")
        assert.notInclude(error.message, "confidential")
      }))

    it.effect("fails when the system instructions alone exceed the budget, context empty or not", () =>
      Effect.gen(function*() {
        const empty = yield* overflow(fitWith(payload([text(9)], [], 10)))
        assert.strictEqual(empty.requiredTokens, 9)
        const withMessage = yield* overflow(fitWith(payload([text(9)], [message(0)], 10)))
        assert.strictEqual(withMessage.requiredTokens, 9)
      }))

    it.effect("fails one token past the exact fit", () =>
      Effect.gen(function*() {
        const error = yield* overflow(fitWith(payload([text(3)], [message(6)], 10)))
        assert.strictEqual(error.requiredTokens, 9)
        assert.strictEqual(error.budget, 8)
      }))
  })

  describe("number of messages", () => {
    const short = (n: number) => Array.from({ length: n }, (_, i) => ({ role: "user" as const, content: `m${i}` }))

    it.effect("keeps the newest 25 by default and counts the older ones as dropped", () =>
      Effect.gen(function*() {
        const context = short(30)
        const fitted = yield* fitWith(payload([], context, 4096))
        assert.strictEqual(fitted.droppedContextMessages, 5)
        assert.deepStrictEqual(fitted.payload.context, context.slice(5))
        const exactly = yield* fitWith(payload([], short(25), 4096))
        assert.strictEqual(exactly.droppedContextMessages, 0)
      }))

    it.effect("drops by count and by tokens together, oldest first, and never the newest", () =>
      Effect.gen(function*() {
        // Ten messages of 3 tokens, 4 kept by count; the budget of 8 tokens then keeps 2 of those 4.
        const context = Array.from({ length: 10 }, () => message(3))
        const fitted = yield* fitWith(payload([text(2)], context, 4096), { budgetTokens: 8, maxMessages: 4 })
        assert.strictEqual(fitted.droppedContextMessages, 8)
        assert.strictEqual(fitted.payload.context[1], context[9])
        const one = yield* fitWith(payload([], short(3), 4096), { maxMessages: 1 })
        assert.deepStrictEqual(one.payload.context.map((m) => m.content), ["m2"])
      }))

    it.effect("with reject, refuses a longer context as invalid, naming context and the count sent", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(fitWith(payload([], short(30), 4096), { tooManyMessages: "reject" }))
        assert(error._tag === "PromptValidationError", error._tag)
        assert.deepStrictEqual(error.issues.map((i) => i.path), ["context"])
        assert.include(error.message, "context must have at most 25 items, got 30")
        const kept = yield* fitWith(payload([], short(25), 4096), { tooManyMessages: "reject" })
        assert.strictEqual(kept.droppedContextMessages, 0)
      }))

    it.effect("refuses a maxMessages that is not a positive integer, and an unknown action", () =>
      Effect.gen(function*() {
        for (const maxMessages of [0, -1, 2.5, Number.NaN]) {
          const error = yield* budgetError({ maxMessages })
          assert.include(error.message, "maxMessages must be a positive integer")
        }
        const error = yield* budgetError({ tooManyMessages: "trim" as ContextWindow.TooManyMessages })
        assert.include(error.message, "tooManyMessages")
      }))
  })

  describe("linear time", () => {
    it.effect("estimates each message and instruction exactly once, however long the context", () =>
      Effect.gen(function*() {
        const texts: Array<string> = []
        const messages: Array<Prompt.ChatMessage> = []
        const counting = TokenEstimator.layer({
          estimate: (t) => {
            texts.push(t)
            return 1
          },
          estimateMessage: (m) => {
            messages.push(m)
            return 1
          }
        })
        const context = Array.from({ length: 10_000 }, (_, i) => ({ role: "user" as const, content: `m${i}` }))
        const many = { maxMessages: 10_000 }
        const fitted = yield* fitWith(payload(["a", "b"], context), { budgetTokens: 20_000, ...many }, counting)
        assert.strictEqual(fitted.droppedContextMessages, 0)
        assert.strictEqual(texts.length, 2)
        assert.strictEqual(messages.length, 10_000)
        assert.strictEqual(new Set(messages).size, 10_000)

        texts.length = 0
        messages.length = 0
        const trimmed = yield* fitWith(payload(["a", "b"], context), { budgetTokens: 102, ...many }, counting)
        assert.strictEqual(trimmed.droppedContextMessages, 9_900)
        // The 100 kept and the one that did not fit; the 9,899 older ones are never looked at.
        assert.strictEqual(messages.length, 101)
        assert.strictEqual(texts.length, 2)
      }))
  })

  describe("estimator contract", () => {
    it.effect("an estimate that is not a finite non-negative number is a defect, not a silent fit", () =>
      Effect.gen(function*() {
        for (const bad of [Number.NaN, -1, Infinity]) {
          const exit = yield* Effect.exit(
            fitWith(payload([], [message(1)]), {}, TokenEstimator.layerFromFunction(() => bad))
          )
          assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
        }
      }))
  })

  describe("layerConfig", () => {
    const fitFromEnv = (env: Record<string, string>, input: Prompt.PromptPayload) =>
      Effect.flatMap(ContextWindow.ContextWindow, (window) => window.fit(input)).pipe(
        Effect.provide(ContextWindow.layerConfig.pipe(Layer.provide(TokenEstimator.layerDefault))),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
      )

    it.effect("reads a ratio, a token count, or neither", () =>
      Effect.gen(function*() {
        assert.strictEqual((yield* fitFromEnv({}, payload([], [], 100))).budget, 80)
        assert.strictEqual((yield* fitFromEnv({ LLM_CONTEXT_BUDGET_RATIO: "0.5" }, payload([], [], 100))).budget, 50)
        assert.strictEqual((yield* fitFromEnv({ LLM_CONTEXT_BUDGET_TOKENS: "30" }, payload([], [], 100))).budget, 30)
      }))

    it.effect("reads the number of messages and what happens beyond it", () =>
      Effect.gen(function*() {
        const context = Array.from({ length: 5 }, () => message(1))
        const fitted = yield* fitFromEnv({ LLM_CONTEXT_MAX_MESSAGES: "3" }, payload([], context, 4096))
        assert.strictEqual(fitted.droppedContextMessages, 2)
        const refused = yield* Effect.flip(
          fitFromEnv(
            { LLM_CONTEXT_MAX_MESSAGES: "3", LLM_CONTEXT_TOO_MANY_MESSAGES: "reject" },
            payload([], context, 4096)
          )
        )
        assert.include(String(refused), "context must have at most 3 items, got 5")
      }))

    it.effect("names the setting when a value is bad", () =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
          [{ LLM_CONTEXT_BUDGET_RATIO: "abc" }, "LLM_CONTEXT_BUDGET_RATIO"],
          [{ LLM_CONTEXT_BUDGET_RATIO: "1.5" }, "LLM_CONTEXT_BUDGET_RATIO"],
          [{ LLM_CONTEXT_BUDGET_RATIO: "0" }, "LLM_CONTEXT_BUDGET_RATIO"],
          [{ LLM_CONTEXT_BUDGET_TOKENS: "2.5" }, "LLM_CONTEXT_BUDGET_TOKENS"],
          [{ LLM_CONTEXT_BUDGET_TOKENS: "0" }, "LLM_CONTEXT_BUDGET_TOKENS"],
          [{ LLM_CONTEXT_MAX_MESSAGES: "0" }, "LLM_CONTEXT_MAX_MESSAGES"],
          [{ LLM_CONTEXT_MAX_MESSAGES: "many" }, "LLM_CONTEXT_MAX_MESSAGES"],
          [{ LLM_CONTEXT_TOO_MANY_MESSAGES: "trim" }, "LLM_CONTEXT_TOO_MANY_MESSAGES"]
        ]
        for (const [env, setting] of cases) {
          const error = yield* Effect.flip(fitFromEnv(env, payload([], [])))
          assert.include(String(error), setting)
        }
        const both = yield* Effect.flip(
          fitFromEnv({ LLM_CONTEXT_BUDGET_RATIO: "0.5", LLM_CONTEXT_BUDGET_TOKENS: "10" }, payload([], []))
        )
        assert.include(String(both), "LLM_CONTEXT_BUDGET_RATIO")
        assert.include(String(both), "LLM_CONTEXT_BUDGET_TOKENS")
      }))
  })
})
