/**
 * `genesys-llm audit verify PATH`: checks a hash-chained audit log (`AuditLog.verify`).
 *
 * Exit codes, as `diff` has them: 0 intact (stdout: the number of lines), 1 broken (stderr: the first bad line and
 * why), 2 the log cannot be read (missing, a directory, no permission).
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import type * as FileSystem from "@effect/platform/FileSystem"
import { AuditLog } from "@genesys-llm/core"
import * as Effect from "effect/Effect"
import * as ExitCode from "./ExitCode.js"
import * as Commands from "./internal/commands.js"
import * as Output from "./internal/output.js"
import * as Spec from "./internal/spec.js"

const reasons: Record<AuditLog.BreakReason, string> = {
  "invalid-json": "not JSON",
  "invalid-entry": "not an audit entry",
  "edited": "edited (its content does not match its hash)",
  "removed-or-reordered": "out of sequence (a line before it was removed, or lines were reordered)",
  "chain-broken": "not linked to the line before it (prevHash differs)",
  "torn-tail": "torn (the last line has no newline)"
}

/**
 * Verifies the log at `path`, printing the verdict.
 *
 * @since 0.1.0
 * @category utils
 */
export const verify = (
  path: string
): Effect.Effect<void, ExitCode.CliFailure, Output.Output | FileSystem.FileSystem> =>
  AuditLog.verify(path).pipe(
    Effect.mapError((error) =>
      new ExitCode.CliFailure({
        exitCode: ExitCode.ExitCode.InvalidInput,
        reason: error._tag,
        message: error.message
      })
    ),
    Effect.flatMap((result) =>
      AuditLog.VerifyResult.$match(result, {
        Intact: ({ entries, head, lines, recoveries }) =>
          Output.out(
            `${path}: intact, ${lines} ${lines === 1 ? "line" : "lines"} (${entries} ${
              entries === 1 ? "entry" : "entries"
            }, ${recoveries} ${recoveries === 1 ? "recovery" : "recoveries"})${
              lines > 0 ? `, head seq ${head.seq} hash ${head.hash}` : ""
            }\n`
          ),
        Broken: ({ detail, line, reason }) =>
          Effect.fail(
            new ExitCode.CliFailure({
              exitCode: ExitCode.ExitCode.Failure,
              reason: "AuditLogBroken",
              message: `${path}: broken at line ${line}: ${reasons[reason]}${detail.length > 0 ? ` (${detail})` : ""}`
            })
          )
      })
    )
  )

/**
 * `audit verify PATH`.
 *
 * @since 0.1.0
 * @category commands
 */
export const verifyCommand = Spec.command(Commands.auditVerify, ({ path }) => verify(path))

/**
 * The `audit` command and its subcommands.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(Commands.audit.name).pipe(
  Command.withDescription(Commands.audit.summary),
  Command.withSubcommands([verifyCommand])
)
