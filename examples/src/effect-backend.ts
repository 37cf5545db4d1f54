/**
 * The pipeline inside an existing Effect backend. The app already has its own services (`AssistConfig`,
 * `AgentAssist`, written with `Effect.Service`) and its own logger; `AgentAssist` depends on `Pipeline` like on any
 * other service. The app builds the pipeline from one layer per stage, taking the library's defaults for most and
 * swapping two: a safety rule of its own (internal account numbers are redacted before a prompt leaves) and a
 * fallback that tells the agent where to look instead.
 *
 *   pnpm tsx examples/src/effect-backend.ts
 *
 * The stages read the environment (`GENESYS_CLIENT_ID`, `GENESYS_CLIENT_SECRET`, `GENESYS_ENV` or
 * `GENESYS_API_URL`, `LLM_AUDIT_LOG_PATH`, `COST_TRACKING_WEBHOOK`, ...). Run directly, the example starts the
 * gateway simulator in this process and points those settings at it.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as FileSystem from "@effect/platform/FileSystem"
import {
  AuditLog,
  ContextWindow,
  Fallback,
  MetricsWebhook,
  Pipeline,
  SafetyPolicy,
  TokenEstimator,
  Validation
} from "@genesys-llm/core"
import { NodeFileLock, NodeGateway } from "@genesys-llm/node"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as path from "node:path"
import { runIfMain } from "./internal/main.js"

// -----------------------------------------------------------------------------------------------------------------
// The app's own services
// -----------------------------------------------------------------------------------------------------------------

/** The app's settings, from the environment. */
export class AssistConfig extends Effect.Service<AssistConfig>()("examples/AssistConfig", {
  effect: Effect.gen(function*() {
    return {
      modelId: yield* Config.string("ASSIST_MODEL_ID").pipe(Config.withDefault("genesys-default")),
      /** How long an agent waits for a suggestion before getting the fallback. */
      maxLatencyMillis: yield* Config.integer("ASSIST_MAX_LATENCY_MS").pipe(Config.withDefault(3_000)),
      knowledgeBaseUrl: yield* Config.string("ASSIST_KB_URL").pipe(Config.withDefault("https://kb.example.com"))
    } as const
  })
}) {}

export interface Conversation {
  readonly id: string
  readonly turn: number
  readonly messages: ReadonlyArray<{ readonly role: "user" | "agent"; readonly content: string }>
}

export interface Suggestion {
  readonly text: string
  /** `model`: the model's answer; `fallback`: too slow; `policy`: the prompt was blocked and the app answers. */
  readonly source: "model" | "fallback" | "policy"
  /** Rules that redacted something before the prompt left. */
  readonly redacted: ReadonlyArray<string>
}

/** Suggests the agent's next reply in a live conversation. */
export class AgentAssist extends Effect.Service<AgentAssist>()("examples/AgentAssist", {
  effect: Effect.gen(function*() {
    const config = yield* AssistConfig
    const pipeline = yield* Pipeline.Pipeline

    const suggest = Effect.fn("AgentAssist.suggest")(function*(conversation: Conversation) {
      const suggestion = yield* pipeline.run(
        {
          systemInstructions: ["Suggest the agent's next reply: one or two friendly sentences."],
          context: conversation.messages,
          temperature: 0.3,
          maxTokens: 200,
          modelId: config.modelId
        },
        {
          conversation: { id: conversation.id, turn: conversation.turn },
          call: { maxLatencyMillis: config.maxLatencyMillis }
        }
      ).pipe(
        Effect.map((completion): Suggestion => ({
          text: completion.text,
          source: completion.status === "success" ? "model" : "fallback",
          redacted: completion.redactions.map((hit) => hit.ruleId)
        })),
        // The app's own answer when the safety policy keeps a prompt in; other failures go to the caller.
        Effect.catchIf((error) => error.status === "blocked", (): Effect.Effect<Suggestion> =>
          Effect.succeed({
            text: "The customer shared payment details: ask them to use the secure payment line, not the chat.",
            source: "policy",
            redacted: []
          }))
      )
      yield* Effect.logInfo("suggestion ready").pipe(
        Effect.annotateLogs({ conversationId: conversation.id, turn: conversation.turn, source: suggestion.source })
      )
      return suggestion
    })

    return { suggest } as const
  }),
  // The app's config is its own dependency; `Pipeline` is left to whoever composes the app.
  dependencies: [AssistConfig.Default]
}) {}

// -----------------------------------------------------------------------------------------------------------------
// The pipeline, stage by stage, with two stages of the app's own
// -----------------------------------------------------------------------------------------------------------------

