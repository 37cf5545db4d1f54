/**
 * The text the safety rules read: a normalised view of the original, with a map from its positions back to the
 * original's, so that a finding in the view redacts the original characters it came from.
 *
 * The view is the NFKC form of each character together with its combining marks (fullwidth letters and digits,
 * no-break spaces, fullwidth colons and the like become their plain forms), with the default-ignorable code
 * points removed (zero-width spaces and joiners, word joiners, soft hyphens, byte order marks, bidirectional
 * controls, variation selectors: characters that render as nothing). A lookalike or invisible character therefore
 * cannot hide a match.
 *
 * Linear time, whatever the input. ICU's normalisation is quadratic in a run of combining marks out of canonical
 * order (160,000 of them take seconds), so it is never given more than a bounded chunk: a character with at most
 * `MARKS_MAX` combining marks, or a run of at most `CHUNK_MAX` non-ASCII code points tested as a whole. A text of
 * ASCII only, the common case, is its own view and costs one native search.
 *
 * @internal
 */
import { ASCII_MAX } from "./chars.js"
import type { Span } from "./ruleSpec.js"

/**
 * A normalised text and the way back to the original.
 *
 * @internal
 */
export interface View {
  readonly text: string
  /** Whether the view is the original text itself (every map is the identity). */
  readonly identity: boolean
  /**
   * The original stretch a stretch of the view came from: from the start of the original piece that gave the view
   * character at `start` to the end of the one that gave the character at `end - 1`. Removed characters inside
   * the stretch are part of it; removed characters just before or after it are not.
   */
  readonly toOriginal: (start: number, end: number) => Span
  /** Where the piece that gave the view character at `index` starts in the original; the original's length at the end. */
  readonly originalAt: (index: number) => number
  /** How many view characters the original's first `index` characters gave, for an `index` between pieces. */
  readonly viewAt: (index: number) => number
}

/**
 * The most combining marks read with their base character; a longer run is cut into pieces of this size (Unicode's
 * stream-safe text format allows 30).
 *
 * @internal
 */
export const MARKS_MAX = 31

/**
 * The most non-ASCII code points tested at once for being their own NFKC form.
 *
 * @internal
 */
export const CHUNK_MAX = 64

// A UTF-16 code unit above ASCII (a range, not a negated class: V8 runs it about twice as fast).
const NON_ASCII = "[\\x80-\\uffff]"

/** @internal */
export const nonAsciiPattern = new RegExp(NON_ASCII, "g")

const hasNonAscii = new RegExp(NON_ASCII)

/**
 * A run of non-ASCII code points after one code point of any kind (an ASCII letter may carry combining marks),
 * ending before a character that is no combining mark when one comes within `CHUNK_MAX`.
 *
 * @internal
 */
export const chunkPattern = new RegExp(
  `[^]${NON_ASCII}{0,${CHUNK_MAX - 1}}(?=\\P{M}|$)|[^]${NON_ASCII}{0,${CHUNK_MAX - 1}}`,
  "uy"
)

/** @internal */
export const ignorablePattern = /\p{Default_Ignorable_Code_Point}/gu

// The same, without the global flag, for `test`.
const hasIgnorable = /\p{Default_Ignorable_Code_Point}/u
const isMarkPattern = /^\p{M}$/u

const identityView = (text: string): View => ({
  text,
  identity: true,
  toOriginal: (start, end) => ({ start, end }),
  originalAt: (index) => Math.min(index, text.length),
  viewAt: (index) => index
})

// The view as pieces, in order: piece k starts at `viewStarts[k]` in the view and `originalStarts[k]` in the
// original. An aligned piece maps one code unit to one (unchanged text, and characters replaced by one of the same
// length, such as a fullwidth digit by an ASCII one); a block maps as a whole (a character that lost or gained
// code units, with its combining marks, or an ignorable one that gave none). Consecutive aligned pieces merge.
const BLOCK = 0
const ALIGNED = 1

// The view's text. Short pieces (a character between two removed ones) go into a buffer of code units written out
// in blocks, long ones are kept as slices: a string built by a million concatenations is a rope of a million nodes.
const SLICE_MIN = 32
// String.fromCharCode.apply is several times slower per character on 4096 than on 1024.
const FLUSH_SIZE = 1024

class TextBuilder {
  private readonly parts: Array<string> = []
  private buffer = new Uint16Array(FLUSH_SIZE)
  private used = 0

  range(text: string, from: number, to: number): void {
    if (to - from >= SLICE_MIN) {
      this.flush()
      this.parts.push(text.slice(from, to))
      return
    }
    for (let i = from; i < to; i++) this.unit(text.charCodeAt(i))
  }

