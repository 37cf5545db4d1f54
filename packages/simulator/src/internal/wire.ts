import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as Fault from "../Fault.js"
import type { ReplyPlan } from "./reply.js"

/**
 * What happened to a stream, for the request log: the content frames handed to the socket and, once known,
 * how the stream ended.
 *
 * @internal
 */
export interface Progress {
  frames: number
  outcome: string | undefined
}

/** @internal */
export interface BodyOptions {
  readonly plan: ReplyPlan
  readonly paceMs: number
  readonly fault: Fault.StreamFault | undefined
  /** Flushes what was written, then resets the connection. */
  readonly reset: Effect.Effect<void>
  /** Runs before a stall or a reset: sends the headers if no frame did, and records the progress. */
  readonly checkpoint: Effect.Effect<void>
  readonly progress: Progress
}

type Step =
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
  | { readonly _tag: "Pace" }
  | { readonly _tag: "Stall"; readonly ms: number | undefined }
  | { readonly _tag: "Reset" }

const encoder = new TextEncoder()
const bytes = (text: string): Step => ({ _tag: "Bytes", bytes: encoder.encode(text) })
const PACE: Step = { _tag: "Pace" }

const FILLER_SIZE = 65_536
let filler: Uint8Array | undefined
const fillerBytes = (): Uint8Array => (filler ??= encoder.encode("x".repeat(FILLER_SIZE)))

/** An oversized content frame, `size` bytes without its line ending, written in 64 KiB pieces. */
function* oversized(size: number, eol: string): Generator<Step> {
  const open = "{\"content\":\""
  const close = "\"}"
  let remaining = size - open.length - close.length
  yield bytes(open)
  while (remaining > 0) {
    const take = Math.min(remaining, FILLER_SIZE)
    yield { _tag: "Bytes", bytes: fillerBytes().subarray(0, take) }
    remaining -= take
  }
  yield bytes(close + eol)
}

const DEFAULT_MALFORMED = "{\"content\":\"unterminated"

/** The steps of one answer: frames with their faults, pauses and effects, produced lazily. */
function* steps(options: BodyOptions): Generator<Step> {
  const { fault, paceMs, plan, progress } = options
  const lineEnding = fault !== undefined && (fault.kind === "slice" || fault.kind === "blankLines")
    ? fault.lineEnding
    : undefined
  const eol = (fault?.kind === "crlf" || lineEnding === "crlf") ? "\r\n" : "\n"
  const blankCount = fault?.kind === "blankLines" ? (fault.count ?? 1) : 0
  const blankLine = blankCount > 0 ? bytes(eol.repeat(blankCount)) : undefined
  const n = plan.frameCount
  const clamp = (after: number | undefined, fallback: number) => Math.min(after ?? fallback, n)
  const position = fault === undefined ? -1 : (() => {
    switch (fault.kind) {
      case "stall":
      case "reset":
        return clamp(fault.afterFrames, 0)
      case "closeWithoutUsage":
        return clamp(fault.afterFrames, n)
      case "malformedFrame":
      case "oversizedFrame":
        return clamp(fault.afterFrames, 0)
      default:
        return -1
    }
  })()

  // Runs the fault placed after `done` frames; true when the body must end there.
  function* at(done: number): Generator<Step, boolean> {
    if (fault === undefined || done !== position) return false
    switch (fault.kind) {
      case "stall": {
        progress.outcome = "stalled"
        yield { _tag: "Stall", ms: fault.ms }
        progress.outcome = undefined
        return false
      }
      case "reset": {
        progress.outcome = "reset"
        yield { _tag: "Reset" }
        return true
      }
      case "closeWithoutUsage": {
        progress.outcome = "closed without usage"
        return true
      }
      case "malformedFrame": {
        yield bytes((fault.line ?? DEFAULT_MALFORMED) + eol)
        return false
      }
      case "oversizedFrame": {
        yield* oversized(fault.bytes, eol)
        return false
      }
      default:
        return false
    }
  }

  for (let i = 0; i < n; i++) {
    if (yield* at(i)) return
    if (i > 0 && paceMs > 0) yield PACE
    if (blankLine !== undefined) yield blankLine
    yield bytes(JSON.stringify({ content: plan.frame(i) }) + eol)
    progress.frames = i + 1
  }
  if (yield* at(n)) return
  if (n > 0 && paceMs > 0) yield PACE
  if (blankLine !== undefined) yield blankLine
  yield bytes(JSON.stringify({ usage: { completion_tokens: plan.completionTokens } }) + eol)
  if (blankLine !== undefined) yield blankLine
  progress.outcome = "completed"
}

