/**
 * The database URL setting: its variable, its check and its `Config`. A module of its own, importing nothing but
 * `effect`, so that a program can read the setting without loading the PostgreSQL driver.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import type * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

/**
 * The environment variable of the database URL.
 *
 * @since 0.1.0
 * @category constructors
 */
export const variable = "GENESYS_LLM_DATABASE_URL"

/**
 * What is wrong with a database URL, or undefined when it is one: `postgres://` or `postgresql://`, with a host
 * (or a socket directory in `host=`).
 *
 * @since 0.1.0
 * @category utils
 */
export const checkUrl = (value: string): string | undefined => {
  let parsed: URL
  try {
    parsed = new URL(value)
  } catch {
    return "is not a URL"
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    return "must be a postgres:// or postgresql:// URL"
  }
  return undefined
}

/**
 * `GENESYS_LLM_DATABASE_URL` as a `Redacted`, absent when it is not set. A value that is not a PostgreSQL URL is a
 * `ConfigError` naming the variable, without repeating the value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const urlConfig: Config.Config<Option.Option<Redacted.Redacted<string>>> = Config.option(
  Config.redacted(variable).pipe(
    Config.mapOrFail((value) => {
      const problem = checkUrl(Redacted.value(value))
      return problem === undefined ? Either.right(value) : Either.left(ConfigError.InvalidData([variable], problem))
    })
  )
)
