/**
 * The surface of every command: names, summaries, flags and their help. It imports nothing but the command line
 * parser and the simulator's flag table (which imports nothing), so that `--help`, a usage error and the choice of
 * a command cost no more than this; what a command does lives in its own module (`Chat.ts`, `Simulator.ts`, `Audit.ts`), loaded when it runs.
 *
 * @internal
 */
import * as SimulatorFlags from "@genesys-llm/simulator/Flags"
import type * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Spec from "./spec.js"

/** @internal */
export const defaultTemperature = 0.2

/** @internal */
export const defaultMaxTokens = 1024

/** The `--redis-url` flag of the commands that share the token and the rate budget. @internal */
export const redisUrl = () =>
  Spec.secret(
    "redis-url",
    "URL",
    "Share the OAuth token and the rate budget with other instances through this Redis (redis://host:port). " +
      "Default: $GENESYS_LLM_REDIS_URL; none when unset. Not reachable at start: exit 1."
  )

/** The `--database-url` flag of the commands that use PostgreSQL. @internal */
export const databaseUrl = (what: string) =>
  Spec.secret(
    "database-url",
    "URL",
    `PostgreSQL database URL (postgres://...), never printed; ${what} Default: $GENESYS_LLM_DATABASE_URL.`
  )

/** @internal */
/** The options of the pipeline, shared by `chat` and `serve`. @internal */
const pipelineFlags = {
  apiUrl: Spec.text(
    "api-url",
    "URL",
    "Gateway API base URL, instead of $GENESYS_API_URL or https://api.$GENESYS_ENV. Given alone, it serves for " +
      "login too (a simulator, a proxy)."
  ),
  loginUrl: Spec.text(
    "login-url",
    "URL",
    "OAuth login base URL, instead of $GENESYS_LOGIN_URL, the --api-url, or https://login.$GENESYS_ENV."
  ),
  auditLog: Spec.text(
    "audit-log",
    "PATH",
    "The hash-chained audit log to append to. Default: $LLM_AUDIT_LOG_PATH or ./llm-audit.log."
  ),
  databaseUrl: databaseUrl(
    "the audit chain and the webhook outbox go to its tables, shared by every instance, instead of files."
  ),
  webhook: Spec.text(
    "webhook",
    "URL",
    "Cost-tracking webhook that gets each call's metrics event. Default: $COST_TRACKING_WEBHOOK; none when unset."
  ),
  maxLatency: Spec.integer(
    "max-latency",
    "MS",
    "Milliseconds to the first frame, retries included, before the fallback text is given. Default: " +
      "$LLM_MAX_LATENCY_MS or 5000."
  ),
  fallback: Spec.text("fallback", "TEXT", "The fallback text. Default: $LLM_FALLBACK_TEXT or the built-in one."),
  redisUrl: redisUrl()
}

export const chat = Spec.make({
  name: "chat",
  summary: "Send one prompt through the pipeline (validation, context window, safety policy, gateway, fallback, " +
    "audit) and stream the answer to stdout, or print one JSON object with --json.",
  synopsis: [
    "--payload FILE [options]",
    "--model ID [--system TEXT]... --user TEXT [--user TEXT]... [--temperature T] [--max-tokens N] [options]"
  ],
  flags: {
    payload: Spec.text(
      "payload",
      "FILE",
      "A PromptPayload as JSON ({systemInstructions, context, temperature, maxTokens, modelId}); - reads stdin. " +
        "Not with --model, --system, --user, --temperature or --max-tokens."
    ),
    model: Spec.text("model", "ID", "Build the payload from flags: the model id."),
    system: Spec.texts("system", "TEXT", "A system instruction of the built payload (repeatable, in order)."),
    user: Spec.texts(
      "user",
      "TEXT",
      "A user message of the built payload's context (repeatable, in order; at least one with --model)."
    ),
    temperature: Spec.number(
      "temperature",
      "T",
      `Temperature of the built payload, 0 to 2. Default: ${defaultTemperature}.`
    ),
    maxTokens: Spec.integer(
      "max-tokens",
      "N",
      `maxTokens of the built payload, 1 to 4096; the context budget is 80% of it. Default: ${defaultMaxTokens}.`
    ),
    ...pipelineFlags,
    json: Spec.boolean(
      "json",
      "Print only one JSON object at the end, whatever the outcome: {status, text, tokensUsed, latencyMs, attempts, " +
        "idempotencyKey, droppedContextMessages, fallbackReason?, error?} (fallbackReason on a fallback: deadline, " +
        "rate-limited or circuit-open). Without it the answer is streamed as it arrives."
    )
  },
  notes: [
    "Credentials come from GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET. Flags win over the environment. Ctrl-C " +
    "cancels the call (recorded as cancelled) and exits 130."
  ]
})

type SimulatorFlag<K extends SimulatorFlags.Kind> = K extends "text" | "json" ? Spec.Flag<Option.Option<string>>
  : K extends "secret" ? Spec.Flag<Option.Option<Redacted.Redacted<string>>>
  : K extends "integer" | "number" ? Spec.Flag<Option.Option<number>>
  : Spec.Flag<ReadonlyArray<string>>

