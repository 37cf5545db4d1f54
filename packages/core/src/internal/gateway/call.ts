/**
 * The record of one gateway call, made once its settings are known and passed from step to step: the attempt
 * loop counts its attempts in it, the attempts note what went wrong, and the body pull adds up what was delivered.
 * It lives as long as the call's scope and is only touched by the fiber that runs the call.
 *
 * @internal
 */
import type * as Gateway from "../../Gateway.js"
import { GatewayRequestInvalid, StreamInterrupted } from "../../GatewayError.js"
import * as Prompt from "../../Prompt.js"
import type * as RateBudget from "../../RateBudget.js"
import { defined } from "../defined.js"
import * as Settings from "./settings.js"

/** @internal */
export interface Call {
  readonly idempotencyKey: string
  readonly settings: Settings.Settings
  /** The body bytes, computed once: every attempt sends the same ones. */
  readonly body: Uint8Array
  /** Before the first frame whichever deadline comes first applies; `fallsBack` says if it is the first-frame one. */
  readonly openDeadline: number
  readonly callDeadline: number
  readonly fallsBack: boolean
  readonly startedAt: number
  /** Requests sent or started, the 401 refresh included. */
  attempts: number
  /** Attempts that count against `maxAttempts`: the 401 refresh does not. */
  countedAttempts: number
  /** Whether the call already fetched a new token after a 401. */
  refreshedToken: boolean
  /** Whether the attempt in flight is the circuit breaker's probe. */
  probe: boolean
  /** What the last attempt's answer said of the rate limit, when it got an answer. */
  rateAnswer: RateBudget.Answer | undefined
  correlationId: string | undefined
  lastStatus: number | undefined
  lastError: string | undefined
  // The text delivered, kept only with `retainText`; its length is counted either way.
  readonly delivered: Array<string>
  deliveredCharacters: number
  completionTokens: number
  usageReported: boolean
}

const encoder = new TextEncoder()

/** The call's record, or the reason it cannot start: nothing is sent for an unusable request. @internal */
export const make = (
  options: Gateway.Options,
  request: Gateway.Request,
  now: number
): Call | GatewayRequestInvalid => {
  const settings = Settings.resolve(options, request.options)
  if (settings instanceof GatewayRequestInvalid) return settings
  if (!Settings.isUsableKey(request.idempotencyKey)) {
    return new GatewayRequestInvalid({
      field: "idempotencyKey",
      problem: "must be 1 to 255 printable ASCII characters without spaces"
    })
  }
  const firstFrameDeadline = now + settings.maxLatencyMillis
  const callDeadline = now + settings.callTimeoutMillis
  return {
    idempotencyKey: request.idempotencyKey,
    settings,
    body: encoder.encode(Prompt.toJson(request.payload)),
    openDeadline: Math.min(firstFrameDeadline, callDeadline),
    callDeadline,
    fallsBack: firstFrameDeadline <= callDeadline,
    startedAt: now,
    attempts: 0,
    countedAttempts: 0,
    refreshedToken: false,
    probe: false,
    rateAnswer: undefined,
    correlationId: undefined,
    lastStatus: undefined,
    lastError: undefined,
    delivered: [],
    deliveredCharacters: 0,
    completionTokens: 0,
    usageReported: false
  }
}

/** The call's last event. @internal */
export const done = (
  call: Call,
  outcome: Gateway.Done["outcome"],
  text: string,
  skippedFrames: number
): Gateway.Done => ({
  _tag: "Done",
  outcome,
  text,
  completionTokens: call.completionTokens,
  usageReported: call.usageReported,
  attempts: call.attempts,
  skippedFrames,
  correlationId: call.correlationId
})

/** The break of a call that already delivered frames, with what was delivered. @internal */
export const interrupted = (call: Call, reason: StreamInterrupted["reason"], detail: string): StreamInterrupted =>
  new StreamInterrupted(defined({
    reason,
    detail,
    deliveredText: call.delivered.join(""),
    deliveredCharacters: call.deliveredCharacters,
    completionTokens: call.completionTokens,
    attempts: call.attempts,
    correlationId: call.correlationId
  }))

/** The call's own count and correlation id, the fields every gateway error shares. @internal */
export const shared = (call: Call) => defined({ attempts: call.attempts, correlationId: call.correlationId })
