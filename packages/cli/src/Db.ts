/**
 * `genesys-llm db migrate [--database-url URL]`: creates or updates the tables of the PostgreSQL audit chain and
 * webhook outbox (`PgMigrations.run`). Idempotent: a second run applies nothing. The URL comes from the flag or
 * `GENESYS_LLM_DATABASE_URL` and is never printed.
 *
 * Exit codes: 0 done (stdout: what was applied, or that nothing was), 1 the database cannot be reached or refused
 * a migration, 2 no URL or a bad one.
 *
 * @since 0.1.0
 */
import * as PgMigrations from "@genesys-llm/postgres/PgMigrations"
import * as PgShared from "@genesys-llm/postgres/PgShared"
import * as PgUrl from "@genesys-llm/postgres/PgUrl"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as ExitCode from "./ExitCode.js"
import { databaseUrl } from "./internal/database.js"
import * as Output from "./internal/output.js"

/**
 * Runs the migrations on the database of the flag or the variable, printing what was applied.
 *
 * @since 0.1.0
 * @category utils
 */
export const migrate = (parsed: {
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
}): Effect.Effect<void, ExitCode.CliFailure, Output.Output> =>
  Effect.gen(function*() {
    const database = yield* databaseUrl(parsed.databaseUrl)
    if (Option.isNone(database)) {
      return yield* new ExitCode.CliFailure({
        exitCode: ExitCode.ExitCode.InvalidInput,
        reason: "UsageError",
        message: `give --database-url (or ${PgUrl.variable})`
      })
    }
    const { setting, url } = database.value
    const applied = yield* PgMigrations.run.pipe(
      Effect.provide(PgShared.layerConnection(url, { setting, maxConnections: 1 })),
      Effect.mapError((error) =>
        new ExitCode.CliFailure({
          exitCode: ExitCode.ExitCode.Failure,
          reason: error._tag,
          message: error._tag === "DatabaseUnavailableError"
            ? error.message
            : `the PostgreSQL database given by ${setting} refused the migrations`
        })
      )
    )
    yield* Output.out(
      applied.length === 0
        ? "database schema up to date: no migration applied\n"
        : `applied ${applied.length} ${applied.length === 1 ? "migration" : "migrations"}: ${
          applied.map(([id, name]) => `${id}_${name}`).join(", ")
        }\n`
    )
  })
