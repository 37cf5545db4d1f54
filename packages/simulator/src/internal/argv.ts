import * as Either from "effect/Either"
import type * as GatewaySimulator from "../GatewaySimulator.js"

/** @internal */
export const usage = `Usage: genesys-llm-simulator [options]

Starts the Genesys LLM gateway simulator and prints its URL as the first line of stdout.

  --host HOST             interface to listen on (default 127.0.0.1)
  --port PORT             port, 0 for a free one (default 0)
  --client-id ID          accepted client id (default $GENESYS_CLIENT_ID or simulator-client)
  --client-secret SECRET  accepted client secret (default $GENESYS_CLIENT_SECRET or simulator-secret)
  --token-lifetime SECS   expires_in of issued tokens (default 86400)
  --rpm N                 chat requests a token may make a minute (default 300)
  --pace-ms MS            pause between frames (default 0)
  --frame-chars N         most characters a content frame carries (default 16)
  --reply-text TEXT       a fixed reply instead of the derived one
  --reply-bytes N         a generated reply of N bytes (benchmarks)
  --chat-path PATH        the chat route (default /api/v2/ai/llm-gateway/chat)
  --fault JSON            queue a fault, or a JSON array of faults (repeatable)
  --fault-rate P          probability 0..1 of drawing a fault from the pool
  --fault-pool JSON       JSON array of faults the rate draws from
  --seed N                seed of the fault rate's random source (default 0)
  --help                  show this text
`

/** @internal */
export type Parsed = { readonly _tag: "Help" } | {
  readonly _tag: "Run"
  readonly options: GatewaySimulator.OptionsInput
}

type Kind = "string" | "number" | "json"

const FLAGS: Record<string, readonly [key: keyof GatewaySimulator.OptionsInput, kind: Kind]> = {
  "--host": ["host", "string"],
  "--port": ["port", "number"],
  "--client-id": ["clientId", "string"],
  "--client-secret": ["clientSecret", "string"],
  "--token-lifetime": ["tokenLifetimeSeconds", "number"],
  "--rpm": ["requestsPerMinute", "number"],
  "--pace-ms": ["paceMs", "number"],
  "--frame-chars": ["frameChars", "number"],
  "--reply-text": ["replyText", "string"],
  "--reply-bytes": ["replyBytes", "number"],
  "--chat-path": ["chatPath", "string"],
  "--fault": ["faults", "json"],
  "--fault-rate": ["faultRate", "number"],
  "--fault-pool": ["faultPool", "json"],
  "--seed": ["seed", "number"]
}

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
    const [key, kind] = spec
    switch (kind) {
      case "string":
        options[key] = value
        break
      case "number": {
        const n = value.trim() === "" ? Number.NaN : Number(value)
        if (!Number.isFinite(n)) return Either.left(`${name} expects a number, got ${JSON.stringify(value)}`)
        options[key] = n
        break
      }
      case "json": {
        let json: unknown
        try {
          json = JSON.parse(value)
        } catch {
          return Either.left(`${name} expects JSON, got ${JSON.stringify(value.slice(0, 80))}`)
        }
        if (key === "faults") {
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
export const describeIssues = (issues: ReadonlyArray<{ readonly option: string; readonly message: string }>): string =>
  `invalid simulator options: ${
    issues.map(({ message, option }) => {
      const root = /^[A-Za-z]+/.exec(option)?.[0] ?? option
      const flag = Object.entries(FLAGS).find(([, [key]]) => key === root)?.[0]
      const problem = `${message.slice(0, 1).toLowerCase()}${message.slice(1)}`
      return flag === undefined ? `${option}: ${problem}` : `${flag}${option.slice(root.length)}: ${problem}`
    }).join("; ")
  }`
