/**
 * The `genesys-llm` command: `chat`, `serve`, `simulator` and `audit verify`, built with `@effect/cli`.
 *
 * `run(argv)` parses a command line, runs it and gives its exit code; it never fails. Every failure leaves one
 * line on stderr (`genesys-llm: ...`) that names the problem, never a stack trace or a secret; log lines go to
 * stderr too, so stdout holds only what a command prints (the answer, the JSON summary, the simulator's URL, the
 * verdict of `audit verify`, help).
 *
 * ```ts
 * // bin.ts
 * Cli.run(process.argv).pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Terminal from "@effect/platform/Terminal"
import * as Cause from "effect/Cause"
import type * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"
import * as ExitCode from "./ExitCode.js"
import * as Commands from "./internal/commands.js"
import * as Help from "./internal/help.js"
import * as Output from "./internal/output.js"
import * as Spec from "./internal/spec.js"
import { oneLine, stripAnsi } from "./internal/text.js"

/**
 * @since 0.1.0
 * @category models
 */
export const name = Output.programName

/**
 * @since 0.1.0
 * @category models
 */
export const version = "0.1.0"

/**
 * The environment variables `chat` reads (flags win over them), with what they mean.
 *
 * @since 0.1.0
 * @category models
 */
export const environment: ReadonlyArray<readonly [variable: string, meaning: string]> = [
  ["GENESYS_CLIENT_ID", "OAuth client id (required by chat; missing: exit 5). Also the simulator's accepted id."],
  ["GENESYS_CLIENT_SECRET", "OAuth client secret (required by chat; missing: exit 5); never printed."],
  ["GENESYS_ENV", "Region domain: login at https://login.ENV, API at https://api.ENV (default mypurecloud.com)."],
  ["GENESYS_API_URL", "API base URL override (--api-url wins); alone it serves for login too."],
  ["GENESYS_LOGIN_URL", "Login base URL override (--login-url wins)."],
  ["LLM_AUDIT_LOG_PATH", "Audit log file (--audit-log wins; default ./llm-audit.log)."],
  ["COST_TRACKING_WEBHOOK", "Metrics webhook URL (--webhook wins; none when unset)."],
  ["COST_TRACKING_OUTBOX_PATH", "Where undelivered webhook events wait (default ./llm-webhook-outbox.jsonl)."],
  [
    "GENESYS_LLM_DATABASE_URL",
    "PostgreSQL URL (--database-url wins): the audit chain and the webhook outbox go to its tables; never printed."
  ],
  ["GENESYS_LLM_REDIS_URL", "Redis shared with other instances for the token and the rate budget (--redis-url wins)."],
  ["GENESYS_LLM_REDIS_PREFIX", "The start of every Redis key (default genesys-llm:)."],
  ["GENESYS_LLM_REDIS_TOKEN_KEY", "32 bytes (hex or base64) to keep the token encrypted in Redis; never printed."],
  ["LLM_MAX_LATENCY_MS", "Time to the first frame before the fallback (--max-latency wins; default 5000)."],
  ["LLM_FALLBACK_TEXT", "The fallback text (--fallback wins)."],
  ["LLM_MAX_ATTEMPTS", "Attempts before giving up on retryable failures (default 3)."],
  ["LLM_FRAME_GAP_MS", "Longest silence once the answer started (default 10000)."],
  ["LLM_CALL_TIMEOUT_MS", "Bound on the whole call (default 60000)."],
  ["LLM_MAX_FRAME_BYTES", "Largest accepted frame line (default 1048576)."],
  ["LLM_CONTEXT_BUDGET_RATIO", "Context budget as a share of maxTokens (default 0.8)."],
  ["LLM_CONTEXT_BUDGET_TOKENS", "Context budget in tokens, instead of the ratio."],
  ["LLM_SAFETY_BLOCK_RULES", "Safety rule ids to enable with the action block (comma-separated)."],
  ["LLM_SAFETY_REDACT_RULES", "Safety rule ids to enable with the action redact, e.g. email,phone-number."],
  ["LLM_SAFETY_DISABLED_RULES", "Safety rule ids to turn off (comma-separated)."],
  ["LLM_CONTEXT_MAX_MESSAGES", "Context messages kept, the newest (default 25)."],
  ["LLM_CONTEXT_TOO_MANY_MESSAGES", "drop (default) the older messages beyond it, or reject the payload."],
  ["GENESYS_LLM_SERVE_HOST", "serve: interface to listen on (--host wins; default 127.0.0.1)."],
  ["GENESYS_LLM_SERVE_PORT", "serve: port (--port wins; default 8080)."],
  ["GENESYS_LLM_SERVE_API_KEYS", "serve: accepted API keys, comma-separated (--api-key wins); never printed."],
  ["GENESYS_LLM_SERVE_MODEL", "serve: model id (--model wins; default genesys-default)."],
  ["GENESYS_LLM_SERVE_MAX_BODY_BYTES", "serve: largest request body (--max-body-bytes wins; default 65536)."],
  ["GENESYS_LLM_SERVE_BODY_TIMEOUT_MS", "serve: deadline of a request body (--body-timeout wins; default 10000)."],
  ["GENESYS_LLM_SERVE_MAX_IN_FLIGHT", "serve: most calls in flight (--max-in-flight wins; default 256)."],
  ["GENESYS_LLM_SERVE_DRAIN_TIMEOUT", "serve: seconds to drain on SIGTERM (--drain-timeout wins; default 30)."],
  ["GENESYS_LLM_SERVE_SIMULATED", "serve: 1 or true answers from an in-process simulator (as --simulated)."]
]

