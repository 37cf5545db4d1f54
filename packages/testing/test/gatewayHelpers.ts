import {
  ContextWindow,
  Fallback,
  Gateway,
  IdGenerator,
  MetricsWebhook,
  Pipeline,
  type Prompt,
  SafetyPolicy,
  TokenEstimator,
  TokenProvider,
  Validation
} from "@genesys-llm/core"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as TestAuditSink from "../src/TestAuditSink.js"
import * as TestHttpClient from "../src/TestHttpClient.js"

export const chatPath = "/api/v2/ai/llm-gateway/chat"
export const tokenPath = "/oauth/token"
export const secret = "s3cret+%:/ é"
export const key = "llm-gw-3f0c1a52-8d7e-4c41-9f0a-1b2c3d4e5f60"

export const payload: Prompt.PromptPayload = {
  systemInstructions: ["Be brief."],
  context: [{ role: "user", content: "Hi there" }],
  temperature: 0.2,
  maxTokens: 100,
  modelId: "genesys-default"
}

export const tokenReply = (token: string, expiresIn: unknown = 3600) =>
  TestHttpClient.json(200, { access_token: token, token_type: "bearer", expires_in: expiresIn })

/** Token answers tok-1, tok-2, ... one per token request. */
export const tokens = (): TestHttpClient.Handler => {
  let n = 0
  return () => Effect.sync(() => tokenReply(`tok-${++n}`))
}

export const layer = (
  chat: TestHttpClient.Handler,
  options: Partial<Gateway.Options> = {},
  token: TestHttpClient.Handler = tokens()
) =>
  Gateway.layer({ apiUrl: "https://api.example.test/", ...options }).pipe(
    Layer.provideMerge(
      TokenProvider.layer({
        loginUrl: "https://login.example.test",
        clientId: "client id",
        clientSecret: Redacted.make(secret)
      })
    ),
    Layer.provideMerge(TestHttpClient.layer(TestHttpClient.byPath({ [tokenPath]: token, [chatPath]: chat })))
  )

export const request = (options?: Gateway.CallOptions): Gateway.Request => ({
  payload,
  idempotencyKey: key,
  ...(options === undefined ? {} : { options })
})

export const chatRequests = Effect.flatMap(TestHttpClient.TestHttpClient, (r) => r.requestsTo(chatPath))
export const tokenRequests = Effect.flatMap(TestHttpClient.TestHttpClient, (r) => r.requestsTo(tokenPath))

export const frames = (...contents: ReadonlyArray<string>) => contents.map((content) => ({ content }))

/** The pipeline over the given gateway layer, with the default stages, two keys and a memory audit sink. */
export const pipelineOver = <ROut, E, R>(
  gateway: Layer.Layer<ROut, E, R>,
  options: { readonly pipeline?: Pipeline.Options; readonly safety?: SafetyPolicy.Options } = {}
) =>
  Pipeline.layer(options.pipeline ?? {}).pipe(
    Layer.provideMerge(Layer.mergeAll(
      Validation.layerDefault,
      ContextWindow.layerDefault.pipe(Layer.provide(TokenEstimator.layerDefault)),
      SafetyPolicy.layer(options.safety ?? {}).pipe(Layer.orDie),
      IdGenerator.layerTest(["llm-gw-key-1", "llm-gw-key-2"]),
      Fallback.layer("One moment please."),
      TestAuditSink.layer,
      MetricsWebhook.layerNoop
    )),
    Layer.provideMerge(gateway)
  )

/** A pipeline input: one instruction, one message. */
export const input = {
  systemInstructions: ["Be brief."],
  context: [{ role: "user", content: "Hi" }],
  temperature: 0.2,
  maxTokens: 256,
  modelId: "model-a"
}

/** One event of a call and the virtual time it came, counted from the call's start. */
export interface Timed {
  readonly at: number
  readonly event: Gateway.Event
}

/**
 * Runs a call's stream on the TestClock (moved by `advance`): each event with the time it came, how the call ended
 * and when, all counted from the start.
 */
export const runTimed = <R>(
  stream: Stream.Stream<Gateway.Event, Gateway.GatewayError, R>,
  advance: Duration.DurationInput = "10 minutes"
) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const events: Array<Timed> = []
    const fiber = yield* stream.pipe(
      Stream.tap((event) => Effect.map(Clock.currentTimeMillis, (at) => events.push({ at: at - start, event }))),
      Stream.runDrain,
      Effect.exit,
      Effect.zip(Clock.currentTimeMillis),
      Effect.fork
    )
    yield* TestClock.adjust(advance)
    const [exit, endedAt] = yield* Fiber.join(fiber)
    return { events, exit, endedAt: endedAt - start }
  })