  string(content: string): void {
    this.range(content, 0, content.length)
  }

  build(): string {
    this.flush()
    return this.parts.length === 1 ? this.parts[0] : this.parts.join("")
  }

  private unit(c: number): void {
    if (this.used === FLUSH_SIZE) this.flush()
    this.buffer[this.used++] = c
  }

  private flush(): void {
    if (this.used === 0) return
    this.parts.push(String.fromCharCode.apply(null, this.buffer.subarray(0, this.used) as unknown as Array<number>))
    this.used = 0
  }
}

class Builder {
  private readonly text = new TextBuilder()
  private viewStarts = new Int32Array(16)
  private originalStarts = new Int32Array(16)
  private kinds = new Uint8Array(16)
  private pieces = 0
  private viewLength = 0
  // Where the original text still to be copied as it is starts, or -1.
  private copyFrom = -1
  private changed = false

  constructor(private readonly original: string) {}

  /** `[from, to)` of the original, as it is (`content` undefined) or replaced by as many code units. */
  aligned(from: number, to: number, content?: string): void {
    if (to <= from) return
    if (this.pieces === 0 || this.kinds[this.pieces - 1] !== ALIGNED) this.push(from, ALIGNED)
    if (content === undefined) {
      if (this.copyFrom < 0) this.copyFrom = from
    } else {
      this.copy(from)
      this.text.string(content)
      this.changed = true
    }
    this.viewLength += to - from
  }

  /** `[from, ...)` of the original replaced by `content` as a whole. */
  block(from: number, content: string): void {
    this.copy(from)
    this.push(from, BLOCK)
    this.text.string(content)
    this.viewLength += content.length
    this.changed = true
  }

  build(): View {
    if (!this.changed) return identityView(this.original)
    this.copy(this.original.length)
    // The last entry holds the two lengths.
    this.push(this.original.length, ALIGNED)
    const n = this.pieces
    return makeView(
      this.original,
      this.text.build(),
      this.viewStarts.subarray(0, n),
      this.originalStarts.subarray(0, n),
      this.kinds.subarray(0, n)
    )
  }

  private copy(upTo: number): void {
    if (this.copyFrom < 0) return
    this.text.range(this.original, this.copyFrom, upTo)
    this.copyFrom = -1
  }

  private push(from: number, kind: number): void {
    if (this.pieces === this.kinds.length) this.grow()
    this.viewStarts[this.pieces] = this.viewLength
    this.originalStarts[this.pieces] = from
    this.kinds[this.pieces] = kind
    this.pieces++
  }

  private grow(): void {
    const size = this.kinds.length * 2
    const viewStarts = new Int32Array(size)
    viewStarts.set(this.viewStarts)
    this.viewStarts = viewStarts
    const originalStarts = new Int32Array(size)
    originalStarts.set(this.originalStarts)
    this.originalStarts = originalStarts
    const kinds = new Uint8Array(size)
    kinds.set(this.kinds)
    this.kinds = kinds
  }
}

// Piece k covers `[viewStarts[k], viewStarts[k + 1])` of the view; the last entry holds the two lengths.
const makeView = (
  original: string,
  text: string,
  viewStarts: Int32Array,
  originalStarts: Int32Array,
  kinds: Uint8Array
): View => {
  const last = kinds.length - 1
  // The last piece starting at or before `index` in `starts` (for view positions: the one that gives the character
  // there, since pieces of no characters start where the next one does).
  const pieceOf = (starts: Int32Array, index: number): number => {
    let low = 0
    let high = last - 1
    while (low < high) {
      const middle = (low + high + 1) >> 1
      if (starts[middle] <= index) low = middle
      else high = middle - 1
    }
    return low
  }
  const originalAt = (index: number): number => {
    if (index >= text.length) return original.length
    const k = pieceOf(viewStarts, index)
    return kinds[k] === ALIGNED ? originalStarts[k] + index - viewStarts[k] : originalStarts[k]
  }
  return {
    text,
    identity: false,
    toOriginal: (start, end) => {
      if (end <= start) return { start: originalAt(start), end: originalAt(start) }
      const k = pieceOf(viewStarts, end - 1)
      return {
        start: originalAt(start),
        end: kinds[k] === ALIGNED ? originalStarts[k] + end - viewStarts[k] : originalStarts[k + 1]
      }
    },
    originalAt,
    viewAt: (index) => {
      if (index >= original.length) return text.length
      const k = pieceOf(originalStarts, index)
      return kinds[k] === ALIGNED ? viewStarts[k] + index - originalStarts[k] : viewStarts[k]
    }
  }
}

