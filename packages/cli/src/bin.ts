#!/usr/bin/env node
/**
 * `genesys-llm`: `pnpm -s cli ...` from the repository root runs this file with tsx. The exit code comes from
 * `Cli.run`; an interrupted `chat` or `audit verify` exits 130, an interrupted `simulator` (its normal stop) 0.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Cli from "./Cli.js"
import { ExitCode } from "./ExitCode.js"

// A reader that goes away (`genesys-llm chat ... | head -c 10`) is not an error worth a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0)
  throw error
})

const interrupted = process.argv[2] === "simulator" ? ExitCode.Success : ExitCode.Interrupted

Cli.run(process.argv).pipe(
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => {
      if (Exit.isSuccess(exit)) {
        // Let Node exit on its own once stdout and stderr are flushed.
        process.exitCode = typeof exit.value === "number" ? exit.value : ExitCode.Failure
        onExit(0)
      } else {
        onExit(Cause.isInterruptedOnly(exit.cause) ? interrupted : ExitCode.Failure)
      }
    }
  })
)
