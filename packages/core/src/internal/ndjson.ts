/**
 * A chunk-independent NDJSON frame decoder: a pure state machine fed with byte chunks. Whatever the chunking of
 * the same bytes, it yields the same frames, the same count of skipped lines and the same failure at the same
 * place in the sequence.
 *
 * Lines are split on the byte 0x0A, which never occurs inside a multi-byte UTF-8 sequence, so a character split
 * across chunks is always whole once its line is. Every run of complete lines in a chunk is decoded with one
 * `TextDecoder` call and split with `indexOf`, which keeps the hot path in native code.
 *
 * @internal
 */
import * as Schema from "effect/Schema"

/**
 * The wire shape of a frame. `null` is accepted where a field may be absent; other fields are ignored.
 *
 * @internal
 */
export const FrameSchema = Schema.Struct({
  content: Schema.optionalWith(Schema.String, { nullable: true }),
  usage: Schema.optionalWith(
    Schema.Struct({
      completion_tokens: Schema.optionalWith(Schema.NonNegativeInt, { nullable: true })
    }),
    { nullable: true }
  )
})

/** @internal */
export interface Frame {
  readonly content: string | undefined
  readonly completionTokens: number | undefined
}

// Frames are made with `new`, not as object literals. V8 decides per literal site whether to allocate its objects
// straight in the old generation ("pretenuring") when most of them outlive a young-generation GC, which a few
// frames of short calls do (they live as long as their call). Once a site is pretenured, every frame of a long
// answer lands in the old generation and holds its text there until a full GC: streaming 100 MB through a process
// that had served short calls peaked at 121-129 MB of RSS that way, and at 68-72 MB with frames made by a class,
// which V8 does not pretenure by site.
class FrameOf implements Frame {
  constructor(readonly content: string | undefined, readonly completionTokens: number | undefined) {}
}

/** @internal */
export type DecodeFailure =
  | { readonly _tag: "FrameTooLarge"; readonly line: number; readonly limit: number }
  | { readonly _tag: "InvalidUtf8"; readonly line: number }
  | { readonly _tag: "Malformed"; readonly line: number; readonly reason: "not-json" | "wrong-shape" }
  | { readonly _tag: "Truncated"; readonly line: number; readonly insideCharacter: boolean }

/** @internal */
export interface Output {
  readonly frames: ReadonlyArray<Frame>
  readonly failure: DecodeFailure | undefined
}

/** @internal */
export interface Options {
  /** The largest line, in bytes and without its `\n` or `\r\n`, that is accepted. */
  readonly maxFrameBytes: number
  /** Fail on a line that is not JSON or not a frame instead of skipping it. */
  readonly strict: boolean
}

const LF = 0x0a
const CR = 0x0d

/**
 * Reads a parsed JSON value as a frame: exactly what decoding with `FrameSchema` accepts (a property test holds
 * the two together), written out because the generic decoder costs three times the JSON parsing on the hot path.
 *
 * @internal
 */
export const readFrame = (value: unknown): Frame | undefined => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined
  const content = (value as { readonly content?: unknown }).content
  if (content !== undefined && content !== null && typeof content !== "string") return undefined
  const usage = (value as { readonly usage?: unknown }).usage
  let completionTokens: number | undefined = undefined
  if (usage !== undefined && usage !== null) {
    if (typeof usage !== "object" || Array.isArray(usage)) return undefined
    const tokens = (usage as { readonly completion_tokens?: unknown }).completion_tokens
    if (tokens !== undefined && tokens !== null) {
      if (typeof tokens !== "number" || !Number.isSafeInteger(tokens) || tokens < 0) return undefined
      completionTokens = tokens
    }
  }
  return new FrameOf(content ?? undefined, completionTokens)
}
const empty: Output = { frames: [], failure: undefined }

const isBlank = (line: string): boolean => {
  if (line.length === 0) return true
  const c = line.charCodeAt(0)
  // A frame starts with "{"; only a line starting with whitespace can be blank.
  return (c === 0x20 || c === 0x09 || c === CR || c === 0x0b || c === 0x0c) && line.trim().length === 0
}

