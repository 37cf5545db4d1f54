/**
 * `genesys-llm simulator`: starts the gateway simulator of `@genesys-llm/simulator` (`GatewaySimulator.serve`),
 * prints its URL as the first line of stdout and runs until SIGINT or SIGTERM.
 *
 * @since 0.1.0
 */
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as SimulatorFlags from "@genesys-llm/simulator/Flags"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as ExitCode from "./ExitCode.js"
import * as Commands from "./internal/commands.js"
import * as Spec from "./internal/spec.js"

/**
 * The parsed flags of `simulator`: one per entry of the simulator's flag table (`@genesys-llm/simulator/Flags`).
 *
 * @since 0.1.0
 * @category models
 */
export type Flags = Spec.Parsed<typeof Commands.simulator.flags, {}>

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
    const options: Record<string, unknown> = {}
    const given: Readonly<Record<string, unknown>> = flags
    for (const [key, flag] of Object.entries(SimulatorFlags.flags)) {
      const value = given[key]
      if (flag.kind === "jsons") {
        const faults: Array<unknown> = []
        for (const raw of value as ReadonlyArray<string>) {
          const parsed = yield* parseJson(`--${flag.name}`, raw)
          if (Array.isArray(parsed)) faults.push(...parsed)
          else faults.push(parsed)
        }
        if (faults.length > 0) options[flag.option] = faults
      } else if (Option.isOption(value) && Option.isSome(value)) {
        options[flag.option] = flag.kind === "json"
          ? yield* parseJson(`--${flag.name}`, value.value as string)
          : value.value
      }
    }
    const env = yield* Config.all({
      id: nonEmptyEnv("GENESYS_CLIENT_ID"),
      secret: nonEmptyEnv("GENESYS_CLIENT_SECRET")
    })
      .pipe(Effect.mapError(ExitCode.ofConfigError))
    if (options.clientId === undefined && Option.isSome(env.id)) options.clientId = env.id.value
    if (options.clientSecret === undefined && Option.isSome(env.secret)) {
      options.clientSecret = Redacted.make(env.secret.value)
    }
    // The shapes are checked by the simulator's own schema (`decodeOptions`), which names each bad option.
    return options as GatewaySimulator.OptionsInput
  })

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
            ? SimulatorFlags.describeIssues(error.issues)
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
