/**
 * One prompt through the whole pipeline (validation, context window, safety policy, gateway, audit), the reply
 * printed.
 *
 *   pnpm tsx examples/src/basic.ts
 *
 * Run directly, it starts the gateway simulator in this process on a free loopback port and points the pipeline
 * at it; the audit log is written to a temporary folder that it names. Against Genesys Cloud, provide
 * `NodePipeline.layerConfig()` instead: it reads `GENESYS_CLIENT_ID`, `GENESYS_CLIENT_SECRET`, `GENESYS_ENV` and
 * `LLM_AUDIT_LOG_PATH` from the environment.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import { Pipeline } from "@genesys-llm/core"
import { NodePipeline } from "@genesys-llm/node"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as path from "node:path"
import { runIfMain } from "./internal/main.js"

/** A PromptPayload, as JSON would bring it: the pipeline validates it. */
export const prompt: unknown = {
  systemInstructions: ["You are a helpful contact-center assistant. Answer in two sentences at most."],
  context: [{ role: "user", content: "Hi, where is my order 1042? It was due yesterday." }],
  temperature: 0.2,
  maxTokens: 256,
  modelId: "genesys-default"
}

export const program = Effect.gen(function*() {
  const completion = yield* Pipeline.run(prompt)
  yield* Console.log(completion.text)
  yield* Console.log(
    `\n(${completion.status}, ${completion.tokensUsed} tokens, ${completion.latencyMs} ms, ` +
      `${completion.attempts} attempt, idempotency key ${completion.idempotencyKey})`
  )
  return completion
})

/** The pipeline for Node against the simulator in context, with the audit log at `auditLogPath`. */
export const layer = (auditLogPath: string) =>
  Layer.unwrapEffect(Effect.map(GatewaySimulator.GatewaySimulator, (simulator) =>
    NodePipeline.layer({
      gateway: {
        apiUrl: simulator.url, // the simulator serves the login routes and the API at one URL
        clientId: simulator.credentials.clientId,
        clientSecret: simulator.credentials.clientSecret
      },
      auditLogPath
    })))

const main = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const folder = yield* fs.makeTempDirectory({ prefix: "genesys-llm-basic-" })
  const auditLogPath = path.join(folder, "llm-audit.log")
  yield* program.pipe(Effect.provide(layer(auditLogPath)))
  yield* Console.log(`audit log: ${auditLogPath} (check it with: pnpm -s cli audit verify ${auditLogPath})`)
}).pipe(Effect.provide([GatewaySimulator.layer(), NodeFileSystem.layer]))

runIfMain(import.meta, main)
