/**
 * The answer's body as frames: the one place where pieces of the body go through the NDJSON decoder, used both
 * while waiting for the first frame and by the pull after it.
 *
 * @internal
 */
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import * as Take from "effect/Take"
import * as Ndjson from "../ndjson.js"
import * as Text from "../text.js"

/** @internal */
export type Piece = Take.Take<Uint8Array, HttpClientError.ResponseError>

/**
 * A body being read: `next` takes its next piece (in the caller's fiber, with no fiber or queue in between) and
 * `decode` turns a piece into frames. Once the body ended, broke or held a line that is not a frame, `ended`,
 * `broken` or `failure` says so; the frames decoded before that are still returned.
 *
 * @internal
 */
export class Body {
  /** The body ended, cleanly or not. */
  ended = false
  /** Why the connection broke, when it did. */
  broken: Cause.Cause<HttpClientError.ResponseError> | undefined = undefined
  /** The first line that could not be decoded (a truncated last line included), when there was one. */
  failure: Ndjson.DecodeFailure | undefined = undefined
  readonly decoder: Ndjson.Decoder

  constructor(
    readonly next: Effect.Effect<Piece>,
    options: Ndjson.Options
  ) {
    this.decoder = new Ndjson.Decoder(options)
  }

  /** Frames skipped as not JSON or not a frame. */
  get skipped(): number {
    return this.decoder.skipped
  }

  /** The frames a piece completes. */
  decode(piece: Piece): ReadonlyArray<Ndjson.Frame> {
    return Take.match(piece, {
      onEnd: () => {
        this.ended = true
        const out = this.decoder.end()
        this.failure = out.failure
        return out.frames
      },
      onFailure: (cause) => {
        this.ended = true
        this.broken = cause
        return noFrames
      },
      onSuccess: (chunk) => {
        const frames: Array<Ndjson.Frame> = []
        for (const bytes of chunk) {
          const out = this.decoder.push(bytes)
          for (const frame of out.frames) frames.push(frame)
          if (out.failure !== undefined) {
            this.failure = out.failure
            break
          }
        }
        return frames
      }
    })
  }
}

const noFrames: ReadonlyArray<Ndjson.Frame> = []

/** A break of the connection in our words: `what`, and the system error code when there is one. @internal */
export const describeBreak = (what: string, cause: Cause.Cause<HttpClientError.ResponseError>): string =>
  Text.describeConnectionFailure(what, Cause.squash(cause))

/** @internal */
export const describeFailure = (failure: Ndjson.DecodeFailure): string => {
  switch (failure._tag) {
    case "FrameTooLarge":
      return `frame ${failure.line} is longer than the limit of ${failure.limit} bytes`
    case "InvalidUtf8":
      return `frame ${failure.line} is not valid UTF-8`
    case "Malformed":
      return `frame ${failure.line} is ${failure.reason === "not-json" ? "not JSON" : "not a frame"}`
    case "Truncated":
      return failure.insideCharacter
        ? `the stream ended inside a UTF-8 character of frame ${failure.line}`
        : `the stream ended inside frame ${failure.line}`
  }
}

/** @internal */
export const interruptionReason = (failure: Ndjson.DecodeFailure) =>
  failure._tag === "FrameTooLarge"
    ? "frame-too-large" as const
    : failure._tag === "Truncated"
    ? "truncated" as const
    : "malformed-frame" as const
