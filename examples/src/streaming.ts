/**
 * A streamed answer: `Pipeline.stream` gives text deltas as the gateway's frames arrive, then one `Completed`
 * event with the whole call's summary. Each delta is written to the terminal at once.
 *
 *   pnpm tsx examples/src/streaming.ts
 *
 * Run directly, it starts the gateway simulator in this process, pacing its frames 80 ms apart so that the answer
 * visibly streams.
 */
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Terminal from "@effect/platform/Terminal"
import { Pipeline } from "@genesys-llm/core"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { runIfMain } from "./internal/main.js"
import { pipelineOnSimulator } from "./internal/simulated.js"

export const prompt: unknown = {
  systemInstructions: ["You are a helpful contact-center assistant."],
  context: [
    { role: "user", content: "My parcel was due yesterday." },
    { role: "agent", content: "Sorry to hear that. Could you give me the order number?" },
    { role: "user", content: "It is 1042. When will it arrive?" }
  ],
  temperature: 0.2,
  maxTokens: 256,
  modelId: "genesys-default"
}

export const program = Effect.gen(function*() {
  const terminal = yield* Terminal.Terminal
  let completion: Pipeline.Completion | undefined
  yield* Pipeline.stream(prompt).pipe(
    Stream.runForEach((event) => {
      switch (event._tag) {
        case "TextDelta":
          return terminal.display(event.text) // as it arrives, not when the answer is complete
        case "Completed":
          completion = event.completion
          return Effect.void
      }
    })
  )
  // The stream always ends with exactly one `Completed` event; this only tells TypeScript so.
  if (completion === undefined) return yield* Effect.dieMessage("the stream ended without a Completed event")
  yield* terminal.display(
    `\n\n(${completion.status}: first text after ${completion.timeToFirstFrameMs} ms, ` +
      `all of it after ${completion.latencyMs} ms, ${completion.tokensUsed} tokens)\n`
  )
  return completion
})

/** The simulator the program talks to when run directly: 80 ms between frames of up to 12 characters. */
export const simulatorOptions: GatewaySimulator.OptionsInput = { paceMs: 80, frameChars: 12 }

runIfMain(
  import.meta,
  program.pipe(
    Effect.provide(pipelineOnSimulator()),
    Effect.provide([GatewaySimulator.layer(simulatorOptions), NodeTerminal.layer])
  )
)
