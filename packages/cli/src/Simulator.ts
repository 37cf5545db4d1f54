/**
 * `genesys-llm simulator`: starts the gateway simulator of `@genesys-llm/simulator` (`GatewaySimulator.serve`),
 * prints its URL as the first line of stdout and runs until SIGINT or SIGTERM.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as ExitCode from "./ExitCode.js"

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
    const set = (key: string, value: Option.Option<unknown>) => {
      if (Option.isSome(value)) options[key] = value.value
    }
    set("clientId", clientId)
    set("clientSecret", clientSecret)
    set("tokenLifetimeSeconds", flags.tokenLifetime)
    set("requestsPerMinute", flags.rpm)
    set("paceMs", flags.paceMs)
    set("frameChars", flags.frameChars)
    set("replyText", flags.replyText)
    set("replyBytes", flags.replyBytes)
    set("chatPath", flags.chatPath)
    set("faultRate", flags.faultRate)
    set("seed", flags.seed)
    if (faults.length > 0) options.faults = faults
    if (pool !== undefined) options.faultPool = pool
    // The shapes are checked by the simulator's own schema (`decodeOptions`), which names each bad option.
    return options as GatewaySimulator.OptionsInput
  })

/**
 * Runs the simulator until interrupted. Options the simulator rejects exit 2; a port it cannot listen on exits 1.
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
          message: error.message
        })
      )
    ))

const integer = (name: string, pseudo: string, description: string) =>
  Options.integer(name).pipe(Options.withPseudoName(pseudo), Options.withDescription(description), Options.optional)

const text = (name: string, pseudo: string, description: string) =>
  Options.text(name).pipe(Options.withPseudoName(pseudo), Options.withDescription(description), Options.optional)

/**
 * The `simulator` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("simulator", {
  host: Options.text("host").pipe(
    Options.withPseudoName("HOST"),
    Options.withDescription("Interface to listen on."),
    Options.withDefault("127.0.0.1")
  ),
  port: Options.integer("port").pipe(
    Options.withPseudoName("PORT"),
    Options.withDescription("Port to listen on; 0 picks a free one (the URL printed says which)."),
    Options.withDefault(0)
  ),
  clientId: text("client-id", "ID", "Accepted client id (default $GENESYS_CLIENT_ID or simulator-client)."),
  clientSecret: Options.redacted("client-secret").pipe(
    Options.withPseudoName("SECRET"),
    Options.withDescription("Accepted client secret (default $GENESYS_CLIENT_SECRET or simulator-secret)."),
    Options.optional
  ),
  tokenLifetime: integer("token-lifetime", "SECS", "expires_in of issued tokens (default 86400)."),
  rpm: integer("rpm", "N", "Chat requests a token may make a minute before 429 (default 300)."),
  paceMs: integer("pace-ms", "MS", "Pause between frames (default 0)."),
  frameChars: integer("frame-chars", "N", "Most characters a content frame carries (default 16)."),
  replyText: text("reply-text", "TEXT", "A fixed reply instead of the one derived from the prompt."),
  replyBytes: integer("reply-bytes", "N", "A generated reply of exactly N bytes (benchmarks)."),
  chatPath: text("chat-path", "PATH", "The chat route (default /api/v2/ai/llm-gateway/chat)."),
  fault: Options.text("fault").pipe(
    Options.withPseudoName("JSON"),
    Options.withDescription(
      "Queue a fault, or a JSON array of faults (repeatable), e.g. {\"kind\":\"status\",\"status\":503}, " +
        "{\"kind\":\"delay\",\"ms\":3000}, {\"kind\":\"stall\",\"afterFrames\":2}."
    ),
    Options.repeated
  ),
  faultRate: Options.float("fault-rate").pipe(
    Options.withPseudoName("P"),
    Options.withDescription("Probability 0..1 that a request draws a fault from the pool (default 0)."),
    Options.optional
  ),
  faultPool: text("fault-pool", "JSON", "JSON array of faults the rate draws from (default a 429, a 500, a 503)."),
  seed: integer("seed", "N", "Seed of the fault rate's random source (default 0).")
}, execute).pipe(
  Command.withDescription("Start the gateway simulator; print its URL as the first line of stdout; stop on SIGINT.")
)
