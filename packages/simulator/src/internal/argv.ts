import * as Either from "effect/Either"
import * as Flags from "../Flags.js"
import type * as GatewaySimulator from "../GatewaySimulator.js"

/**
 * The bin's help, from the same flag table as the CLI's `simulator` command.
 *
 * @internal
 */
export const usage = Flags.usage

/** @internal */
export type Parsed = { readonly _tag: "Help" } | {
  readonly _tag: "Run"
  readonly options: GatewaySimulator.OptionsInput
}

const FLAGS: Readonly<Record<string, Flags.Flag>> = Object.fromEntries(
  Object.values(Flags.flags).map((flag: Flags.Flag) => [`--${flag.name}`, flag])
)

/**
 * Parses the command line into options (decoded and checked later by the options schema). A flag value that is
 * not a number or not JSON is named, but a secret's value never is.
 *
 * @internal
 */
export const parse = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>> = {}
): Either.Either<Parsed, string> => {
  const options: Record<string, unknown> = {}
  const faults: Array<unknown> = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === "--help" || arg === "-h") return Either.right({ _tag: "Help" })
    const eq = arg.indexOf("=")
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg
    const spec = FLAGS[name]
    if (spec === undefined) return Either.left(`unknown option ${JSON.stringify(arg.slice(0, 40))}`)
    let value: string
    if (eq > 0 && arg.startsWith("--")) {
      value = arg.slice(eq + 1)
    } else {
      if (i + 1 >= argv.length) return Either.left(`${name} needs a value`)
      value = argv[++i]
    }
    const { kind, option: key } = spec
    switch (kind) {
      case "text":
      case "secret":
        options[key] = value
        break
      case "integer":
      case "number": {
        const n = value.trim() === "" ? Number.NaN : Number(value)
        if (!Number.isFinite(n)) return Either.left(`${name} expects a number, got ${JSON.stringify(value)}`)
        options[key] = n
        break
      }
      case "json":
      case "jsons": {
        let json: unknown
        try {
          json = JSON.parse(value)
        } catch {
          return Either.left(`${name} expects JSON, got ${JSON.stringify(value.slice(0, 80))}`)
        }
        if (kind === "jsons") {
          if (Array.isArray(json)) faults.push(...json)
          else faults.push(json)
        } else {
          options[key] = json
        }
        break
      }
    }
  }
  if (faults.length > 0) options.faults = faults
  if (options.clientId === undefined && env.GENESYS_CLIENT_ID !== undefined && env.GENESYS_CLIENT_ID !== "") {
    options.clientId = env.GENESYS_CLIENT_ID
  }
  if (
    options.clientSecret === undefined && env.GENESYS_CLIENT_SECRET !== undefined && env.GENESYS_CLIENT_SECRET !== ""
  ) {
    options.clientSecret = env.GENESYS_CLIENT_SECRET
  }
  return Either.right({ _tag: "Run", options: options as GatewaySimulator.OptionsInput })
}

/**
 * The message of options the schema refused, each named by the flag it came from (`--rpm: ...`).
 *
 * @internal
 */
export const describeIssues = Flags.describeIssues
