/**
 * `genesys-llm simulator`: starts the gateway simulator of `@genesys-llm/simulator` (`GatewaySimulator.serve`),
 * prints its URL as the first line of stdout and runs until SIGINT or SIGTERM.
 *
 * @since 0.1.0
 */
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as ExitCode from "./ExitCode.js"
import * as Commands from "./internal/commands.js"
import * as Spec from "./internal/spec.js"

/**
 * The parsed flags of `simulator`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Flags {
  readonly host: string
  readonly port: number
  readonly clientId: Option.Option<string>
  readonly clientSecret: Option.Option<Redacted.Redacted<string>>
  readonly tokenLifetime: Option.Option<number>
  readonly rpm: Option.Option<number>
  readonly paceMs: Option.Option<number>
  readonly frameChars: Option.Option<number>
  readonly replyText: Option.Option<string>
  readonly replyBytes: Option.Option<number>
  readonly chatPath: Option.Option<string>
  readonly fault: ReadonlyArray<string>
  readonly faultRate: Option.Option<number>
  readonly faultPool: Option.Option<string>
  readonly seed: Option.Option<number>
}

const usage = (message: string) =>
  new ExitCode.CliFailure({ exitCode: ExitCode.ExitCode.InvalidInput, reason: "UsageError", message })

const parseJson = (flag: string, value: string): Effect.Effect<unknown, ExitCode.CliFailure> =>
  Effect.try({
    try: () => JSON.parse(value) as unknown,
    catch: () => usage(`${flag} expects JSON, got ${JSON.stringify(value.slice(0, 80))}`)
  })

const nonEmptyEnv = (name: string) =>
  Config.option(Config.string(name)).pipe(Config.map(Option.filter((value) => value.length > 0)))

/**
 * The simulator's options from the flags; the accepted credentials default to `GENESYS_CLIENT_ID` and
 * `GENESYS_CLIENT_SECRET` when set, as the simulator's own bin does. The simulator decodes and checks them.
 *
 * @since 0.1.0
 * @category utils
 */
export const optionsOf = (flags: Flags): Effect.Effect<GatewaySimulator.OptionsInput, ExitCode.CliFailure> =>
  Effect.gen(function*() {
    const faults: Array<unknown> = []
    for (const raw of flags.fault) {
      const parsed = yield* parseJson("--fault", raw)
      if (Array.isArray(parsed)) faults.push(...parsed)
      else faults.push(parsed)
    }
    const pool = Option.isSome(flags.faultPool) ? yield* parseJson("--fault-pool", flags.faultPool.value) : undefined
    const env = yield* Config.all({
      id: nonEmptyEnv("GENESYS_CLIENT_ID"),
      secret: nonEmptyEnv("GENESYS_CLIENT_SECRET")
    })
      .pipe(Effect.mapError(ExitCode.ofConfigError))
    const clientId = Option.orElse(flags.clientId, () => env.id)
    const clientSecret = Option.orElse(flags.clientSecret, () => Option.map(env.secret, Redacted.make))
    const options: Record<string, unknown> = { host: flags.host, port: flags.port }
    const given: ReadonlyArray<readonly [key: keyof GatewaySimulator.OptionsInput, value: Option.Option<unknown>]> = [
      ["clientId", clientId],
      ["clientSecret", clientSecret],
      ["tokenLifetimeSeconds", flags.tokenLifetime],
      ["requestsPerMinute", flags.rpm],
      ["paceMs", flags.paceMs],
      ["frameChars", flags.frameChars],
      ["replyText", flags.replyText],
      ["replyBytes", flags.replyBytes],
      ["chatPath", flags.chatPath],
      ["faultRate", flags.faultRate],
      ["seed", flags.seed]
    ]
    for (const [key, value] of given) {
      if (Option.isSome(value)) options[key] = value.value
    }
    if (faults.length > 0) options.faults = faults
    if (pool !== undefined) options.faultPool = pool
    // The shapes are checked by the simulator's own schema (`decodeOptions`), which names each bad option.
    return options as GatewaySimulator.OptionsInput
  })

// The flag each option comes from, so that a refused value is reported under the name the user typed.
const flagOf: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(
    {
      host: "host",
      port: "port",
      clientId: "clientId",
      clientSecret: "clientSecret",
      tokenLifetimeSeconds: "tokenLifetime",
      requestsPerMinute: "rpm",
      paceMs: "paceMs",
      frameChars: "frameChars",
      replyText: "replyText",
      replyBytes: "replyBytes",
      chatPath: "chatPath",
      faults: "fault",
      faultRate: "faultRate",
      faultPool: "faultPool",
      seed: "seed"
    } satisfies Partial<Record<keyof GatewaySimulator.OptionsInput, keyof typeof Commands.simulator.flags>>
  ).map((
    [key, flag]
  ) => [key, `--${Commands.simulator.flags[flag].help.name}`])
)

const describeIssue = ({ message, option }: GatewaySimulator.OptionIssue): string => {
  const root = /^[A-Za-z]+/.exec(option)?.[0] ?? option
  const flag = flagOf[root]
  const problem = message.length > 0 ? `${message[0].toLowerCase()}${message.slice(1)}` : message
  if (flag === undefined) return `${option}: ${problem}`
  return option === root
    ? `${flag}: ${problem}`
    : `${flag}: ${option.slice(root.length).replace(/^\./, "")}: ${problem}`
}

/**
 * Runs the simulator until interrupted. Options the simulator rejects exit 2, each named by its flag; a port it
 * cannot listen on exits 1.
 *
 * @since 0.1.0
 * @category utils
 */
export const execute = (flags: Flags): Effect.Effect<never, ExitCode.CliFailure> =>
  Effect.flatMap(optionsOf(flags), (options) =>
    GatewaySimulator.serve(options).pipe(
      Effect.mapError((error) =>
        new ExitCode.CliFailure({
          exitCode: error.reason === "InvalidOptions" ? ExitCode.ExitCode.InvalidInput : ExitCode.ExitCode.Failure,
          reason: `Simulator${error.reason}`,
          message: error.reason === "InvalidOptions" && error.issues.length > 0
            ? `invalid simulator options: ${error.issues.map(describeIssue).join("; ")}`
            : error.message
        })
      )
    ))

/**
 * The `simulator` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Spec.command(Commands.simulator, execute)
