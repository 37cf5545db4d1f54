/**
 * The pull of a call once its attempts are over: the fallback and `Done` when it fell back, or the answer's frames
 * as events, read from the body as the caller asks for them, under the frame-gap and whole-call deadlines, then
 * `Done`, or the `StreamInterrupted` that ended it.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Gateway from "../../Gateway.js"
import { CallTimeout, type GatewayError, type StreamInterrupted } from "../../GatewayError.js"
import type * as Ndjson from "../ndjson.js"
import type * as Attempt from "./attempt.js"
import type * as Attempts from "./attempts.js"
import * as Body from "./body.js"
import * as Call from "./call.js"

/**
 * The pull of a call whose attempts ended: `none` when the first-frame deadline passed while they ran.
 *
 * @internal
 */
export const make = (
  call: Call.Call,
  opened: Option.Option<Attempt.Opened | Attempts.FellBack>
): Effect.Effect<Gateway.Pull, CallTimeout> => {
  if (Option.isSome(opened) && opened.value._tag === "Opened") return Effect.succeed(answer(call, opened.value))
  if (Option.isNone(opened) && !call.fallsBack) {
    return new CallTimeout({ timeoutMillis: call.settings.callTimeoutMillis, ...Call.shared(call) })
  }
  const reason = Option.isNone(opened) ? "first-frame-timeout" : (opened.value as Attempts.FellBack).reason
  return Effect.as(
    Effect.logDebug("gateway call fell back").pipe(
      Effect.annotateLogs({ reason, attempts: call.attempts, idempotencyKey: call.idempotencyKey })
    ),
    fallback(call, reason)
  )
}

const fallback = (call: Call.Call, reason: Gateway.FallbackReason): Gateway.Pull => {
  const text = call.settings.fallbackText
  const event: Gateway.Fallback = {
    _tag: "Fallback",
    text,
    reason,
    lastStatus: call.lastStatus,
    lastError: call.lastError
  }
  let given = false
  return Effect.suspend(() => {
    if (given) return Effect.fail(Option.none())
    given = true
    return Effect.succeed(Chunk.make<[Gateway.Event, Gateway.Event]>(event, Call.done(call, "fallback", text, 0)))
  })
}

// The deltas of some frames, counted into the call.
const toEvents = (call: Call.Call, frames: ReadonlyArray<Ndjson.Frame>): Chunk.Chunk<Gateway.Event> => {
  const events: Array<Gateway.Event> = []
  for (const frame of frames) {
    if (frame.content !== undefined && frame.content.length > 0) {
      if (call.settings.retainText) call.delivered.push(frame.content)
      call.deliveredCharacters += frame.content.length
      events.push({ _tag: "Delta", text: frame.content })
    }
    if (frame.completionTokens !== undefined) {
      call.completionTokens += frame.completionTokens
      call.usageReported = true
    }
  }
  return Chunk.unsafeFromArray(events)
}

// The answer: the frames that opened it come first; `Done` comes after the end of the body.
const answer = (call: Call.Call, opened: Attempt.Opened): Gateway.Pull => {
  const { body } = opened
  const settings = call.settings
  let first: Chunk.Chunk<Gateway.Event> | undefined = toEvents(call, opened.frames)
  // Set once the call gave `Done` or failed: every pull after that says it ended.
  let over = false
  const stop = (error: StreamInterrupted) => {
    over = true
    return Effect.fail(Option.some<GatewayError>(error))
  }
  const callTimeout = () =>
    Call.interrupted(call, "call-timeout", `the call took longer than ${settings.callTimeoutMillis} ms`)

  return Effect.gen(function*() {
    if (over) return yield* Effect.fail(Option.none())
    if (first !== undefined) {
      const events = first
      first = undefined
      if (Chunk.isNonEmpty(events)) return events
    }
    for (;;) {
      if (body.broken !== undefined) {
        return yield* stop(
          Call.interrupted(call, "reset", Body.describeBreak("the connection broke", body.broken))
        )
      }
      if (body.failure !== undefined) {
        return yield* stop(
          Call.interrupted(call, Body.interruptionReason(body.failure), Body.describeFailure(body.failure))
        )
      }
      if (body.ended) {
        over = true
        return Chunk.of<Gateway.Event>(Call.done(call, "complete", call.delivered.join(""), body.skipped))
      }
      const now = yield* Clock.currentTimeMillis
      const untilCallDeadline = call.callDeadline - now
      if (untilCallDeadline <= 0) return yield* stop(callTimeout())
      const wait = Math.min(settings.frameGapMillis, untilCallDeadline)
      const piece = yield* body.next.pipe(Effect.timeoutOption(Duration.millis(wait)))
      if (Option.isNone(piece)) {
        return yield* stop(
          wait < settings.frameGapMillis
            ? callTimeout()
            : Call.interrupted(call, "stall", `the gateway sent nothing for ${settings.frameGapMillis} ms`)
        )
      }
      const events = toEvents(call, body.decode(piece.value))
      if (Chunk.isNonEmpty(events)) return events
    }
  })
}
