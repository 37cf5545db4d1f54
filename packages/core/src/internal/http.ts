/**
 * Small HTTP helpers shared by the token provider and the gateway.
 *
 * @internal
 */
import type * as Headers from "@effect/platform/Headers"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Secrets from "./secrets.js"
import * as Text from "./text.js"

/** Error bodies are read up to this many bytes: enough for any JSON error, bounded against a hostile server. */
export const maxErrorBodyBytes = 16 * 1024

interface Fold {
  readonly parts: Array<Uint8Array>
  size: number
}

const lenient = new TextDecoder("utf-8")

/**
 * Reads at most `maxBytes` of a body as text (invalid UTF-8 replaced) and stops there; the rest of the body is
 * discarded and the request aborted.
 *
 * @internal
 */
export const readCapped = (
  response: HttpClientResponse.HttpClientResponse,
  maxBytes: number = maxErrorBodyBytes
): Effect.Effect<string, HttpClientError.ResponseError> =>
  response.stream.pipe(
    Stream.runFoldWhile(
      { parts: [], size: 0 } as Fold,
      (fold) => fold.size < maxBytes,
      (fold, chunk) => {
        fold.parts.push(chunk)
        fold.size += chunk.length
        return fold
      }
    ),
    Effect.map((fold) => {
      const bytes = new Uint8Array(Math.min(fold.size, maxBytes))
      let offset = 0
      for (const part of fold.parts) {
        if (offset >= bytes.length) break
        const take = part.subarray(0, bytes.length - offset)
        bytes.set(take, offset)
        offset += take.length
      }
      return lenient.decode(bytes)
    })
  )

/**
 * What an error answer gives an error: its machine `code` (`code`, Genesys style, or `error`, OAuth style) and its
 * `contextId`, never its free text; and the body itself, every form of a secret scrubbed, behind `Redacted`, for
 * whoever debugs.
 *
 * @internal
 */
export interface ErrorBody {
  readonly code: string | undefined
  readonly contextId: string | undefined
  readonly body: Redacted.Redacted<string> | undefined
}

/**
 * Reads an error body; anything that is not a JSON object gives no code.
 *
 * @internal
 */
export const parseErrorBody = (text: string, secrets: ReadonlyArray<string> = []): ErrorBody => {
  let value: unknown = undefined
  try {
    value = JSON.parse(text)
  } catch {
    value = undefined
  }
  const body = text.length === 0 ? undefined : Redacted.make(Secrets.scrub(text, secrets))
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const fields = value as Record<string, unknown>
    return {
      code: Text.code(fields.code, secrets) ?? Text.code(fields.error, secrets),
      contextId: Text.code(fields.contextId, secrets),
      body
    }
  }
  return { code: undefined, contextId: undefined, body }
}

/**
 * The `ININ-Correlation-Id` of a response, when it looks like an id.
 *
 * @internal
 */
export const correlationId = (headers: Headers.Headers, secrets: ReadonlyArray<string> = []): string | undefined =>
  Text.code(headers["inin-correlation-id"], secrets)

// NDJSON under its registered and common names, and JSON: the answers a frame reader can read.
const frameMediaTypes: ReadonlySet<string> = new Set([
  "application/x-ndjson",
  "application/ndjson",
  "application/jsonl",
  "application/x-jsonl",
  "application/jsonlines",
  "application/x-jsonlines",
  "application/json"
])

const mediaTypePattern = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/

/**
 * The media type of a `Content-Type` header, lower-cased and without parameters: `undefined` without the header,
 * `""` for a value that is not a media type.
 *
 * @internal
 */
export const mediaType = (headers: Headers.Headers): string | undefined => {
  const value = headers["content-type"]
  if (value === undefined) return undefined
  const type = value.split(";")[0].trim().toLowerCase()
  return mediaTypePattern.test(type) ? type : ""
}

/**
 * Whether a success answer of this media type may hold frames: NDJSON or JSON, or no `Content-Type` at all.
 *
 * @internal
 */
export const holdsFrames = (type: string | undefined): boolean => type === undefined || frameMediaTypes.has(type)

const wholeNumber = (value: string | undefined): number | undefined => {
  if (value === undefined || !/^\s*\d{1,15}\s*$/.test(value)) return undefined
  return Number(value)
}

/**
 * What an answer's `inin-ratelimit-allowed`, `inin-ratelimit-count` and `inin-ratelimit-reset` (seconds) say, each
 * when present and a whole number.
 *
 * @internal
 */
export const rateLimit = (headers: Headers.Headers): {
  readonly allowed: number | undefined
  readonly count: number | undefined
  readonly resetMillis: number | undefined
} => {
  const reset = wholeNumber(headers["inin-ratelimit-reset"])
  return {
    allowed: wholeNumber(headers["inin-ratelimit-allowed"]),
    count: wholeNumber(headers["inin-ratelimit-count"]),
    resetMillis: reset === undefined ? undefined : reset * 1000
  }
}
