/**
 * `genesys-llm audit verify PATH`: checks a hash-chained audit log (`AuditLog.verify`); `audit verify
 * --database-url URL` (or `GENESYS_LLM_DATABASE_URL` with no PATH) checks the `audit_entries` table of a PostgreSQL
 * database the same way, row by row (`PgAuditSink.verify`).
 *
 * Exit codes, as `diff` has them: 0 intact (stdout: the number of lines), 1 broken (stderr: the first bad line, or
 * row and its seq, and why), 2 the log cannot be read (missing, a directory, no permission; a database that cannot
 * be reached, or holds no audit table) or the command line is wrong.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import type * as FileSystem from "@effect/platform/FileSystem"
import { AuditLog } from "@genesys-llm/core"
import * as PgAuditSink from "@genesys-llm/postgres/PgAuditSink"
import * as PgShared from "@genesys-llm/postgres/PgShared"
import * as PgUrl from "@genesys-llm/postgres/PgUrl"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as ExitCode from "./ExitCode.js"
import * as Commands from "./internal/commands.js"
import { databaseUrl } from "./internal/database.js"
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

const label = "audit_entries"

const intactMessage = (
  where: string,
  unit: "line" | "row",
  result: Extract<AuditLog.VerifyResult, { _tag: "Intact" }>
) => {
  const { entries, head, lines, recoveries } = result
  return `${where}: intact, ${lines} ${lines === 1 ? unit : `${unit}s`} (${entries} ${
    entries === 1 ? "entry" : "entries"
  }, ${recoveries} ${recoveries === 1 ? "recovery" : "recoveries"})${
    lines > 0 ? `, head seq ${head.seq} hash ${head.hash}` : ""
  }\n`
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
        Intact: (intact) => Output.out(intactMessage(path, "line", intact)),
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
 * Verifies the `audit_entries` table of the database at `url` (`setting` names where the URL came from; the URL is
 * never printed), printing the verdict. It reads only: no migration runs.
 *
 * @since 0.1.0
 * @category utils
 */
export const verifyDatabase = (
  url: Redacted.Redacted<string>,
  setting: string
): Effect.Effect<void, ExitCode.CliFailure, Output.Output> =>
  PgAuditSink.verify.pipe(
    Effect.provide(PgShared.layerConnection(url, { setting, maxConnections: 1 })),
    Effect.catchTags({
      DatabaseUnavailableError: (error) =>
        Effect.fail(
          new ExitCode.CliFailure({
            exitCode: ExitCode.ExitCode.InvalidInput,
            reason: error._tag,
            message: error.message
          })
        ),
      SqlError: () =>
        Effect.fail(
          new ExitCode.CliFailure({
            exitCode: ExitCode.ExitCode.InvalidInput,
            reason: "AuditTableUnreadable",
            message: `cannot read the ${label} table of the database given by ${setting} (run genesys-llm db migrate?)`
          })
        )
    }),
    Effect.flatMap((result) =>
      result._tag === "Intact"
        ? Output.out(intactMessage(label, "row", result))
        : Effect.fail(
          new ExitCode.CliFailure({
            exitCode: ExitCode.ExitCode.Failure,
            reason: "AuditLogBroken",
            message: `${label}: broken at row ${result.line}${
              result.seq === undefined ? "" : ` (seq ${result.seq})`
            }: ${reasons[result.reason]}${result.detail.length > 0 ? ` (${result.detail})` : ""}`
          })
        )
    )
  )

/**
 * `audit verify [PATH] [--database-url URL]`: a file, or the database (the flag, or the variable when no PATH is
 * given); both is a usage error.
 *
 * @since 0.1.0
 * @category utils
 */
export const run = (parsed: {
  readonly path: Option.Option<string>
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
}): Effect.Effect<void, ExitCode.CliFailure, Output.Output | FileSystem.FileSystem> =>
  Effect.gen(function*() {
    if (Option.isSome(parsed.path) && Option.isSome(parsed.databaseUrl)) {
      return yield* new ExitCode.CliFailure({
        exitCode: ExitCode.ExitCode.InvalidInput,
        reason: "UsageError",
        message: "give PATH or --database-url, not both"
      })
    }
    if (Option.isSome(parsed.path)) return yield* verify(parsed.path.value)
    const database = yield* databaseUrl(parsed.databaseUrl)
    if (Option.isNone(database)) {
      return yield* new ExitCode.CliFailure({
        exitCode: ExitCode.ExitCode.InvalidInput,
        reason: "UsageError",
        message: `give the audit log's PATH, or --database-url (or ${PgUrl.variable})`
      })
    }
    return yield* verifyDatabase(database.value.url, database.value.setting)
  })

/**
 * `audit verify [PATH] [--database-url URL]`.
 *
 * @since 0.1.0
 * @category commands
 */
export const verifyCommand = Spec.command(Commands.auditVerify, run)

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
