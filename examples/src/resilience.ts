/**
 * Resilience: the gateway throttles the first attempt (429 with `Retry-After`), and stalls the retry (headers,
 * then nothing). The pipeline waits as told and retries with the same idempotency key; when no text has arrived by
 * the first-frame deadline, the call ends with the fallback text instead of keeping the customer waiting. The
 * simulator's request log shows what reached the gateway.
 *
 *   pnpm tsx examples/src/resilience.ts
 */
import { Pipeline } from "@genesys-llm/core"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { runIfMain } from "./internal/main.js"
import { pipelineOnSimulator } from "./internal/simulated.js"

export const prompt: unknown = {
  systemInstructions: ["You are a helpful contact-center assistant."],
  context: [{ role: "user", content: "Can I still change the delivery address of order 1042?" }],
  temperature: 0.2,
  maxTokens: 256,
  modelId: "genesys-default"
}

export const fallbackText = "Thanks for waiting - an agent will pick this up in a moment."

export interface Settings {
  /** What the 429 asks the client to wait. */
  readonly retryAfterSeconds: number
  /** The first-frame deadline, retries included. */
  readonly maxLatencyMillis: number
}

export const run = (settings: Settings) =>
  Effect.gen(function*() {
    const simulator = yield* GatewaySimulator.GatewaySimulator
    yield* simulator.control.enqueue(
      { kind: "status", status: 429, retryAfterSeconds: settings.retryAfterSeconds },
      { kind: "stall", afterFrames: 0 }
    )
    yield* Console.log(
      `The gateway will throttle the first attempt (429, Retry-After: ${settings.retryAfterSeconds}) ` +
        `and stall the next one. First-frame deadline: ${settings.maxLatencyMillis} ms.\n`
    )

    const completion = yield* Pipeline.run(prompt, { call: { maxLatencyMillis: settings.maxLatencyMillis } })

    const attempts = (yield* simulator.control.requests).filter((r) => r.path === simulator.options.chatPath)
    const start = Date.parse(attempts[0].receivedAt)
    for (const [i, attempt] of attempts.entries()) {
      yield* Console.log(
        `attempt ${i + 1} at +${Date.parse(attempt.receivedAt) - start} ms: HTTP ${attempt.status} ` +
          `(${attempt.outcome}), Idempotency-Key: ${attempt.idempotencyKey}`
      )
    }
    yield* Console.log(
      `\n-> ${completion.status} after ${completion.latencyMs} ms and ${completion.attempts} attempts: ` +
        `"${completion.text}"`
    )
    return { completion, attempts }
  })

export const program = run({ retryAfterSeconds: 1, maxLatencyMillis: 3_000 })

export const layer = pipelineOnSimulator({ fallbackText })

runIfMain(import.meta, program.pipe(Effect.provide(layer), Effect.provide(GatewaySimulator.layer())))
