// In-process checks of what the command reads before it runs: which setting wins (flags over the environment),
// how a payload is built from flags, and which exit code a configuration failure gets.
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Gateway, Pipeline, SafetyPolicy, Validation } from "@genesys-llm/core"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Chat from "../src/Chat.js"
import * as ExitCode from "../src/ExitCode.js"

const credentials = { GENESYS_CLIENT_ID: "client", GENESYS_CLIENT_SECRET: "secret-value" }

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const resolve = (env: Record<string, string>, overrides: Parameters<typeof Chat.config>[0] = {}) =>
  Chat.config(overrides).pipe(withEnv(env))

describe("chat settings", () => {
  it.effect("the region's hosts when nothing overrides them", () =>
    Effect.gen(function*() {
      const options = yield* resolve({ ...credentials, GENESYS_ENV: "mypurecloud.de" })
      assert.strictEqual(options.gateway.apiUrl, "https://api.mypurecloud.de")
      assert.strictEqual(options.gateway.loginUrl, "https://login.mypurecloud.de")
      assert.strictEqual(options.auditLogPath, "./llm-audit.log")
      assert.isUndefined(options.webhook)
    }))

  it.effect("--api-url alone serves for login too, over GENESYS_API_URL", () =>
    Effect.gen(function*() {
      const options = yield* resolve({ ...credentials, GENESYS_API_URL: "http://env-api" }, {
        apiUrl: "http://flag-api"
      })
      assert.strictEqual(options.gateway.apiUrl, "http://flag-api")
      assert.strictEqual(options.gateway.loginUrl, "http://flag-api")
    }))

  it.effect("GENESYS_LOGIN_URL keeps login apart from --api-url; --login-url wins over both", () =>
    Effect.gen(function*() {
      const env = { ...credentials, GENESYS_LOGIN_URL: "http://env-login" }
      const apart = yield* resolve(env, { apiUrl: "http://flag-api" })
      assert.strictEqual(apart.gateway.apiUrl, "http://flag-api")
      assert.strictEqual(apart.gateway.loginUrl, "http://env-login")
      const flagged = yield* resolve(env, { apiUrl: "http://flag-api", loginUrl: "http://flag-login" })
      assert.strictEqual(flagged.gateway.loginUrl, "http://flag-login")
    }))

  it.effect("flags win over LLM_MAX_LATENCY_MS, LLM_FALLBACK_TEXT, LLM_AUDIT_LOG_PATH and COST_TRACKING_WEBHOOK", () =>
    Effect.gen(function*() {
      const env = {
        ...credentials,
        LLM_MAX_LATENCY_MS: "4000",
        LLM_FALLBACK_TEXT: "env fallback",
        LLM_AUDIT_LOG_PATH: "/env/audit.log",
        COST_TRACKING_WEBHOOK: "http://env-hook",
        COST_TRACKING_OUTBOX_PATH: "/env/outbox.jsonl"
      }
      const fromEnv = yield* resolve(env)
      assert.strictEqual(fromEnv.gateway.maxLatencyMillis, 4000)
      assert.strictEqual(fromEnv.fallbackText, "env fallback")
      assert.strictEqual(fromEnv.auditLogPath, "/env/audit.log")
      assert.strictEqual(fromEnv.webhook?.outboxPath, "/env/outbox.jsonl")

      const flagged = yield* resolve(env, {
        maxLatencyMillis: 250,
        fallbackText: "flag fallback",
        auditLogPath: "/flag/audit.log",
        webhookUrl: Redacted.make("http://flag-hook")
      })
      assert.strictEqual(flagged.gateway.maxLatencyMillis, 250)
      assert.strictEqual(flagged.fallbackText, "flag fallback")
      assert.strictEqual(flagged.gateway.fallbackText, "flag fallback")
      assert.strictEqual(flagged.auditLogPath, "/flag/audit.log")
      const url = flagged.webhook?.url
      assert.strictEqual(url !== undefined && Redacted.isRedacted(url) ? Redacted.value(url) : url, "http://flag-hook")
      assert.strictEqual(flagged.webhook?.outboxPath, "/env/outbox.jsonl")
    }))

  it.effect("a webhook URL that is not http(s) exits 2 naming the variable, not its value", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(resolve({ ...credentials, COST_TRACKING_WEBHOOK: "ftp://user:pw@host" }))
      const failure = ExitCode.ofConfigError(error)
      assert.strictEqual(failure.exitCode, 2)
      assert.include(failure.message, "COST_TRACKING_WEBHOOK")
      assert.notInclude(failure.message, "pw@host")
    }))
})