/** Internal account numbers (`ACC-` and 8 digits) never leave the building: they are redacted from prompts. */
export const accountNumberRule = SafetyPolicy.fromRegExp({
  id: "account-number",
  pattern: /\bACC-\d{8}\b/,
  action: "redact",
  description: "an internal account number",
  maxMatchLength: 14
})

/** When the model is too slow, the agent is pointed to the knowledge base instead of a generic apology. */
export const AssistFallback: Layer.Layer<Fallback.Fallback, never, AssistConfig> = Layer.effect(
  Fallback.Fallback,
  Effect.map(
    AssistConfig,
    (config) => Fallback.constant(`No suggestion in time: search the knowledge base at ${config.knowledgeBaseUrl}.`)
  )
)

export const PipelineLive = Pipeline.layer().pipe(
  Layer.provide(Layer.mergeAll(
    Validation.layerDefault,
    ContextWindow.layerDefault.pipe(Layer.provide(TokenEstimator.layerDefault)),
    SafetyPolicy.layer({ custom: [accountNumberRule] }), // the default rules, plus the app's
    AssistFallback.pipe(Layer.provide(AssistConfig.Default)),
    NodeGateway.layerConfig, // Gateway, TokenProvider and IdGenerator from GENESYS_* and LLM_*
    // The audit log (LLM_AUDIT_LOG_PATH) and the webhook (none unless COST_TRACKING_WEBHOOK), each file with one
    // writer: their locks are taken in this order, the audit log's first, as every instance of the app does.
    MetricsWebhook.layerConfig().pipe(
      Layer.provideMerge(AuditLog.layerConfig()),
      Layer.provide([NodeHttpClient.layerUndici, NodeFileSystem.layer, NodeFileLock.layer])
    )
  ))
)

/** The app logs JSON lines for its log shipper, and only those (`NodeRuntime.runMain` adds a pretty logger). */
export const AppLogger = Layer.mergeAll(Logger.json, Logger.remove(Logger.prettyLoggerDefault))

/** The app: its services over the pipeline, with its logger (which gets the pipeline's logs too). */
export const AppLive = Layer.mergeAll(AgentAssist.Default, AppLogger).pipe(Layer.provide(PipelineLive))

// -----------------------------------------------------------------------------------------------------------------
// The app at work
// -----------------------------------------------------------------------------------------------------------------

export const conversations: ReadonlyArray<Conversation> = [
  { id: "conv-1001", turn: 1, messages: [{ role: "user", content: "Hi, my parcel has not arrived yet." }] },
  {
    id: "conv-1002",
    turn: 3,
    messages: [
      { role: "user", content: "I was charged twice this month." },
      { role: "agent", content: "I am sorry about that. Which account is it?" },
      { role: "user", content: "Account ACC-20231187, the direct debit on the 3rd." }
    ]
  },
  { id: "conv-1003", turn: 2, messages: [{ role: "user", content: "Just take it from my card 4111 1111 1111 1111" }] }
]

export const program = Effect.gen(function*() {
  const assist = yield* AgentAssist
  const suggestions: Array<Suggestion> = []
  for (const conversation of conversations) {
    const suggestion = yield* assist.suggest(conversation)
    const redacted = suggestion.redacted.length > 0 ? `, redacted: ${suggestion.redacted.join(", ")}` : ""
    yield* Console.log(`${conversation.id} (${suggestion.source}${redacted}): ${suggestion.text}`)
    suggestions.push(suggestion)
  }
  return suggestions
})

/** The settings the stages read, pointed at a simulator and an audit log path; the environment for the rest. */
export const simulatedEnvironment = (simulator: GatewaySimulator.Service, auditLogPath: string) =>
  ConfigProvider.fromMap(
    new Map([
      ["GENESYS_API_URL", simulator.url],
      ["GENESYS_CLIENT_ID", simulator.credentials.clientId],
      ["GENESYS_CLIENT_SECRET", Redacted.value(simulator.credentials.clientSecret)],
      ["LLM_AUDIT_LOG_PATH", auditLogPath]
    ])
  ).pipe(ConfigProvider.orElse(() => ConfigProvider.fromEnv()))

const main = Effect.gen(function*() {
  const simulator = yield* GatewaySimulator.GatewaySimulator
  const folder = yield* FileSystem.FileSystem.pipe(
    Effect.flatMap((fs) => fs.makeTempDirectoryScoped({ prefix: "genesys-llm-backend-" }))
  )
  return yield* program.pipe(
    Effect.provide(AppLive),
    Effect.withConfigProvider(simulatedEnvironment(simulator, path.join(folder, "llm-audit.log")))
  )
}).pipe(Effect.scoped, Effect.provide([GatewaySimulator.layer(), NodeFileSystem.layer]))

runIfMain(import.meta, main)
