/**
 * An HTTP service that a Genesys Cloud Web Services Data Action calls from an Architect flow: one customer turn in,
 * the model's reply out, both as flat JSON. The service is `@genesys-llm/server` (the same one `genesys-llm serve`
 * runs); this program only configures it from the environment and serves it.
 *
 *   pnpm tsx examples/src/data-action-server.ts
 *
 * `POST /data-action/reply` takes `{conversationId, turn, customerMessage, history?}` and answers
 * `{reply, status, idempotencyKey}`. The contracts and the action's configuration, ready to paste, are in
 * examples/data-action/README.md.
 *
 * Settings come from the environment: `HOST` (default 127.0.0.1), `PORT` (8080), `DATA_ACTION_API_KEY` (when set,
 * every request must carry it in `X-API-Key` or as the password of HTTP Basic), `LLM_MODEL_ID` (genesys-default).
 * With `GENESYS_CLIENT_ID` set, the pipeline is configured from the environment (`NodePipeline.layerConfig`);
 * without it, the gateway simulator is started in this process. Without a key it listens on loopback only.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import type { Pipeline, TokenProvider } from "@genesys-llm/core"
import { NodePipeline } from "@genesys-llm/node"
import { DataActionApi, DataActionServer } from "@genesys-llm/server"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { runIfMain } from "./internal/main.js"
import { pipelineOnSimulator } from "./internal/simulated.js"

export const { maxHistoryMessages, ReplyRequest, ReplyResponse } = DataActionApi
export const { defaults, serverLayer } = DataActionServer
export type Options = DataActionServer.Options

const settings = Config.all({
  host: Config.string("HOST").pipe(Config.withDefault("127.0.0.1")),
  port: Config.port("PORT").pipe(Config.withDefault(8080)),
  apiKey: Config.option(Config.redacted("DATA_ACTION_API_KEY")),
  modelId: Config.string("LLM_MODEL_ID").pipe(Config.withDefault(defaults.modelId)),
  genesysClientId: Config.option(Config.string("GENESYS_CLIENT_ID"))
})

const isLoopback = (host: string) => host === "localhost" || host === "::1" || host.startsWith("127.")

export const program = Effect.gen(function*() {
  const { apiKey, genesysClientId, host, modelId, port } = yield* settings
  if (Option.isNone(apiKey) && !isLoopback(host)) {
    return yield* Effect.dieMessage(`refusing to listen on ${host} without DATA_ACTION_API_KEY: anyone could call it`)
  }
  const options: Options = { ...defaults, modelId, apiKeys: Option.toArray(apiKey) }
  const pipeline: Layer.Layer<
    Pipeline.Pipeline | TokenProvider.TokenProvider,
    NodePipeline.LayerError | ConfigError.ConfigError | GatewaySimulator.SimulatorError
  > = Option.isSome(genesysClientId)
    ? NodePipeline.layerConfig()
    : pipelineOnSimulator({ fallbackText: options.fallbackText }).pipe(Layer.provide(GatewaySimulator.layer()))
  yield* Effect.gen(function*() {
    const url = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(address))
    yield* Console.log(
      `Data Action endpoint: POST ${url}/data-action/reply` +
        (Option.isSome(genesysClientId) ? "" : "  (answers from the in-process gateway simulator)") +
        `\nTry it:\n  curl -s ${url}/data-action/reply -H 'Content-Type: application/json'` +
        (Option.isSome(apiKey) ? ` -H "X-API-Key: $DATA_ACTION_API_KEY"` : "") +
        ` -d '{"conversationId":"c-1","turn":1,"customerMessage":"Where is my order?"}'` +
        "\nStop with Ctrl-C."
    )
    return yield* Effect.never
  }).pipe(Effect.provide(serverLayer({ host, port }, options)), Effect.provide(pipeline))
})

runIfMain(import.meta, program)
