#!/usr/bin/env node
/**
 * `genesys-llm`. The installed bin, and `pnpm -s cli ...` from the repository root, run this file bundled into one
 * ESM file (`bundle/bin.js`, built by `pnpm bundle`); `pnpm cli:dev ...` runs it from source with tsx. The exit
 * code comes from `Cli.run`; an interrupted `chat` or `audit verify` exits 130, an interrupted `simulator` (its
 * normal stop) 0.
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Cli from "./Cli.js"
import { ExitCode } from "./ExitCode.js"

// A reader that goes away (`genesys-llm chat ... | head -c 10`) is not an error worth a stack trace, but the call
// must still end as a call: the main fiber is interrupted (as Ctrl-C does), so the pipeline records it as
// cancelled in the audit log before the process exits, with 0.
let pipeClosed = false
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error
  if (!pipeClosed) {
    pipeClosed = true
    process.kill(process.pid, "SIGINT")
  }
})

// The command is the first argument that names one (options such as `--log-level info` may come before it).
const command = process.argv.slice(2).find((arg) =>
  arg === "chat" || arg === "serve" || arg === "simulator" || arg === "audit"
)
// The simulator stops, and `serve` drains, on SIGINT or SIGTERM: that is their normal end.
const interrupted = command === "simulator" || command === "serve" ? ExitCode.Success : ExitCode.Interrupted

// What the command line needs, and no more (`NodeContext.layer` would also load the worker and process layers).
const platform = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)

// A command is over once `Cli.run` returns: the process exits then, once stdout and stderr are flushed, rather than
// when the last idle handle goes (undici keeps a connection alive 4 s after the answer).
const exit = (code: number): void => {
  setTimeout(() => process.exit(code), 2000).unref()
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)))
}

Cli.run(process.argv).pipe(
  Effect.provide(platform),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (outcome) =>
      exit(
        Exit.isSuccess(outcome)
          ? (typeof outcome.value === "number" ? outcome.value : ExitCode.Failure)
          : pipeClosed
          ? ExitCode.Success
          : Cause.isInterruptedOnly(outcome.cause)
          ? interrupted
          : ExitCode.Failure
      )
  })
)