const HIGH_SURROGATE_MIN = 0xd800
const HIGH_SURROGATE_MAX = 0xdbff
const LOW_SURROGATE_MIN = 0xdc00
const LOW_SURROGATE_MAX = 0xdfff

// Per call, what is known of each code point seen: its NFKC form alone ("" when ignorable) and whether it is a
// combining mark. Bounded by the distinct code points of the text.
interface CodePoint {
  readonly normal: string
  readonly same: boolean
  readonly mark: boolean
}

const codePointAt = (text: string, i: number, end: number): number => {
  const c = text.charCodeAt(i)
  if (c < HIGH_SURROGATE_MIN || c > HIGH_SURROGATE_MAX || i + 1 >= end) return c
  const d = text.charCodeAt(i + 1)
  return d >= LOW_SURROGATE_MIN && d <= LOW_SURROGATE_MAX
    ? (c - HIGH_SURROGATE_MIN) * 0x400 + d - LOW_SURROGATE_MIN + 0x10000
    : c
}

const describe = (cache: Map<number, CodePoint>, cp: number): CodePoint => {
  let known = cache.get(cp)
  if (known === undefined) {
    const raw = String.fromCodePoint(cp)
    const normal = hasIgnorable.test(raw) ? "" : raw.normalize("NFKC")
    known = { normal, same: normal === raw, mark: isMarkPattern.test(raw) }
    cache.set(cp, known)
  }
  return known
}

// A stretch that is not its own normal form, one character with its combining marks at a time. Characters that
// map to as many code units are gathered into one aligned piece.
const normaliseCharacters = (
  text: string,
  from: number,
  to: number,
  builder: Builder,
  cache: Map<number, CodePoint>
): void => {
  let alignedFrom = from
  let aligned = ""
  let i = from
  while (i < to) {
    const cp = codePointAt(text, i, to)
    let end = i + (cp > 0xffff ? 2 : 1)
    let marks = 0
    while (end < to && marks < MARKS_MAX) {
      const next = codePointAt(text, end, to)
      if (next <= ASCII_MAX || !describe(cache, next).mark) break
      end += next > 0xffff ? 2 : 1
      marks++
    }
    const normal = marks === 0
      ? cp <= ASCII_MAX ? text[i] : describe(cache, cp).normal
      : text.slice(i, end).replace(ignorablePattern, "").normalize("NFKC")
    if (normal.length === end - i && (marks === 0 || normal === text.slice(i, end))) {
      aligned += normal
    } else {
      builder.aligned(alignedFrom, i, aligned)
      builder.block(i, normal)
      alignedFrom = end
      aligned = ""
    }
    i = end
  }
  builder.aligned(alignedFrom, to, aligned)
}

/**
 * The normalised view of a text.
 *
 * @internal
 */
export const view = (text: string): View => {
  if (!hasNonAscii.test(text)) return identityView(text)
  const builder = new Builder(text)
  const cache = new Map<number, CodePoint>()
  let i = 0
  while (i < text.length) {
    nonAsciiPattern.lastIndex = i
    const next = nonAsciiPattern.exec(text)
    if (next === null) break
    const at = next.index
    const cp = codePointAt(text, at, text.length)
    const after = at + (cp > 0xffff ? 2 : 1)
    const known = describe(cache, cp)
    // The common case, a lone character between ASCII ones (a curly quote, a no-break space, a zero-width space):
    // its own normal form is its view.
    if (!known.mark && (after >= text.length || text.charCodeAt(after) <= ASCII_MAX)) {
      builder.aligned(i, at)
      if (known.same) builder.aligned(at, after)
      else if (known.normal.length === after - at) builder.aligned(at, after, known.normal)
      else builder.block(at, known.normal)
      i = after
      continue
    }
    // The ASCII character before a run of non-ASCII ones goes with it: it may be the base of a combining mark.
    const start = at > i ? at - 1 : at
    builder.aligned(i, start)
    chunkPattern.lastIndex = start
    const chunk = chunkPattern.exec(text)
    const end = start + (chunk === null ? 1 : chunk[0].length)
    const raw = text.slice(start, end)
    if (!hasIgnorable.test(raw) && raw.normalize("NFKC") === raw) builder.aligned(start, end)
    else normaliseCharacters(text, start, end, builder, cache)
    i = end
  }
  nonAsciiPattern.lastIndex = 0
  builder.aligned(i, text.length)
  return builder.build()
}
