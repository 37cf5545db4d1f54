/**
 * The gateway's configuration from Effect `Config` (the environment by default):
 *
 * | variable | default | meaning |
 * | --- | --- | --- |
 * | `GENESYS_ENV` | `mypurecloud.com` | region domain: login at `https://login.ENV`, API at `https://api.ENV` |
 * | `GENESYS_CLIENT_ID` | required | OAuth client id |
 * | `GENESYS_CLIENT_SECRET` | required | OAuth client secret, kept `Redacted` |
 * | `GENESYS_API_URL` | from the region | API base URL override (a simulator, a proxy) |
 * | `GENESYS_LOGIN_URL` | from the region | login base URL override |
 * | `LLM_MAX_LATENCY_MS` | 5000 | time to the first frame, retries included, before the fallback |
 * | `LLM_FALLBACK_TEXT` | `Gateway.defaults.fallbackText` | the text of a fallback |
 * | `LLM_MAX_ATTEMPTS` | 3 | attempts before `RetriesExhausted` |
 * | `LLM_FRAME_GAP_MS` | 10000 | longest silence once the answer started |
 * | `LLM_CALL_TIMEOUT_MS` | 60000 | bound on the whole call |
 * | `LLM_MAX_FRAME_BYTES` | 1048576 | largest accepted frame line |
 * | `LLM_RATE_LIMIT_PER_MINUTE` | 300 | permits a minute for the OAuth client, until `inin-ratelimit-allowed` says |
 * | `LLM_CIRCUIT_FAILURES` | 5 | unwell attempts in a row that open the circuit breaker |
 * | `LLM_CIRCUIT_COOLDOWN_MS` | 10000 | how long the circuit stays open before one probe |
 * | `LLM_RETRY_BUDGET` | 500 | tokens of the process's retry budget (5 a retry, 10 after a timeout); 0 turns it off |
 *
 * When `GENESYS_API_URL` is set and `GENESYS_LOGIN_URL` is not, the API URL serves for login too (a simulator or a
 * proxy serves both), as the command line's `--api-url` does. `GENESYS_ENV` accepts any of the known regions and,
 * so that a new region needs no release, any other lowercase domain name; a value with a scheme, a path or a
 * leading `api.`/`login.` is refused with a hint. A missing or malformed setting is a `ConfigError` that names the
 * variable.
 *
 * @since 0.1.0
 */
import { CircuitBreaker, Gateway, RateBudget, RetryBudget } from "@genesys-llm/core"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

/**
 * The Genesys Cloud region domains known at the time of writing.
 *
 * @since 0.1.0
 * @category models
 */
export const regions: ReadonlyArray<string> = [
  "mypurecloud.com",
  "mypurecloud.ie",
  "mypurecloud.de",
  "mypurecloud.jp",
  "mypurecloud.com.au",
  "usw2.pure.cloud",
  "cac1.pure.cloud",
  "euw2.pure.cloud",
  "aps1.pure.cloud",
  "apne2.pure.cloud",
  "sae1.pure.cloud",
  "use2.us-gov-pure.cloud"
]

/**
 * @since 0.1.0
 * @category models
 */
export interface GatewayConfig {
  readonly env: string
  readonly apiUrl: string
  readonly loginUrl: string
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  readonly maxLatencyMillis: number
  readonly fallbackText: string
  readonly maxAttempts: number
  readonly frameGapMillis: number
  readonly callTimeoutMillis: number
  readonly maxFrameBytes: number
  readonly rateLimitPerMinute: number
  readonly circuitFailures: number
  readonly circuitCooldownMillis: number
  readonly retryBudget: number
}

const label = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/

/**
 * Checks a region domain; `Left` says what is wrong with it.
 *
 * @since 0.1.0
 * @category utils
 */
export const checkEnv = (value: string): Either.Either<string, string> => {
  if (regions.includes(value)) return Either.right(value)
  if (/^[a-z]+:\/\//i.test(value) || value.includes("/")) {
    return Either.left(`must be a region domain such as mypurecloud.com, not a URL (got ${JSON.stringify(value)})`)
  }
  if (/^(api|login)\./.test(value)) {
    return Either.left(
      `must be the region domain without "api." or "login.", such as ${value.replace(/^(api|login)\./, "")}`
    )
  }
  const labels = value.split(".")
  if (value.length > 253 || labels.length < 2 || !labels.every((l) => label.test(l)) || /^\d+$/.test(labels.at(-1)!)) {
    return Either.left(
      `must be a region domain such as ${regions.slice(0, 3).join(", ")} (got ${JSON.stringify(value.slice(0, 80))})`
    )
  }
  return Either.right(value)
}

