#!/usr/bin/env node
/**
 * `genesys-llm-simulator --port 8787` (`pnpm simulator ...` in the repository, bundled; `pnpm simulator:dev ...` from
 * source): starts the simulator, prints its URL as the first line of stdout, and runs until SIGINT or SIGTERM.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
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
    Effect.tapError((error) =>
      Console.error(error.issues.length > 0 ? Argv.describeIssues(error.issues) : error.message)
    ),
    NodeRuntime.runMain({
      disableErrorReporting: true,
      // Refused options are a usage error (2), as a bad flag is; a port it cannot listen on is 1.
      teardown: (exit, onExit) =>
        onExit(
          Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)
            ? 0
            : Cause.failureOption(exit.cause).pipe(Option.exists((error) =>
                error instanceof GatewaySimulator.SimulatorError && error.reason === "InvalidOptions"
              ))
            ? 2
            : 1
        )
    })
  )
}