const isBlankBytes = (bytes: ReadonlyArray<Uint8Array>): boolean => {
  for (const part of bytes) {
    for (let i = 0; i < part.length; i++) {
      const b = part[i]
      if (b !== 0x20 && b !== 0x09 && b !== CR) return false
    }
  }
  return true
}

const concat = (parts: ReadonlyArray<Uint8Array>, total: number): Uint8Array => {
  if (parts.length === 1) return parts[0]
  const out = new Uint8Array(total)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

// True when the bytes end with the lead byte and part of the continuation bytes of a multi-byte sequence.
const endsInsideCharacter = (bytes: Uint8Array): boolean => {
  const end = bytes.length
  for (let i = end - 1; i >= 0 && i >= end - 4; i--) {
    const b = bytes[i]
    if ((b & 0xc0) === 0x80) continue
    const needed = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1
    return end - i < needed
  }
  return false
}

/** @internal */
export class Decoder {
  /** Lines that were not JSON or not a frame and were skipped. */
  skipped = 0
  /** Complete lines seen, blank ones included. */
  lines = 0

  private readonly utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
  private pending: Array<Uint8Array> = []
  private pendingBytes = 0
  private head: Uint8Array | undefined = undefined
  private started = false
  private failure: DecodeFailure | undefined = undefined
  private ended = false

  constructor(readonly options: Options) {}

  /** Feeds the next chunk; returns the frames it completed and, once something is wrong, the failure. */
  push(chunk: Uint8Array): Output {
    if (this.failure !== undefined) return { frames: [], failure: this.failure }
    if (this.ended || chunk.length === 0) return empty
    let bytes = chunk
    if (!this.started) {
      bytes = this.head === undefined ? chunk : concat([this.head, chunk], this.head.length + chunk.length)
      // Keep a possible split BOM (EF, EF BB) until it is known whether it is one.
      if (bytes.length < 3 && bytes[0] === 0xef && (bytes.length === 1 || bytes[1] === 0xbb)) {
        this.head = bytes.slice()
        return empty
      }
      this.head = undefined
      this.started = true
      if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3)
    }
    const frames: Array<Frame> = []
    const lastLf = bytes.lastIndexOf(LF)
    if (lastLf < 0) {
      this.appendPending(bytes)
      return { frames, failure: this.failure }
    }
    const region = this.pendingBytes === 0
      ? bytes.subarray(0, lastLf)
      : concat([...this.pending, bytes.subarray(0, lastLf)], this.pendingBytes + lastLf)
    this.pending = []
    this.pendingBytes = 0
    this.processRegion(region, frames)
    if (this.failure === undefined && lastLf + 1 < bytes.length) {
      // A copy, so that a large chunk is not retained for the sake of a short partial line.
      this.appendPending(bytes.slice(lastLf + 1))
    }
    return { frames, failure: this.failure }
  }

  /**
   * Ends the input, which the server closed cleanly (a broken connection is never ended, its partial line never
   * read). A last line without its newline is then decoded like any other when it is whole JSON, as JSON Lines
   * readers do; anything else left over is a truncated stream.
   */
  end(): Output {
    if (this.failure !== undefined) return { frames: [], failure: this.failure }
    if (this.ended) return empty
    this.ended = true
    if (!this.started && this.head !== undefined) {
      // Only the start of a BOM arrived: the stream ended inside a character.
      this.failure = { _tag: "Truncated", line: this.lines + 1, insideCharacter: true }
      return { frames: [], failure: this.failure }
    }
    if (this.pendingBytes === 0 || isBlankBytes(this.pending)) return empty
    const rest = concat(this.pending, this.pendingBytes)
    this.pending = []
    this.pendingBytes = 0
    const line = this.wholeLastLine(rest)
    if (line === undefined) {
      this.failure = { _tag: "Truncated", line: this.lines + 1, insideCharacter: endsInsideCharacter(rest) }
      return { frames: [], failure: this.failure }
    }
    const frames: Array<Frame> = []
    this.processLine(line, frames)
    return { frames, failure: this.failure }
  }

  // The last line as text when it is valid UTF-8 and whole JSON; `undefined` when it was cut short.
  private wholeLastLine(bytes: Uint8Array): string | undefined {
    let text: string
    try {
      text = this.utf8.decode(bytes)
    } catch {
      return undefined
    }
    try {
      JSON.parse(text)
    } catch {
      return undefined
    }
    return text
  }

  private appendPending(bytes: Uint8Array): void {
    const total = this.pendingBytes + bytes.length
    const limit = this.options.maxFrameBytes
    // One byte more than the limit may be the "\r" of a "\r\n" terminator.
    if (total > limit + 1 || (total === limit + 1 && bytes[bytes.length - 1] !== CR)) {
      this.pending = []
      this.pendingBytes = 0
      this.failure = { _tag: "FrameTooLarge", line: this.lines + 1, limit }
      return
    }
    this.pending.push(bytes)
    this.pendingBytes = total
  }

  // `region` holds complete lines separated by "\n", without the last terminator.
  private processRegion(region: Uint8Array, frames: Array<Frame>): void {
    let limitLine = -1
    let upTo = region.length
    if (region.length > this.options.maxFrameBytes) {
      // Only a region longer than the limit can hold an oversized line; find the first one.
      let start = 0
      let index = 0
      while (start <= region.length) {
        let end = region.indexOf(LF, start)
        if (end < 0) end = region.length
        let length = end - start
        if (length > 0 && region[end - 1] === CR) length--
        if (length > this.options.maxFrameBytes) {
          limitLine = index
          upTo = start === 0 ? 0 : start - 1
          break
        }
        index++
        start = end + 1
      }
    }
    if (limitLine !== 0) {
      const part = limitLine < 0 ? region : region.subarray(0, upTo)
      let text: string | undefined
      try {
        text = this.utf8.decode(part)
      } catch {
        text = undefined
      }
      if (text === undefined) this.processLinesOneByOne(part, frames)
      else this.processText(text, frames)
    }
    if (this.failure === undefined && limitLine >= 0) {
      this.failure = { _tag: "FrameTooLarge", line: this.lines + 1, limit: this.options.maxFrameBytes }
    }
  }

  private processText(text: string, frames: Array<Frame>): void {
    let start = 0
    for (;;) {
      const end = text.indexOf("\n", start)
      const line = end < 0 ? text.slice(start) : text.slice(start, end)
      this.processLine(line, frames)
      if (this.failure !== undefined || end < 0) return
      start = end + 1
    }
  }

  // The slow path for a region with invalid UTF-8: the lines before the bad one still count.
  private processLinesOneByOne(region: Uint8Array, frames: Array<Frame>): void {
    let start = 0
    for (;;) {
      const end = region.indexOf(LF, start)
      const bytes = end < 0 ? region.subarray(start) : region.subarray(start, end)
      let line: string
      try {
        line = this.utf8.decode(bytes)
      } catch {
        this.failure = { _tag: "InvalidUtf8", line: this.lines + 1 }
        return
      }
      this.processLine(line, frames)
      if (this.failure !== undefined || end < 0) return
      start = end + 1
    }
  }

  private processLine(raw: string, frames: Array<Frame>): void {
    this.lines++
    const line = raw.length > 0 && raw.charCodeAt(raw.length - 1) === CR ? raw.slice(0, -1) : raw
    if (isBlank(line)) return
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      return this.malformed("not-json")
    }
    const frame = readFrame(value)
    if (frame === undefined) return this.malformed("wrong-shape")
    frames.push(frame)
  }

  private malformed(reason: "not-json" | "wrong-shape"): void {
    if (this.options.strict) this.failure = { _tag: "Malformed", line: this.lines, reason }
    else this.skipped++
  }
}