/**
 * Checks a base URL (http or https, no query, no fragment) and returns it without a trailing slash.
 *
 * @since 0.1.0
 * @category utils
 */
export const checkBaseUrl = (value: string): Either.Either<string, string> => {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return Either.left(`must be an http or https URL (got ${JSON.stringify(value.slice(0, 80))})`)
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Either.left(`must be an http or https URL (got the scheme ${url.protocol})`)
  }
  if (url.search !== "" || url.hash !== "") return Either.left("must not have a query or a fragment")
  if (url.username !== "" || url.password !== "") return Either.left("must not carry credentials")
  return Either.right(url.toString().replace(/\/+$/, ""))
}

/**
 * The login and API hosts of a region domain.
 *
 * @since 0.1.0
 * @category utils
 */
export const hostsFor = (env: string): { readonly loginUrl: string; readonly apiUrl: string } => ({
  loginUrl: `https://login.${env}`,
  apiUrl: `https://api.${env}`
})

const checked = (config: Config.Config<string>, check: (value: string) => Either.Either<string, string>) =>
  Config.mapOrFail(config, (value) => Either.mapLeft(check(value), (message) => ConfigError.InvalidData([], message)))

const positiveInt = (name: string, fallback: number) =>
  // Validated before the default applies: a check outside the default would lose the variable's name.
  Config.integer(name).pipe(
    Config.validate({ message: "must be a positive integer", validation: (n) => n > 0 }),
    Config.withDefault(fallback)
  )

const nonEmpty = (name: string) =>
  Config.string(name).pipe(Config.validate({ message: "must not be empty", validation: (s) => s.trim().length > 0 }))

/**
 * The configuration, read from the current `ConfigProvider`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const config: Config.Config<GatewayConfig> = Config.all({
  env: checked(Config.string("GENESYS_ENV"), checkEnv).pipe(Config.withDefault("mypurecloud.com")),
  apiUrl: Config.option(checked(Config.string("GENESYS_API_URL"), checkBaseUrl)),
  loginUrl: Config.option(checked(Config.string("GENESYS_LOGIN_URL"), checkBaseUrl)),
  clientId: nonEmpty("GENESYS_CLIENT_ID"),
  // Validated inside `nested` so that the error names the variable (a named primitive's validation loses it).
  clientSecret: Config.nested(
    Config.redacted().pipe(
      Config.validate({ message: "must not be empty", validation: (r) => Redacted.value(r).length > 0 })
    ),
    "GENESYS_CLIENT_SECRET"
  ),
  maxLatencyMillis: positiveInt("LLM_MAX_LATENCY_MS", Gateway.defaults.maxLatencyMillis),
  fallbackText: Config.string("LLM_FALLBACK_TEXT").pipe(Config.withDefault(Gateway.defaults.fallbackText)),
  maxAttempts: positiveInt("LLM_MAX_ATTEMPTS", Gateway.defaults.maxAttempts),
  frameGapMillis: positiveInt("LLM_FRAME_GAP_MS", Gateway.defaults.frameGapMillis),
  callTimeoutMillis: positiveInt("LLM_CALL_TIMEOUT_MS", Gateway.defaults.callTimeoutMillis),
  maxFrameBytes: positiveInt("LLM_MAX_FRAME_BYTES", Gateway.defaults.maxFrameBytes),
  rateBudget: RateBudget.config,
  circuitBreaker: CircuitBreaker.config,
  retryBudget: RetryBudget.config
}).pipe(Config.map((c): GatewayConfig => {
  const hosts = hostsFor(c.env)
  const apiUrl = Option.getOrElse(c.apiUrl, () => hosts.apiUrl)
  const loginUrl = Option.getOrElse(c.loginUrl, () => Option.isSome(c.apiUrl) ? c.apiUrl.value : hosts.loginUrl)
  const { circuitBreaker, rateBudget, retryBudget, ...rest } = c
  return {
    ...rest,
    apiUrl,
    loginUrl,
    rateLimitPerMinute: rateBudget.rateLimitPerMinute ?? RateBudget.defaults.rateLimitPerMinute,
    circuitFailures: circuitBreaker.circuitFailures ?? CircuitBreaker.defaults.circuitFailures,
    circuitCooldownMillis: circuitBreaker.circuitCooldownMillis ?? CircuitBreaker.defaults.circuitCooldownMillis,
    retryBudget: retryBudget.retryBudget ?? RetryBudget.defaults.retryBudget
  }
}))
