/**
 * The pre-flight stages on their own: a payload validated, trimmed to its budget, one blocked and one redacted
 * by the safety policy. Nothing leaves the process.
 *
 *   pnpm tsx examples/src/preflight.ts
 */
import { ContextWindow, SafetyPolicy, TokenEstimator, Validation } from "@genesys-llm/core"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { runIfMain } from "./internal/main.js"

const history = Array.from({ length: 12 }, (_, i) => ({
  role: i % 2 === 0 ? "user" : "agent",
  content: `Turn ${i + 1}: ${"the customer asks about their order status and delivery window. ".repeat(6)}`
}))

const longConversation: unknown = {
  systemInstructions: ["You are a helpful contact-center assistant."],
  context: [...history, { role: "user", content: "Where is my parcel right now?" }],
  temperature: 0.2,
  maxTokens: 256,
  modelId: "genesys-default"
}

const withCard: unknown = {
  systemInstructions: [],
  context: [{ role: "user", content: "Please charge my card 4111 1111 1111 1111 again." }],
  temperature: 0,
  maxTokens: 128,
  modelId: "genesys-default"
}

const withEmail: unknown = {
  systemInstructions: [],
  context: [{ role: "user", content: "Send the invoice to jane.doe@example.com please." }],
  temperature: 0,
  maxTokens: 128,
  modelId: "genesys-default"
}

const invalid: unknown = { systemInstructions: "be nice", context: [{ role: "bot" }], temperature: 3, maxTokens: 0 }

/** What the walk-through saw, for the test that runs it. */
export interface Summary {
  readonly invalidPaths: ReadonlyArray<string>
  readonly kept: number
  readonly dropped: number
  readonly blockedRules: ReadonlyArray<string>
  readonly redacted: string
}

export const program = Effect.gen(function*() {
  const validation = yield* Validation.Validation
  const window = yield* ContextWindow.ContextWindow
  const safety = yield* SafetyPolicy.SafetyPolicy

  yield* Console.log("== 1. Validation: every failing path is named")
  const error = yield* Effect.flip(validation.validate(invalid))
  for (const issue of error.issues) yield* Console.log(`  ${issue.path}: ${issue.message}`)

  yield* Console.log("\n== 2. Context window: oldest messages go first, the newest stays")
  const payload = yield* validation.validate(longConversation)
  const fitted = yield* window.fit(payload)
  yield* Console.log(
    `  budget ${fitted.budget} tokens; kept ${fitted.payload.context.length} of ${payload.context.length} messages ` +
      `(${fitted.droppedContextMessages} dropped), estimated ${fitted.estimatedTokens} tokens`
  )

  yield* Console.log("\n== 3. Safety policy: a card number blocks the prompt")
  const violation = yield* Effect.flip(safety.check(yield* validation.validate(withCard)))
  yield* Console.log(`  ${violation.message}`)

  yield* Console.log("\n== 4. Safety policy: an e-mail address is redacted (rule turned on here)")
  const redacted = yield* Effect.flatMap(validation.validate(withEmail), safety.check)
  const text = redacted.payload.context[0]!.content
  yield* Console.log(`  sent: ${text}`)

  return {
    invalidPaths: error.issues.map((i) => i.path),
    kept: fitted.payload.context.length,
    dropped: fitted.droppedContextMessages,
    blockedRules: violation.ruleIds,
    redacted: text
  } satisfies Summary
})

export const layer = Layer.mergeAll(
  Validation.layerDefault,
  ContextWindow.layerDefault.pipe(Layer.provide(TokenEstimator.layerDefault)),
  SafetyPolicy.layer({ actions: { email: "redact" } })
)

runIfMain(import.meta, program.pipe(Effect.provide(layer)))