/** Re-cuts a byte sequence into pieces of exactly `size` bytes, carrying the remainder to the next input. */
class Slicer {
  private readonly carry: Uint8Array
  private fill = 0
  constructor(readonly size: number) {
    this.carry = new Uint8Array(size)
  }
  push(input: Uint8Array, out: Array<Uint8Array>): void {
    let offset = 0
    if (this.fill > 0) {
      const take = Math.min(this.size - this.fill, input.length)
      this.carry.set(input.subarray(0, take), this.fill)
      this.fill += take
      offset = take
      if (this.fill < this.size) return
      out.push(this.carry.slice())
      this.fill = 0
    }
    while (input.length - offset >= this.size) {
      out.push(input.subarray(offset, offset + this.size))
      offset += this.size
    }
    if (offset < input.length) {
      this.carry.set(input.subarray(offset), 0)
      this.fill = input.length - offset
    }
  }
  flush(out: Array<Uint8Array>): void {
    if (this.fill > 0) out.push(this.carry.slice(0, this.fill))
    this.fill = 0
  }
}

const MAX_PIECES = 64
const MAX_BATCH_BYTES = 65_536

/**
 * The body of a `200` answer as a pull-based stream: each pull hands the socket the next batch of pieces (at
 * most 64 pieces or 64 KiB, and never across a pause), so the body is written as it is produced and the
 * socket's back-pressure holds the producer. Each piece is its own `write`, hence its own HTTP chunk.
 *
 * @internal
 */
export const body = (options: BodyOptions): Stream.Stream<Uint8Array> =>
  Stream.suspend(() => {
    const iterator = steps(options)
    const slicer = options.fault?.kind === "slice" ? new Slicer(options.fault.bytes) : undefined
    let pending: Step | undefined
    let done = false

    const collect = (): Chunk.Chunk<Uint8Array> => {
      const out: Array<Uint8Array> = []
      let size = 0
      while (out.length < MAX_PIECES && size < MAX_BATCH_BYTES) {
        const next = iterator.next()
        if (next.done === true) {
          done = true
          slicer?.flush(out)
          break
        }
        const step = next.value
        if (step._tag === "Bytes") {
          if (slicer === undefined) out.push(step.bytes)
          else slicer.push(step.bytes, out)
          size += step.bytes.length
          continue
        }
        pending = step
        break
      }
      return Chunk.unsafeFromArray(out)
    }

    const perform = (step: Step): Effect.Effect<void> => {
      switch (step._tag) {
        case "Pace":
          return Effect.sleep(options.paceMs)
        case "Stall":
          return Effect.zipRight(options.checkpoint, step.ms === undefined ? Effect.never : Effect.sleep(step.ms))
        case "Reset":
          // Once the connection is gone the server interrupts this fiber; nothing more is written.
          return Effect.zipRight(options.checkpoint, Effect.zipRight(options.reset, Effect.never))
        case "Bytes":
          return Effect.void
      }
    }

    const pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<never>> = Effect.suspend(() => {
      if (pending !== undefined) {
        const step = pending
        pending = undefined
        return Effect.map(perform(step), collect)
      }
      if (done) return Effect.fail(Option.none())
      return Effect.sync(collect)
    })

    // A failing body must not look complete: the server would end the chunked body cleanly, and the client
    // would take a cut answer for a whole one. A defect resets the connection instead.
    return Stream.repeatEffectChunkOption(pull).pipe(
      Stream.catchAllCause(() =>
        Stream.execute(Effect.suspend(() => {
          options.progress.outcome = "failed"
          return Effect.zipRight(options.reset, Effect.never)
        }))
      )
    )
  })
