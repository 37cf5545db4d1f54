import * as PgUrl from "@genesys-llm/postgres/PgUrl"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as ExitCode from "../ExitCode.js"

/** A database URL and the setting it came from (`--database-url`, `GENESYS_LLM_DATABASE_URL`). @internal */
export interface Database {
  readonly url: Redacted.Redacted<string>
  readonly setting: string
}

/**
 * The database URL of a command: its `--database-url` flag (checked, never repeated), else
 * `GENESYS_LLM_DATABASE_URL`; none when neither is set. A bad value is a usage error (exit 2) naming the setting.
 * @internal
 */
export const databaseUrl = (
  flag: Option.Option<Redacted.Redacted<string>>
): Effect.Effect<Option.Option<Database>, ExitCode.CliFailure> =>
  Option.match(flag, {
    onSome: (url) => {
      const problem = PgUrl.checkUrl(Redacted.value(url))
      return problem === undefined
        ? Effect.succeed(Option.some({ url, setting: "--database-url" }))
        : Effect.fail(
          new ExitCode.CliFailure({
            exitCode: ExitCode.ExitCode.InvalidInput,
            reason: "UsageError",
            message: `--database-url ${problem}`
          })
        )
    },
    onNone: () =>
      PgUrl.urlConfig.pipe(
        Effect.mapError(ExitCode.ofConfigError),
        Effect.map(Option.map((url) => ({ url, setting: PgUrl.variable })))
      )
  })
