import { assert, describe, it } from "@effect/vitest"
import { Gateway } from "@genesys-llm/core"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as GatewayConfig from "../src/GatewayConfig.js"
import * as NodeGateway from "../src/NodeGateway.js"

const read = (env: Record<string, string>) =>
  GatewayConfig.config.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))

const credentials = { GENESYS_CLIENT_ID: "id", GENESYS_CLIENT_SECRET: "secret" }

describe("GatewayConfig", () => {
  it.effect("defaults to mypurecloud.com and the specification's timings", () =>
    Effect.gen(function*() {
      const config = yield* read(credentials)
      assert.strictEqual(config.env, "mypurecloud.com")
      assert.strictEqual(config.apiUrl, "https://api.mypurecloud.com")
      assert.strictEqual(config.loginUrl, "https://login.mypurecloud.com")
      assert.strictEqual(config.clientId, "id")
      assert.strictEqual(Redacted.value(config.clientSecret), "secret")
      assert.strictEqual(config.maxLatencyMillis, 5000)
      assert.strictEqual(config.maxAttempts, 3)
      assert.strictEqual(config.frameGapMillis, 10_000)
      assert.strictEqual(config.callTimeoutMillis, 60_000)
      assert.strictEqual(config.maxFrameBytes, 1024 * 1024)
      assert.strictEqual(config.fallbackText, Gateway.defaults.fallbackText)
    }))

  it.effect("maps every known region to its login and API hosts", () =>
    Effect.gen(function*() {
      for (const env of GatewayConfig.regions) {
        const config = yield* read({ ...credentials, GENESYS_ENV: env })
        assert.strictEqual(config.loginUrl, `https://login.${env}`)
        assert.strictEqual(config.apiUrl, `https://api.${env}`)
      }
      const newRegion = yield* read({ ...credentials, GENESYS_ENV: "mec1.pure.cloud" })
      assert.strictEqual(newRegion.apiUrl, "https://api.mec1.pure.cloud")
    }))

  it.effect("an API URL alone serves for login too; a login URL overrides it", () =>
    Effect.gen(function*() {
      const api = yield* read({ ...credentials, GENESYS_API_URL: "http://127.0.0.1:8787/" })
      assert.strictEqual(api.apiUrl, "http://127.0.0.1:8787")
      assert.strictEqual(api.loginUrl, "http://127.0.0.1:8787")
      const both = yield* read({
        ...credentials,
        GENESYS_API_URL: "https://proxy.example/api",
        GENESYS_LOGIN_URL: "https://login.example"
      })
      assert.strictEqual(both.apiUrl, "https://proxy.example/api")
      assert.strictEqual(both.loginUrl, "https://login.example")
      const login = yield* read({
        ...credentials,
        GENESYS_ENV: "mypurecloud.de",
        GENESYS_LOGIN_URL: "https://sso.example"
      })
      assert.strictEqual(login.apiUrl, "https://api.mypurecloud.de")
      assert.strictEqual(login.loginUrl, "https://sso.example")
    }))

  it.effect("reads the timing and fallback settings", () =>
    Effect.gen(function*() {
      const config = yield* read({
        ...credentials,
        LLM_MAX_LATENCY_MS: "2500",
        LLM_FALLBACK_TEXT: "One moment.",
        LLM_MAX_ATTEMPTS: "5",
        LLM_FRAME_GAP_MS: "3000",
        LLM_CALL_TIMEOUT_MS: "30000",
        LLM_MAX_FRAME_BYTES: "4096"
      })
      assert.deepStrictEqual(
        [
          config.maxLatencyMillis,
          config.fallbackText,
          config.maxAttempts,
          config.frameGapMillis,
          config.callTimeoutMillis,
          config.maxFrameBytes
        ],
        [2500, "One moment.", 5, 3000, 30_000, 4096]
      )
    }))

  it.effect("reads the shared rules' settings, with their defaults", () =>
    Effect.gen(function*() {
      const defaults = yield* read(credentials)
      assert.deepStrictEqual(
        [defaults.rateLimitPerMinute, defaults.circuitFailures, defaults.circuitCooldownMillis, defaults.retryBudget],
        [300, 5, 10_000, 500]
      )
      const config = yield* read({
        ...credentials,
        LLM_RATE_LIMIT_PER_MINUTE: "120",
        LLM_CIRCUIT_FAILURES: "3",
        LLM_CIRCUIT_COOLDOWN_MS: "2500",
        LLM_RETRY_BUDGET: "0"
      })
      assert.deepStrictEqual(
        [config.rateLimitPerMinute, config.circuitFailures, config.circuitCooldownMillis, config.retryBudget],
        [120, 3, 2500, 0]
      )
    }))

  const failsNaming = (env: Record<string, string>, ...names: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(read(env))
      const text = String(error)
      for (const name of names) assert.include(text, name)
      assert.notInclude(text, "secret-value")
      return text
    })

  it.effect("a missing credential is a ConfigError naming it", () =>
    Effect.gen(function*() {
      yield* failsNaming({}, "GENESYS_CLIENT_ID", "GENESYS_CLIENT_SECRET")
      yield* failsNaming({ GENESYS_CLIENT_ID: "id" }, "GENESYS_CLIENT_SECRET")
      yield* failsNaming({ GENESYS_CLIENT_ID: " ", GENESYS_CLIENT_SECRET: "secret-value" }, "GENESYS_CLIENT_ID")
      yield* failsNaming({ GENESYS_CLIENT_ID: "id", GENESYS_CLIENT_SECRET: "" }, "GENESYS_CLIENT_SECRET")
    }))

  it.effect("a malformed setting is a ConfigError naming it", () =>
    Effect.gen(function*() {
      const base = { ...credentials, GENESYS_CLIENT_SECRET: "secret-value" }
      yield* failsNaming({ ...base, LLM_MAX_LATENCY_MS: "soon" }, "LLM_MAX_LATENCY_MS")
      yield* failsNaming({ ...base, LLM_MAX_LATENCY_MS: "0" }, "LLM_MAX_LATENCY_MS", "positive")
      yield* failsNaming({ ...base, LLM_MAX_ATTEMPTS: "1.5" }, "LLM_MAX_ATTEMPTS")
      yield* failsNaming({ ...base, LLM_FRAME_GAP_MS: "-1" }, "LLM_FRAME_GAP_MS")
      yield* failsNaming({ ...base, LLM_CALL_TIMEOUT_MS: "x" }, "LLM_CALL_TIMEOUT_MS")
      yield* failsNaming({ ...base, LLM_MAX_FRAME_BYTES: "" }, "LLM_MAX_FRAME_BYTES")
      yield* failsNaming({ ...base, LLM_RATE_LIMIT_PER_MINUTE: "0" }, "LLM_RATE_LIMIT_PER_MINUTE")
      yield* failsNaming({ ...base, LLM_CIRCUIT_FAILURES: "many" }, "LLM_CIRCUIT_FAILURES")
      yield* failsNaming({ ...base, LLM_CIRCUIT_COOLDOWN_MS: "-5" }, "LLM_CIRCUIT_COOLDOWN_MS")
      yield* failsNaming({ ...base, LLM_RETRY_BUDGET: "-1" }, "LLM_RETRY_BUDGET")
      yield* failsNaming({ ...base, GENESYS_API_URL: "not a url" }, "GENESYS_API_URL")
      yield* failsNaming({ ...base, GENESYS_LOGIN_URL: "ftp://x.example" }, "GENESYS_LOGIN_URL")
      yield* failsNaming({ ...base, GENESYS_API_URL: "https://x.example/?a=1" }, "GENESYS_API_URL", "query")
      // Every problem at once.
      yield* failsNaming(
        { LLM_MAX_ATTEMPTS: "0", GENESYS_ENV: "bad" },
        "LLM_MAX_ATTEMPTS",
        "GENESYS_ENV",
        "GENESYS_CLIENT_ID"
      )
    }))

  it.effect("GENESYS_ENV must be a region domain, with a hint for common mistakes", () =>
    Effect.gen(function*() {
      assert.include(
        yield* failsNaming({ ...credentials, GENESYS_ENV: "https://api.mypurecloud.com" }, "GENESYS_ENV"),
        "not a URL"
      )
      assert.include(
        yield* failsNaming({ ...credentials, GENESYS_ENV: "api.mypurecloud.ie" }, "GENESYS_ENV"),
        "mypurecloud.ie"
      )
      for (const bad of ["localhost", "MyPureCloud.com", "a..b", "-a.com", "x.123", "has space.com"]) {
        yield* failsNaming({ ...credentials, GENESYS_ENV: bad }, "GENESYS_ENV")
      }
    }))

  it("checkEnv and checkBaseUrl", () => {
    assert.isTrue(Either.isRight(GatewayConfig.checkEnv("use2.us-gov-pure.cloud")))
    assert.deepStrictEqual(
      GatewayConfig.checkBaseUrl("https://api.example.com/"),
      Either.right("https://api.example.com")
    )
    assert.isTrue(Either.isLeft(GatewayConfig.checkBaseUrl("https://user:pw@api.example.com")))
  })

  it.effect("NodeGateway.layerConfig fails with the ConfigError when a setting is missing", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(NodeGateway.layerConfig).pipe(
        Effect.scoped,
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["GENESYS_CLIENT_ID", "id"]]))),
        Effect.flip
      )
      assert.include(String(error), "GENESYS_CLIENT_SECRET")
    }))

  it("NodeGateway.resolveUrls follows the same rules as the environment", () => {
    assert.deepStrictEqual(NodeGateway.resolveUrls({}), {
      apiUrl: "https://api.mypurecloud.com",
      loginUrl: "https://login.mypurecloud.com"
    })
    assert.deepStrictEqual(NodeGateway.resolveUrls({ apiUrl: "http://127.0.0.1:1" }), {
      apiUrl: "http://127.0.0.1:1",
      loginUrl: "http://127.0.0.1:1"
    })
    assert.deepStrictEqual(NodeGateway.resolveUrls({ env: "mypurecloud.jp", loginUrl: "https://sso" }), {
      apiUrl: "https://api.mypurecloud.jp",
      loginUrl: "https://sso"
    })
  })
})