const simulatorFlag = (flag: SimulatorFlags.Flag): Spec.Flag<unknown> => {
  switch (flag.kind) {
    case "text":
    case "json":
      return Spec.text(flag.name, flag.value, flag.description)
    case "secret":
      return Spec.secret(flag.name, flag.value, flag.description)
    case "integer":
      return Spec.integer(flag.name, flag.value, flag.description)
    case "number":
      return Spec.number(flag.name, flag.value, flag.description)
    case "jsons":
      return Spec.texts(flag.name, flag.value, flag.description)
  }
}

/** The parser's flags of a flag table, one per entry, under the same keys. */
const simulatorFlagsOf = <T extends Readonly<Record<string, SimulatorFlags.Flag>>>(table: T) =>
  Object.fromEntries(Object.entries(table).map(([key, flag]) => [key, simulatorFlag(flag)])) as {
    readonly [K in keyof T]: SimulatorFlag<T[K]["kind"]>
  }

/**
 * The simulator's flags and help come from the simulator's own table (`@genesys-llm/simulator/Flags`), as its
 * bin's do.
 *
 * @internal
 */
export const simulator = Spec.make({
  name: "simulator",
  summary: SimulatorFlags.summary,
  flags: simulatorFlagsOf(SimulatorFlags.flags)
})

/** @internal */
export const auditVerify = Spec.make({
  name: "verify",
  summary: "Check a hash-chained audit log, a file or the audit_entries table of a PostgreSQL database: exit 0 " +
    "when intact, 1 naming the first bad line (row) and why, 2 when it cannot be read.",
  flags: { databaseUrl: databaseUrl("check its audit_entries table instead of a file.") },
  positionals: {
    path: Spec.optionalPositional("[PATH]", "The audit log file (JSON lines). Not with --database-url.")
  }
})

/** @internal */
export const dbMigrate = Spec.make({
  name: "migrate",
  summary: "Create or update the tables of the PostgreSQL audit chain and webhook outbox (idempotent: a second " +
    "run changes nothing). exit 0 done, 1 the database cannot be reached or refused, 2 a bad URL.",
  flags: { databaseUrl: databaseUrl("the database to migrate.") }
})

/** @internal */
export const db = Spec.make({ name: "db", summary: "PostgreSQL database tools.", subcommands: [dbMigrate] })

/** @internal */
export const audit = Spec.make({ name: "audit", summary: "Audit log tools.", subcommands: [auditVerify] })

/** @internal */
export const serve = Spec.make({
  name: "serve",
  summary: "Serve the Genesys Cloud Data Action endpoint (POST /data-action/reply) over the pipeline, with " +
    "/healthz, /readyz and /metrics; print its URL as the first line of stdout; drain and exit 0 on SIGTERM or " +
    "SIGINT.",
  flags: {
    host: Spec.text(
      "host",
      "HOST",
      "Interface to listen on. Without an API key only loopback is allowed. Default: $GENESYS_LLM_SERVE_HOST or " +
        "127.0.0.1."
    ),
    port: Spec.integer(
      "port",
      "PORT",
      "Port to listen on; 0 picks a free one (the URL printed says which). Default: $GENESYS_LLM_SERVE_PORT or 8080."
    ),
    apiKey: Spec.texts(
      "api-key",
      "KEY",
      "A key callers must send in X-API-Key or as the HTTP Basic password (repeatable: every key given is valid, " +
        "for rotation). Default: $GENESYS_LLM_SERVE_API_KEYS, comma-separated. Never printed."
    ),
    model: Spec.text(
      "model",
      "ID",
      "The model id sent to the gateway. Default: $GENESYS_LLM_SERVE_MODEL or genesys-default."
    ),
    ...pipelineFlags,
    maxBodyBytes: Spec.integer(
      "max-body-bytes",
      "N",
      "Largest request body; a larger one is refused with 413 as soon as the limit is passed. Default: " +
        "$GENESYS_LLM_SERVE_MAX_BODY_BYTES or 65536."
    ),
    bodyTimeout: Spec.integer(
      "body-timeout",
      "MS",
      "Milliseconds a request body may take to arrive before 408. Default: $GENESYS_LLM_SERVE_BODY_TIMEOUT_MS or " +
        "10000."
    ),
    maxInFlight: Spec.integer(
      "max-in-flight",
      "N",
      "Most calls in flight; past it a call is refused at once with 503 and Retry-After. Default: " +
        "$GENESYS_LLM_SERVE_MAX_IN_FLIGHT or 256."
    ),
    drainTimeout: Spec.integer(
      "drain-timeout",
      "SECS",
      "On SIGTERM or SIGINT, seconds the calls in flight get to finish before they are cut (recorded as " +
        "cancelled). Default: $GENESYS_LLM_SERVE_DRAIN_TIMEOUT or 30."
    ),
    simulated: Spec.boolean(
      "simulated",
      "Answer from a gateway simulator started in this process (no account needed; credentials not read). " +
        "Default: $GENESYS_LLM_SERVE_SIMULATED=1."
    )
  },
  notes: [
    "Credentials come from GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET (not with --simulated). Flags win over the " +
    "environment. One JSON log line per request goes to stderr (request id, route, status, latency, idempotency " +
    "key, call status; never a body, a key or a token)."
  ]
})
