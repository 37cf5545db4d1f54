/**
 * Testing your own code with `@genesys-llm/testing` and `TestClock`. This file is the code under test: a small
 * function of the kind a team writes on top of the pipeline, with a timing rule of its own (a customer waits at
 * most 2 seconds for the bot before an agent takes over). Its tests are the point of the example:
 * examples/test/testing-with-testclock.test.ts provides `TestPipeline.layer(scripts)` (the whole pipeline over a
 * scripted gateway) and moves time with `TestClock.adjust`, so "exactly at 2 seconds" is asserted to the
 * millisecond without waiting for it.
 *
 *   pnpm exec vitest run --project @genesys-llm/examples testing-with-testclock   # the tests
 *   pnpm tsx examples/src/testing-with-testclock.ts                               # the code, against the simulator
 */
import { Pipeline } from "@genesys-llm/core"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { runIfMain } from "./internal/main.js"
import { pipelineOnSimulator } from "./internal/simulated.js"

// -----------------------------------------------------------------------------------------------------------------
// The code under test
// -----------------------------------------------------------------------------------------------------------------

/** How long a customer waits for the bot's first words before an agent takes over. */
export const patienceMillis = 2_000

export interface CustomerTurn {
  readonly conversationId: string
  readonly turn: number
  readonly message: string
}

export type BotAnswer =
  | { readonly _tag: "Answered"; readonly text: string }
  | {
    readonly _tag: "HandedOver"
    readonly reason: "slow" | "broken" | "blocked"
    /** What the bot says while the conversation goes to an agent. */
    readonly say: string
  }

export const brokenText = "Let me get a colleague to finish this for you."
export const blockedText = "For your security, please do not share card numbers here. An agent will help you."

/** Answers a customer's turn with the model, or hands the conversation to an agent. */
export const answerCustomer = Effect.fn("answerCustomer")(function*(input: CustomerTurn) {
  const completion = yield* Pipeline.run(
    {
      systemInstructions: ["You are the store's chat assistant. Be brief and friendly."],
      context: [{ role: "user", content: input.message }],
      temperature: 0.3,
      maxTokens: 200,
      modelId: "genesys-default"
    },
    {
      conversation: { id: input.conversationId, turn: input.turn },
      call: { maxLatencyMillis: patienceMillis }
    }
  )
  switch (completion.status) {
    case "success":
      return { _tag: "Answered", text: completion.text } satisfies BotAnswer
    case "fallback":
      // The pipeline's fallback text (the `Fallback` stage) is what the customer hears while waiting.
      return { _tag: "HandedOver", reason: "slow", say: completion.text } satisfies BotAnswer
    case "error":
      return { _tag: "HandedOver", reason: "broken", say: brokenText } satisfies BotAnswer
  }
}, (effect) =>
  Effect.catchIf(
    effect,
    (error) => error.status === "blocked",
    (): Effect.Effect<BotAnswer> => Effect.succeed({ _tag: "HandedOver", reason: "blocked", say: blockedText })
  ))

// -----------------------------------------------------------------------------------------------------------------
// Running it
// -----------------------------------------------------------------------------------------------------------------

export const turns: ReadonlyArray<CustomerTurn> = [
  { conversationId: "chat-77", turn: 1, message: "Hi! Do you ship to Norway?" },
  { conversationId: "chat-77", turn: 2, message: "Great, and how long does it take?" }
]

export const program = Effect.forEach(turns, (turn) =>
  Effect.tap(answerCustomer(turn), (answer) =>
    Console.log(
      answer._tag === "Answered"
        ? `turn ${turn.turn}: answered: ${answer.text}`
        : `turn ${turn.turn}: handed over (${answer.reason}): ${answer.say}`
    )))

/** Run directly: the simulator delays its first answer past the customer's patience, then answers at once. */
export const simulatorOptions: GatewaySimulator.OptionsInput = {
  faults: [{ kind: "delay", route: "chat", ms: patienceMillis + 500 }]
}

runIfMain(
  import.meta,
  program.pipe(
    Effect.provide(pipelineOnSimulator({ fallbackText: "One moment, I am passing you to a colleague." })),
    Effect.provide(GatewaySimulator.layer(simulatorOptions))
  )
)
