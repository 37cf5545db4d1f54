/**
 * A call's settings: each one from the call's own options, else the gateway's, else the default; checked before
 * anything is sent.
 *
 * @internal
 */
import type * as Gateway from "../../Gateway.js"
import { GatewayRequestInvalid } from "../../GatewayError.js"

/** @internal */
export const defaults = {
  chatPath: "/api/v2/ai/llm-gateway/chat",
  maxLatencyMillis: 5_000,
  frameGapMillis: 10_000,
  callTimeoutMillis: 60_000,
  maxAttempts: 3,
  fallbackText: "Sorry, I cannot answer right now. Please try again in a moment.",
  strictFrames: false,
  maxFrameBytes: 1024 * 1024,
  retainText: true,
  backoffBaseMillis: 250,
  backoffCapMillis: 2_000,
  retryAfterCapMillis: 30_000
} as const

/** @internal */
export interface Settings {
  readonly maxLatencyMillis: number
  readonly frameGapMillis: number
  readonly callTimeoutMillis: number
  readonly maxAttempts: number
  readonly fallbackText: string
  readonly strictFrames: boolean
  readonly maxFrameBytes: number
  readonly retainText: boolean
  readonly backoffBaseMillis: number
  readonly backoffCapMillis: number
  readonly retryAfterCapMillis: number
}

const positive = ["maxLatencyMillis", "frameGapMillis", "callTimeoutMillis", "maxFrameBytes"] as const
const nonNegative = ["backoffBaseMillis", "backoffCapMillis", "retryAfterCapMillis"] as const

/** @internal */
export const resolve = (
  options: Gateway.Options,
  call: Gateway.CallOptions | undefined
): Settings | GatewayRequestInvalid => {
  const pick = <K extends keyof Settings>(key: K): Settings[K] =>
    (call?.[key as keyof Gateway.CallOptions] ?? options[key] ?? defaults[key]) as Settings[K]
  const settings: Settings = {
    maxLatencyMillis: pick("maxLatencyMillis"),
    frameGapMillis: pick("frameGapMillis"),
    callTimeoutMillis: pick("callTimeoutMillis"),
    maxAttempts: pick("maxAttempts"),
    fallbackText: pick("fallbackText"),
    strictFrames: pick("strictFrames"),
    maxFrameBytes: pick("maxFrameBytes"),
    retainText: pick("retainText"),
    backoffBaseMillis: pick("backoffBaseMillis"),
    backoffCapMillis: pick("backoffCapMillis"),
    retryAfterCapMillis: pick("retryAfterCapMillis")
  }
  for (const key of positive) {
    const value = settings[key]
    if (!Number.isFinite(value) || value <= 0) {
      return new GatewayRequestInvalid({ field: key, problem: `must be a positive number, got ${value}` })
    }
  }
  for (const key of nonNegative) {
    const value = settings[key]
    if (!Number.isFinite(value) || value < 0) {
      return new GatewayRequestInvalid({ field: key, problem: `must be a non-negative number, got ${value}` })
    }
  }
  if (!Number.isSafeInteger(settings.maxAttempts) || settings.maxAttempts < 1) {
    return new GatewayRequestInvalid({
      field: "maxAttempts",
      problem: `must be a positive integer, got ${settings.maxAttempts}`
    })
  }
  if (typeof settings.fallbackText !== "string") {
    return new GatewayRequestInvalid({ field: "fallbackText", problem: "must be a string" })
  }
  if (typeof settings.retainText !== "boolean") {
    return new GatewayRequestInvalid({ field: "retainText", problem: "must be a boolean" })
  }
  return settings
}

const keyPattern = /^[\x21-\x7e]{1,255}$/

/** Whether an idempotency key can go into a header as it is: 1 to 255 printable ASCII characters, no spaces. */
export const isUsableKey = (key: unknown): key is string => typeof key === "string" && keyPattern.test(key)
