/**
 * The simulator's command-line flags, in one place: each flag's name, the option it sets, its value's placeholder,
 * how its value is read and its help. The simulator's own bin (`genesys-llm-simulator`) and the CLI's
 * `genesys-llm simulator` command are both derived from this table, so they accept the same flags and print the
 * same help. It imports nothing at run time, so that `--help` and a usage error stay cheap.
 *
 * @since 0.1.0
 */
import type * as GatewaySimulator from "./GatewaySimulator.js"

/**
 * How a flag's value is read: text, a secret (never repeated in a message), an integer, a number, one JSON value,
 * or a JSON value that may be given again (each a fault or an array of faults, queued in order).
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = "text" | "secret" | "integer" | "number" | "json" | "jsons"

/**
 * One flag: `--name VALUE` sets `option` of the simulator's options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Flag {
  readonly name: string
  readonly option: keyof GatewaySimulator.OptionsInput
  /** The value's placeholder in help (`PORT`). */
  readonly value: string
  readonly kind: Kind
  readonly description: string
}

/**
 * Every flag, in the order help lists them, keyed by the name the CLI's parsed flags carry.
 *
 * @since 0.1.0
 * @category constants
 */
export const flags = {
  host: {
    name: "host",
    option: "host",
    value: "HOST",
    kind: "text",
    description: "Interface to listen on. Default: 127.0.0.1."
  },
  port: {
    name: "port",
    option: "port",
    value: "PORT",
    kind: "integer",
    description: "Port to listen on; 0 picks a free one (the URL printed says which). Default: 0."
  },
  clientId: {
    name: "client-id",
    option: "clientId",
    value: "ID",
    kind: "text",
    description: "Accepted client id. Default: $GENESYS_CLIENT_ID or simulator-client."
  },
  clientSecret: {
    name: "client-secret",
    option: "clientSecret",
    value: "SECRET",
    kind: "secret",
    description: "Accepted client secret. Default: $GENESYS_CLIENT_SECRET or simulator-secret."
  },
  tokenLifetime: {
    name: "token-lifetime",
    option: "tokenLifetimeSeconds",
    value: "SECS",
    kind: "integer",
    description: "expires_in of issued tokens. Default: 86400."
  },
  rpm: {
    name: "rpm",
    option: "requestsPerMinute",
    value: "N",
    kind: "integer",
    description: "Chat requests a token may make a minute before a 429. Default: 300."
  },
  paceMs: {
    name: "pace-ms",
    option: "paceMs",
    value: "MS",
    kind: "integer",
    description: "Pause between frames. Default: 0."
  },
  frameChars: {
    name: "frame-chars",
    option: "frameChars",
    value: "N",
    kind: "integer",
    description: "Most characters a content frame carries. Default: 16."
  },
  replyText: {
    name: "reply-text",
    option: "replyText",
    value: "TEXT",
    kind: "text",
    description: "A fixed reply instead of the one derived from the prompt."
  },
  replyBytes: {
    name: "reply-bytes",
    option: "replyBytes",
    value: "N",
    kind: "integer",
    description: "A generated reply of exactly N bytes (benchmarks)."
  },
  chatPath: {
    name: "chat-path",
    option: "chatPath",
    value: "PATH",
    kind: "text",
    description: "The chat route. Default: /api/v2/ai/llm-gateway/chat."
  },
  fault: {
    name: "fault",
    option: "faults",
    value: "JSON",
    kind: "jsons",
    description:
      "Queue a fault, or a JSON array of faults (repeatable, in order), e.g. {\"kind\":\"status\",\"status\":503}, " +
      "{\"kind\":\"delay\",\"ms\":3000}, {\"kind\":\"stall\",\"afterFrames\":2}."
  },
  faultRate: {
    name: "fault-rate",
    option: "faultRate",
    value: "P",
    kind: "number",
    description: "Probability 0..1 that a request draws a fault from the pool. Default: 0."
  },
  faultPool: {
    name: "fault-pool",
    option: "faultPool",
    value: "JSON",
    kind: "json",
    description: "JSON array of faults the rate draws from. Default: a 429, a 500, a 503."
  },
  seed: {
    name: "seed",
    option: "seed",
    value: "N",
    kind: "integer",
    description: "Seed of the fault rate's random source. Default: 0."
  }
} as const satisfies Readonly<Record<string, Flag>>

/**
 * What `genesys-llm simulator` (and the simulator's bin) does, for the help.
 *
 * @since 0.1.0
 * @category constants
 */
export const summary = "Start the gateway simulator, print its URL as the first line of stdout, and run until " +
  "SIGINT or SIGTERM (then exit 0)."

const column = 26
const width = 110

/** A description wrapped to the width, its continuation lines under its first. */
const wrap = (text: string): string => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(" ")) {
    if (line.length > 0 && column + line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else {
      line = line.length === 0 ? word : `${line} ${word}`
    }
  }
  lines.push(line)
  return lines.join(`\n${" ".repeat(column)}`)
}

const flagLine = (flag: string, text: string) => `  ${flag.padEnd(column - 3)} ${wrap(text)}`

/**
 * The help of the simulator's bin (`genesys-llm-simulator --help`): the summary and every flag of the table.
 *
 * @since 0.1.0
 * @category constants
 */
export const usage = [
  "Usage: genesys-llm-simulator [options]",
  "",
  summary,
  "",
  ...Object.values(flags).map((flag: Flag) => flagLine(`--${flag.name} ${flag.value}`, flag.description)),
  flagLine("--help", "Show this text."),
  ""
].join("\n")

/**
 * The flag an option came from (`requestsPerMinute` → `--rpm`), for a message about a refused value.
 *
 * @since 0.1.0
 * @category utils
 */
export const flagOfOption = (option: string): string | undefined => {
  const found = Object.values(flags).find((flag: Flag) => flag.option === option)
  return found === undefined ? undefined : `--${found.name}`
}

/**
 * A refused option named by the flag the user typed: `--rpm: expected ...`, `--fault: [0].afterFrames: ...`.
 *
 * @since 0.1.0
 * @category utils
 */
export const describeIssue = ({ message, option }: { readonly option: string; readonly message: string }): string => {
  const root = /^[A-Za-z]+/.exec(option)?.[0] ?? option
  const flag = flagOfOption(root)
  const problem = message.length > 0 ? `${message[0].toLowerCase()}${message.slice(1)}` : message
  if (flag === undefined) return `${option}: ${problem}`
  return option === root
    ? `${flag}: ${problem}`
    : `${flag}: ${option.slice(root.length).replace(/^\./, "")}: ${problem}`
}

/**
 * The message of the options the simulator refused, each named by its flag.
 *
 * @since 0.1.0
 * @category utils
 */
export const describeIssues = (issues: ReadonlyArray<{ readonly option: string; readonly message: string }>): string =>
  `invalid simulator options: ${issues.map(describeIssue).join("; ")}`
