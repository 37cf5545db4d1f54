import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import { NodePipeline } from "@genesys-llm/node"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as path from "node:path"

/**
 * `NodePipeline` pointed at the gateway simulator in context (its URL serves login and API, with its
 * credentials), the audit log in a temporary folder that is removed when the layer closes. `basic.ts` spells the
 * same configuration out.
 */
export const pipelineOnSimulator = (
  options: Omit<NodePipeline.Options, "gateway" | "auditLogPath"> & {
    readonly gateway?: Partial<NodePipeline.Options["gateway"]>
  } = {}
): Layer.Layer<NodePipeline.Provided, NodePipeline.LayerError, GatewaySimulator.GatewaySimulator> =>
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.GatewaySimulator
      const fs = yield* FileSystem.FileSystem
      const folder = yield* Effect.orDie(fs.makeTempDirectoryScoped({ prefix: "genesys-llm-example-" }))
      return NodePipeline.layer({
        ...options,
        gateway: {
          apiUrl: simulator.url,
          clientId: simulator.credentials.clientId,
          clientSecret: simulator.credentials.clientSecret,
          ...options.gateway
        },
        auditLogPath: path.join(folder, "llm-audit.log")
      })
    }).pipe(Effect.provide(NodeFileSystem.layer))
  )