/**
 * The exit codes, with what they mean.
 *
 * @since 0.1.0
 * @category models
 */
export const exitCodes: ReadonlyArray<readonly [code: number, meaning: string]> = [
  [0, "success; for chat also a fallback; for audit verify an intact log"],
  [1, "anything else: an unexpected failure, an audit log chat cannot open; for audit verify a broken log"],
  [
    2,
    "invalid input: the payload (validation, context overflow, a bad key), its file (missing, not JSON), a flag, " +
    "a setting, the command line; for audit verify an unreadable log"
  ],
  [3, "blocked by the safety policy (nothing was sent)"],
  [4, "gateway failure: rejected, retries exhausted, a malformed answer, a timeout, a stream broken after text"],
  [5, "authentication or authorization failure, or GENESYS_CLIENT_ID/GENESYS_CLIENT_SECRET not set"],
  [130, "interrupted (Ctrl-C) during chat or audit verify"]
]

const root = Spec.make({
  name: Output.programName,
  summary: "Send prompts through the Genesys Cloud LLM gateway pipeline, run its simulator, check audit logs.",
  subcommands: [Commands.chat, Commands.serve, Commands.simulator, Commands.audit, Commands.db]
})

// The deepest command a command line names, and its words from the program down (`genesys-llm audit verify`).
const commandOf = (args: ReadonlyArray<string>) => {
  const path: Array<string> = [name]
  let spec: Spec.Spec = root
  for (const arg of args) {
    if (spec.subcommands.length === 0) break
    const sub = spec.subcommands.find((candidate) => candidate.name === arg)
    if (sub !== undefined) {
      path.push(sub.name)
      spec = sub
    }
  }
  return { path, spec }
}

/**
 * The help of a command line that asks for it (`--help` or `-h` anywhere): the help of the deepest command it
 * names, or of the program. `undefined` when it does not ask.
 *
 * @since 0.1.0
 * @category utils
 */
export const helpFor = (args: ReadonlyArray<string>): string | undefined => {
  if (!args.some((arg) => arg === "--help" || arg === "-h")) return undefined
  const { path, spec } = commandOf(args)
  return `${Help.render(path, spec)}
Environment:
${Help.table(environment)}

Exit codes:
${Help.table(exitCodes.map(([code, meaning]) => [String(code), meaning] as const))}

Run \`${name} COMMAND --help\` for a command's options; \`${name} --version\` prints the version;
\`${name} --log-level debug COMMAND ...\` adds the library's debug lines on stderr.
`
}

// A command whose work lives in a module imported when the command runs: `--help`, a usage error or another
// command never load the pipeline, the simulator or the audit reader. A new command is one more line below: its
// spec in internal/commands.ts, its module loaded here.
const lazy = <F extends Spec.Flags, P extends Spec.Positionals, E, R>(
  spec: Spec.Spec<F, P>,
  load: Effect.Effect<(parsed: Spec.Parsed<F, P>) => Effect.Effect<void, E, R>>
) => Spec.command(spec, (parsed) => Effect.flatMap(load, (run) => run(parsed)))

