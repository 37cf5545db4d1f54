/**
 * The surface of every command: names, summaries, flags and their help. It imports nothing but the command line
 * parser, so that `--help`, a usage error and the choice of a command cost no more than this; what a command does
 * lives in its own module (`Chat.ts`, `Simulator.ts`, `Audit.ts`), loaded when it runs.
 *
 * @internal
 */
import * as Spec from "./spec.js"

/** @internal */
export const defaultTemperature = 0.2

/** @internal */
export const defaultMaxTokens = 1024

/** @internal */
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
    webhook: Spec.text(
      "webhook",
      "URL",
      "Cost-tracking webhook that gets the call's metrics event. Default: $COST_TRACKING_WEBHOOK; none when unset."
    ),
    maxLatency: Spec.integer(
      "max-latency",
      "MS",
      "Milliseconds to the first frame, retries included, before the fallback text is given. Default: " +
        "$LLM_MAX_LATENCY_MS or 5000."
    ),
    fallback: Spec.text("fallback", "TEXT", "The fallback text. Default: $LLM_FALLBACK_TEXT or the built-in one."),
    json: Spec.boolean(
      "json",
      "Print only one JSON object at the end, whatever the outcome: {status, text, tokensUsed, latencyMs, attempts, " +
        "idempotencyKey, droppedContextMessages, error?}. Without it the answer is streamed as it arrives."
    )
  },
  notes: [
    "Credentials come from GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET. Flags win over the environment. Ctrl-C " +
    "cancels the call (recorded as cancelled) and exits 130."
  ]
})

/** @internal */
export const simulator = Spec.make({
  name: "simulator",
  summary: "Start the gateway simulator, print its URL as the first line of stdout, and run until SIGINT or " +
    "SIGTERM (then exit 0).",
  flags: {
    host: Spec.textOr("host", "HOST", "127.0.0.1", "Interface to listen on."),
    port: Spec.integerOr("port", "PORT", 0, "Port to listen on; 0 picks a free one (the URL printed says which)."),
    clientId: Spec.text(
      "client-id",
      "ID",
      "Accepted client id. Default: $GENESYS_CLIENT_ID or simulator-client."
    ),
    clientSecret: Spec.secret(
      "client-secret",
      "SECRET",
      "Accepted client secret. Default: $GENESYS_CLIENT_SECRET or simulator-secret."
    ),
    tokenLifetime: Spec.integer("token-lifetime", "SECS", "expires_in of issued tokens. Default: 86400."),
    rpm: Spec.integer("rpm", "N", "Chat requests a token may make a minute before a 429. Default: 300."),
    paceMs: Spec.integer("pace-ms", "MS", "Pause between frames. Default: 0."),
    frameChars: Spec.integer("frame-chars", "N", "Most characters a content frame carries. Default: 16."),
    replyText: Spec.text("reply-text", "TEXT", "A fixed reply instead of the one derived from the prompt."),
    replyBytes: Spec.integer("reply-bytes", "N", "A generated reply of exactly N bytes (benchmarks)."),
    chatPath: Spec.text("chat-path", "PATH", "The chat route. Default: /api/v2/ai/llm-gateway/chat."),
    fault: Spec.texts(
      "fault",
      "JSON",
      "Queue a fault, or a JSON array of faults (repeatable, in order), e.g. {\"kind\":\"status\",\"status\":503}, " +
        "{\"kind\":\"delay\",\"ms\":3000}, {\"kind\":\"stall\",\"afterFrames\":2}."
    ),
    faultRate: Spec.number(
      "fault-rate",
      "P",
      "Probability 0..1 that a request draws a fault from the pool. Default: 0."
    ),
    faultPool: Spec.text(
      "fault-pool",
      "JSON",
      "JSON array of faults the rate draws from. Default: a 429, a 500, a 503."
    ),
    seed: Spec.integer("seed", "N", "Seed of the fault rate's random source. Default: 0.")
  }
})

/** @internal */
export const auditVerify = Spec.make({
  name: "verify",
  summary: "Check a hash-chained audit log: exit 0 when intact, 1 naming the first bad line and why, 2 when it " +
    "cannot be read.",
  positionals: { path: Spec.positional("PATH", "The audit log file (JSON lines).") }
})

/** @internal */
export const audit = Spec.make({ name: "audit", summary: "Audit log tools.", subcommands: [auditVerify] })
