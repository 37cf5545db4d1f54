import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { AuditLog, Pipeline } from "@genesys-llm/core"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as path from "node:path"
import * as NodePipeline from "../src/NodePipeline.js"

const env = (entries: Record<string, string>) => ConfigProvider.fromMap(new Map(Object.entries(entries)))
const credentials = { GENESYS_CLIENT_ID: "id-from-env", GENESYS_CLIENT_SECRET: "secret-from-env" }

describe("NodePipeline.config", () => {
  it.effect("an override wins only where it says something, and gateway settings merge one by one", () =>
    Effect.gen(function*() {
      const options = yield* Effect.withConfigProvider(
        NodePipeline.config({
          gateway: { apiUrl: "http://127.0.0.1:9", clientId: undefined },
          auditLogPath: undefined,
          fallbackText: "Hold on."
        }),
        env({ ...credentials, LLM_AUDIT_LOG_PATH: "/var/log/llm.log", LLM_MAX_LATENCY_MS: "1200" })
      )
      assert.strictEqual(options.gateway.apiUrl, "http://127.0.0.1:9")
      assert.strictEqual(options.gateway.clientId, "id-from-env")
      assert.strictEqual(Redacted.value(options.gateway.clientSecret), "secret-from-env")
      assert.strictEqual(options.gateway.maxLatencyMillis, 1200)
      assert.strictEqual(options.auditLogPath, "/var/log/llm.log")
      assert.strictEqual(options.fallbackText, "Hold on.")
      assert.isUndefined(options.webhook)
    }))

  it.effect("a webhook URL that is not http(s) is an error naming the variable, not the value", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.withConfigProvider(
        NodePipeline.config(),
        env({ ...credentials, COST_TRACKING_WEBHOOK: "ftp://hooks.example/secret-token-123" })
      ))
      assert.include(String(error), "COST_TRACKING_WEBHOOK")
      assert.notInclude(String(error), "secret-token-123")
    }))
})

describe("NodePipeline.layer", () => {
  it.scoped("runs a call against the simulator and writes one verified audit line", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* fs.makeTempDirectoryScoped()
      const auditLogPath = path.join(folder, "audit.log")
      const simulator = yield* GatewaySimulator.make()
      const completion = yield* Pipeline.run({
        systemInstructions: [],
        context: [{ role: "user", content: "Where is my order?" }],
        temperature: 0,
        maxTokens: 128,
        modelId: "model-a"
      }).pipe(
        Effect.provide(NodePipeline.layer({
          gateway: {
            apiUrl: simulator.url,
            clientId: simulator.credentials.clientId,
            clientSecret: simulator.credentials.clientSecret
          },
          auditLogPath
        }))
      )
      assert.strictEqual(completion.status, "success")
      assert.isAbove(completion.text.length, 0)
      const chats = (yield* simulator.control.requests).filter((r) => r.path.endsWith("/chat"))
      assert.deepStrictEqual(chats.map((r) => [r.idempotencyKey, r.status]), [[completion.idempotencyKey, 200]])
      const verified = yield* AuditLog.verify(auditLogPath)
      assert.strictEqual(verified._tag, "Intact")
      if (verified._tag === "Intact") assert.strictEqual(verified.entries, 1)
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})
