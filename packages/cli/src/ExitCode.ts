/**
 * The exit codes of `genesys-llm` and the failure that carries one: every command ends with a code from this
 * table, and a failure also with one line on stderr.
 *
 * | code | meaning |
 * | --- | --- |
 * | 0 | success (for `chat`, also a fallback) |
 * | 1 | anything else: an unexpected failure, an audit log that cannot be opened; for `audit verify`, a broken log |
 * | 2 | invalid input: the payload (validation, context overflow), its file, a flag, a setting, the command line |
 * | 3 | blocked by the safety policy |
 * | 4 | gateway failure: rejected, retries exhausted, a malformed or broken answer, a timeout |
 * | 5 | authentication or authorization failure, missing credentials included |
 * | 130 | interrupted (Ctrl-C) during `chat` or `audit verify` (the `simulator` stops with 0) |
 *
 * @since 0.1.0
 */
import type { Pipeline } from "@genesys-llm/core"
import type * as ConfigError from "effect/ConfigError"
import * as Schema from "effect/Schema"

/**
 * @since 0.1.0
 * @category models
 */
export const ExitCode = {
  Success: 0,
  Failure: 1,
  InvalidInput: 2,
  Blocked: 3,
  GatewayFailure: 4,
  AuthFailure: 5,
  Interrupted: 130
} as const

/**
 * @since 0.1.0
 * @category models
 */
export type ExitCode = typeof ExitCode[keyof typeof ExitCode]

/**
 * A command ended without success. `message` is the one line printed on stderr; it names the problem and never
 * holds a secret or prompt text. `reason` names the kind of problem in a word (a stage error's tag such as
 * `GatewayRejected`, or `UsageError`, `PayloadFileError`, `ConfigError`, ...): `chat --json` reports it.
 *
 * @since 0.1.0
 * @category errors
 */
export class CliFailure extends Schema.TaggedError<CliFailure>("@genesys-llm/cli/CliFailure")("CliFailure", {
  exitCode: Schema.Literal(1, 2, 3, 4, 5),
  reason: Schema.String,
  message: Schema.String
}) {}

/**
 * The exit code of a call that gave no answer: 2 invalid, 3 blocked, 5 refused credentials or a missing scope,
 * 4 any other gateway failure.
 *
 * @since 0.1.0
 * @category utils
 */
export const ofPipelineError = (error: Pipeline.PipelineError): 2 | 3 | 4 | 5 => {
  switch (error.status) {
    case "invalid":
      return ExitCode.InvalidInput
    case "blocked":
      return ExitCode.Blocked
    case "error":
      return error.cause._tag === "AuthenticationFailed" || error.cause._tag === "AuthorizationFailed"
        ? ExitCode.AuthFailure
        : ExitCode.GatewayFailure
  }
}

/**
 * The environment variables that hold the client credentials.
 *
 * @since 0.1.0
 * @category models
 */
export const credentialVariables: ReadonlyArray<string> = ["GENESYS_CLIENT_ID", "GENESYS_CLIENT_SECRET"]

interface Leaf {
  readonly name: string
  readonly missing: boolean
  readonly message: string
}

const leaves = (error: ConfigError.ConfigError): Array<Leaf> => {
  switch (error._op) {
    case "And":
    case "Or":
      return [...leaves(error.left), ...leaves(error.right)]
    case "MissingData":
      return [{ name: error.path.join("_"), missing: true, message: error.message }]
    case "InvalidData":
    case "Unsupported":
      return [{ name: error.path.join("_"), missing: false, message: error.message }]
    case "SourceUnavailable":
      return [{ name: error.path.join("_"), missing: false, message: error.message }]
  }
}

/**
 * A configuration failure as a `CliFailure`: missing or empty credentials exit 5, any other missing or malformed
 * setting exits 2. The message names every variable at fault, never a value.
 *
 * @since 0.1.0
 * @category utils
 */
export const ofConfigError = (error: ConfigError.ConfigError): CliFailure => {
  const all = leaves(error)
  const seen = new Set<string>()
  const unique = all.filter((leaf) => {
    const key = `${leaf.name}\u0000${leaf.missing}\u0000${leaf.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  const credentials = unique.filter((leaf) => credentialVariables.includes(leaf.name))
  if (credentials.length > 0) {
    const names = [...new Set(credentials.map((leaf) => leaf.name))]
    const problem = credentials.every((leaf) => leaf.missing)
      ? "not set"
      : credentials.every((leaf) => !leaf.missing)
      ? "empty"
      : "not set or empty"
    return new CliFailure({
      exitCode: ExitCode.AuthFailure,
      reason: "MissingCredentials",
      message: `no client credentials: ${names.join(" and ")} ${names.length === 1 ? "is" : "are"} ${problem} ` +
        `(set GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET)`
    })
  }
  const parts = unique.map((leaf) =>
    leaf.name.length === 0
      ? leaf.message
      : leaf.missing
      ? `${leaf.name} is not set`
      : `${leaf.name}: ${leaf.message}`
  )
  return new CliFailure({
    exitCode: ExitCode.InvalidInput,
    reason: "ConfigError",
    message: `invalid configuration: ${parts.length > 0 ? parts.join("; ") : "unknown setting"}`
  })
}