/**
 * The root command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(name).pipe(
  Command.withDescription(root.summary),
  Command.withSubcommands([
    lazy(Commands.chat, Effect.map(Effect.promise(() => import("./Chat.js")), (Chat) => Chat.run)),
    lazy(Commands.serve, Effect.map(Effect.promise(() => import("./Serve.js")), (Serve) => Serve.run)),
    lazy(
      Commands.simulator,
      Effect.map(Effect.promise(() => import("./Simulator.js")), (Simulator) => Simulator.execute)
    ),
    Command.make(Commands.audit.name).pipe(
      Command.withDescription(Commands.audit.summary),
      Command.withSubcommands([
        lazy(
          Commands.auditVerify,
          Effect.map(Effect.promise(() => import("./Audit.js")), (Audit) => Audit.run)
        )
      ])
    ),
    Command.make(Commands.db.name).pipe(
      Command.withDescription(Commands.db.summary),
      Command.withSubcommands([
        lazy(Commands.dbMigrate, Effect.map(Effect.promise(() => import("./Db.js")), (Db) => Db.migrate))
      ])
    )
  ])
)

const strip = (value: unknown): unknown => typeof value === "string" ? stripAnsi(value) : value

// The console the parser sees: its own error printing is dropped (`run` prints one line instead), and what it
// prints itself (its built-in options) loses its colours.
const parserConsole = (console: Console.Console): Console.Console => ({
  ...console,
  error: () => Effect.void,
  log: (...args) => console.log(...args.map(strip)),
  unsafe: {
    ...console.unsafe,
    error: () => {},
    log: (...args) => console.unsafe.log(...args.map(strip))
  }
})

const levelName = (level: LogLevel.LogLevel): string => level._tag.toLowerCase()

// Log lines on stderr, one line each: stdout is for the command's output only.
const stderrLogger = (console: Console.Console) =>
  Logger.make(({ annotations, logLevel, message }) => {
    const show = (value: unknown) => typeof value === "string" ? value : JSON.stringify(value)
    const parts = (Array.isArray(message) ? message : [message]).map(show)
    const fields = [...HashMap.entries(annotations)].map(([key, value]) => `${key}=${show(value)}`)
    const suffix = fields.length > 0 ? ` (${fields.join(" ")})` : ""
    console.unsafe.error(`${name}: ${levelName(logLevel)}: ${oneLine(parts.join(" "))}${suffix}`)
  })

const usageLine = (error: ValidationError.ValidationError, args: ReadonlyArray<string>): string => {
  const text = oneLine(HelpDoc.toAnsiText(error.error))
  return `${text.length > 0 ? text : "invalid command line"} (see ${commandOf(args).path.join(" ")} --help)`
}

const describeDefect = (cause: Cause.Cause<unknown>): string => {
  const defect = Cause.squash(cause)
  const message = defect instanceof Error ? defect.message : String(defect)
  return `unexpected failure: ${oneLine(message).slice(0, 300)}`
}

/**
 * Parses a command line (`[runtime, script, ...args]`, as `process.argv`), runs it, prints every failure as one
 * stderr line, and gives the exit code. Only an interruption ends it otherwise. `--help` (the help of the command
 * named) and `--version` are answered before the parser runs.
 *
 * @since 0.1.0
 * @category utils
 */
export const run = (
  argv: ReadonlyArray<string>
): Effect.Effect<ExitCode.ExitCode, never, FileSystem.FileSystem | Path.Path | Terminal.Terminal> =>
  Effect.gen(function*() {
    const console = yield* Effect.console
    const output = yield* Output.make(console)
    const args = argv.slice(2)
    const help = helpFor(args.length === 0 ? ["--help"] : args)
    if (help !== undefined) return yield* Effect.as(output.out(help), ExitCode.ExitCode.Success)
    if (args.length === 1 && args[0] === "--version") {
      return yield* Effect.as(output.out(`${version}\n`), ExitCode.ExitCode.Success)
    }
    const cli = Command.run(command, { name, version })
    return yield* cli(argv).pipe(
      Effect.provideService(Output.Output, output),
      Effect.provide(CliConfig.layer({ showBuiltIns: false })),
      Effect.withConsole(parserConsole(console)),
      // Whatever loggers the runtime installed (the default one, `runMain`'s pretty one), log lines go to stderr only.
      Effect.provide(Layer.merge(
        Logger.replace(Logger.defaultLogger, stderrLogger(console)),
        Logger.remove(Logger.prettyLoggerDefault)
      )),
      Effect.as<ExitCode.ExitCode>(ExitCode.ExitCode.Success),
      Effect.catchAll((error) =>
        ValidationError.isValidationError(error)
          ? Effect.as(output.err(usageLine(error, args)), ExitCode.ExitCode.InvalidInput)
          : Effect.as(output.err(error.message), error.exitCode)
      ),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause)
          : Effect.as(output.err(describeDefect(cause)), ExitCode.ExitCode.Failure)
      )
    )
  })
