/**
 * Helpers for the few things of a server's answer or a failure that may go into an error: short machine codes,
 * and a connection failure named by its system error code. Free text never does.
 *
 * @internal
 */
import * as Secrets from "./secrets.js"

/**
 * A short machine code (`rate.limit.exceeded`, `invalid_client`), or `undefined` when the value is not one or
 * holds a form of a secret.
 *
 * @internal
 */
export const code = (value: unknown, secrets: ReadonlyArray<string> = []): string | undefined =>
  typeof value === "string" && /^[A-Za-z0-9_.:-]{1,100}$/.test(value) && !Secrets.contains(value, secrets)
    ? value
    : undefined

const systemCodePattern = /^(?:E[A-Z0-9_]{2,30}|UND_ERR_[A-Z_]{2,30}|ERR_[A-Z0-9_]{2,40})$/

// Codes also recognised in a message, for runtimes and doubles that put them there and not in `code`.
const wellKnownCodes = new Set([
  "EAI_AGAIN",
  "ECONNABORTED",
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EPIPE",
  "EPROTO",
  "ETIMEDOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_SOCKET"
])

/**
 * The system error code of a failure (`ECONNREFUSED`, `UND_ERR_SOCKET`), from the `code` of it or of one of its
 * causes, or a well-known code named in a message; `undefined` when there is none.
 *
 * @internal
 */
export const systemCode = (cause: unknown): string | undefined => {
  let current: unknown = cause
  let named: string | undefined
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const c = current as { readonly code?: unknown; readonly message?: unknown; readonly cause?: unknown }
    if (typeof c.code === "string" && systemCodePattern.test(c.code)) return c.code
    if (named === undefined && typeof c.message === "string") {
      named = c.message.match(/\b[A-Z][A-Z0-9_]{2,40}\b/g)?.find((word) => wellKnownCodes.has(word))
    }
    if (c.cause === current) break
    current = c.cause
  }
  return named
}

/**
 * Our words for a connection failure: `what`, then its system error code in parentheses when it has one.
 *
 * @internal
 */
export const describeConnectionFailure = (what: string, cause: unknown): string => {
  const found = systemCode(cause)
  return found === undefined ? what : `${what} (${found})`
}
