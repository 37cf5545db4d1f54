#!/usr/bin/env node
/**
 * `pnpm simulator --port 8787`: starts the simulator, prints its URL as the first line of stdout, and runs
 * until SIGINT or SIGTERM.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as GatewaySimulator from "./GatewaySimulator.js"
import * as Argv from "./internal/argv.js"

const parsed = Argv.parse(process.argv.slice(2), process.env)

if (parsed._tag === "Left") {
  console.error(`${parsed.left}\n\n${Argv.usage}`)
  process.exitCode = 2
} else if (parsed.right._tag === "Help") {
  console.log(Argv.usage)
} else {
  GatewaySimulator.serve(parsed.right.options).pipe(
    Effect.tapError((error) => Console.error(error.message)),
    NodeRuntime.runMain({ disableErrorReporting: true })
  )
}
