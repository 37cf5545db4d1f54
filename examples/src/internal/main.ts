import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type * as Effect from "effect/Effect"
import * as path from "node:path"
import * as url from "node:url"

/**
 * Runs `program` when the module is the process's entry point (`tsx examples/src/basic.ts`), and does nothing
 * when a test imports it.
 */
export const runIfMain = <E>(meta: ImportMeta, program: Effect.Effect<unknown, E>): void => {
  const entry = process.argv[1]
  if (entry !== undefined && path.resolve(entry) === url.fileURLToPath(meta.url)) {
    NodeRuntime.runMain(program)
  }
}