describe("exit codes of configuration failures", () => {
  it.effect("missing credentials exit 5 and name both variables; the secret never appears", () =>
    Effect.gen(function*() {
      const none = ExitCode.ofConfigError(yield* Effect.flip(resolve({})))
      assert.strictEqual(none.exitCode, 5)
      assert.include(none.message, "GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET are not set")

      const noId = ExitCode.ofConfigError(yield* Effect.flip(resolve({ GENESYS_CLIENT_SECRET: "secret-value" })))
      assert.strictEqual(noId.exitCode, 5)
      assert.include(noId.message, "GENESYS_CLIENT_ID is not set")
      assert.notInclude(noId.message, "secret-value")

      const empty = ExitCode.ofConfigError(yield* Effect.flip(resolve({ ...credentials, GENESYS_CLIENT_SECRET: "" })))
      assert.strictEqual(empty.exitCode, 5)
      assert.include(empty.message, "GENESYS_CLIENT_SECRET")
    }))

  it.effect("any other bad setting exits 2 naming each variable", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(resolve({
        ...credentials,
        LLM_MAX_LATENCY_MS: "soon",
        GENESYS_ENV: "https://api.mypurecloud.com"
      }))
      const failure = ExitCode.ofConfigError(error)
      assert.strictEqual(failure.exitCode, 2)
      assert.strictEqual(failure.reason, "ConfigError")
      assert.include(failure.message, "LLM_MAX_LATENCY_MS")
      assert.include(failure.message, "GENESYS_ENV")
      assert.strictEqual(
        ExitCode.ofConfigError(ConfigError.MissingData(["LLM_AUDIT_LOG_PATH"], "missing")).message,
        "invalid configuration: LLM_AUDIT_LOG_PATH is not set"
      )
    }))

  it("each stage's failure has its exit code", () => {
    const failed = (status: Pipeline.FailureStatus, cause: Pipeline.StageError) =>
      ExitCode.ofPipelineError(
        new Pipeline.PipelineError({
          status,
          cause,
          idempotencyKey: "unknown",
          attempts: 0,
          latencyMs: 0,
          droppedContextMessages: 0
        })
      )
    assert.strictEqual(failed("invalid", new Validation.PromptValidationError({ issues: [] })), 2)
    assert.strictEqual(failed("blocked", new SafetyPolicy.SafetyViolation({ violations: [] })), 3)
    assert.strictEqual(failed("error", new Gateway.AuthenticationFailed({ source: "login", status: 401 })), 5)
    assert.strictEqual(
      failed("error", new Gateway.AuthorizationFailed({ status: 403, scope: "ai:llm-gateway:write", attempts: 1 })),
      5
    )
    assert.strictEqual(failed("error", new Gateway.GatewayRejected({ status: 422, attempts: 1 })), 4)
    assert.strictEqual(failed("error", new Gateway.RetriesExhausted({ attempts: 3, lastError: "HTTP 503" })), 4)
  })
})

describe("a payload from flags", () => {
  const flags = (patch: Partial<Chat.Flags>): Chat.Flags => ({
    payload: Option.none(),
    model: Option.none(),
    system: [],
    user: [],
    temperature: Option.none(),
    maxTokens: Option.none(),
    apiUrl: Option.none(),
    loginUrl: Option.none(),
    auditLog: Option.none(),
    webhook: Option.none(),
    maxLatency: Option.none(),
    fallback: Option.none(),
    redisUrl: Option.none(),
    json: false,
    ...patch
  })
  const read = (patch: Partial<Chat.Flags>) =>
    Chat.readPayload(flags(patch)).pipe(Effect.provide(FileSystem.layerNoop({})))

  it.effect("system instructions and user messages in order, with the default temperature and maxTokens", () =>
    Effect.gen(function*() {
      const payload = yield* read({ model: Option.some("gpt-4o"), system: ["a", "b"], user: ["one", "two"] })
      assert.deepStrictEqual(payload, {
        systemInstructions: ["a", "b"],
        context: [{ role: "user", content: "one" }, { role: "user", content: "two" }],
        temperature: Chat.defaultTemperature,
        maxTokens: Chat.defaultMaxTokens,
        modelId: "gpt-4o"
      })
      const tuned = yield* read({
        model: Option.some("m"),
        user: ["x"],
        temperature: Option.some(1.5),
        maxTokens: Option.some(64)
      })
      assert.deepInclude(tuned as object, { temperature: 1.5, maxTokens: 64 })
    }))

  it.effect("usage mistakes exit 2", () =>
    Effect.gen(function*() {
      const neither = yield* Effect.flip(read({}))
      assert.strictEqual(neither.exitCode, 2)
      const noUser = yield* Effect.flip(read({ model: Option.some("m") }))
      assert.include(noUser.message, "--user")
      const both = yield* Effect.flip(read({ payload: Option.some("p.json"), user: ["x"], maxTokens: Option.some(5) }))
      assert.strictEqual(both.message, "--payload cannot be combined with --user, --max-tokens")
    }))
})
