import { charactersPerToken } from "@genesys-llm/core/TokenEstimator"
import { PCGRandom } from "effect/Utils"

/**
 * What one answer sends: its content frames and its usage. A plan is a value: replaying a key replays the plan,
 * so the frames and the usage are the same bytes every time. Frames are produced on demand, never held whole
 * when the reply is large.
 *
 * @internal
 */
export interface ReplyPlan {
  readonly frameCount: number
  readonly frame: (index: number) => string
  readonly completionTokens: number
  readonly characters: number
}

// Contact-center words, with a few non-ASCII ones so that replies carry 2-, 3- and 4-byte UTF-8 characters and
// byte slicing exercises a client's decoder without any special option.
const WORDS: ReadonlyArray<string> = [
  "the",
  "customer",
  "order",
  "account",
  "refund",
  "shipping",
  "agent",
  "queue",
  "callback",
  "invoice",
  "delivery",
  "status",
  "update",
  "confirmed",
  "within",
  "two",
  "business",
  "days",
  "please",
  "note",
  "that",
  "your",
  "request",
  "has",
  "been",
  "received",
  "and",
  "is",
  "being",
  "reviewed",
  "café",
  "naïve",
  "façade",
  "über",
  "smörgåsbord",
  "日本語",
  "señor",
  "👋",
  "✓"
]

const ASCII_WORDS = WORDS.filter((w) => /^[\x20-\x7e]+$/.test(w))

/** The seed of a body: the first 32 bits of its sha256 (hex). */
export const seedOf = (sha256Hex: string): number => Number.parseInt(sha256Hex.slice(0, 8), 16)

/**
 * The text a prompt gets: a fixed opening naming the size of the prompt (never its text), then 8 to 47 words
 * drawn from the seed by Effect's PCG (the generator behind `Random.make`).
 */
export const composeText = (seed: number, messages: number): string => {
  const random = new PCGRandom(seed)
  const count = 8 + random.integer(40)
  const words: Array<string> = []
  for (let i = 0; i < count; i++) words.push(WORDS[random.integer(WORDS.length)])
  return `Simulated reply to ${messages} message${messages === 1 ? "" : "s"}: ${words.join(" ")}.`
}

/**
 * Cuts a text so that its estimated tokens (4 characters a token) stay within `maxTokens`: at the last space
 * that fits, or at a code point boundary when no space does. Surrogate pairs are never split.
 */
export const truncateToTokens = (text: string, maxTokens: number): string => {
  const limit = maxTokens * charactersPerToken
  if (text.length <= limit) return text
  let end = limit
  // Do not split a surrogate pair.
  const code = text.charCodeAt(end - 1)
  if (code >= 0xd800 && code <= 0xdbff) end -= 1
  const space = text.lastIndexOf(" ", end)
  if (space > 0) end = space
  return text.slice(0, end)
}

export const tokensOf = (characters: number): number => Math.ceil(characters / charactersPerToken)

/**
 * Splits a text into frames of at most `frameChars` UTF-16 units, at word boundaries where possible (a frame
 * carries a word and the space after it); a word longer than a frame is cut at code point boundaries.
 */
export const splitFrames = (text: string, frameChars: number): ReadonlyArray<string> => {
  const frames: Array<string> = []
  let current = ""
  const pieces = text.split(/(?<= )/)
  for (const piece of pieces) {
    if (current.length + piece.length <= frameChars) {
      current += piece
      continue
    }
    if (current.length > 0) frames.push(current)
    current = ""
    if (piece.length <= frameChars) {
      current = piece
      continue
    }
    let part = ""
    for (const ch of piece) {
      if (part.length + ch.length > frameChars && part.length > 0) {
        frames.push(part)
        part = ""
      }
      part += ch
    }
    current = part
  }
  if (current.length > 0) frames.push(current)
  return frames
}

/** A plan for a text held in memory (a normal reply, bounded by `maxTokens`). */
export const textPlan = (text: string, frameChars: number): ReplyPlan => {
  const frames = splitFrames(text, frameChars)
  return {
    frameCount: frames.length,
    frame: (index) => frames[index],
    completionTokens: tokensOf(text.length),
    characters: text.length
  }
}

const BLOCK_SIZE = 65_536

/**
 * A plan for a reply of `bytes` ASCII bytes, generated on demand from a 64 KiB block of words: memory stays
 * constant whatever the size (benchmarks stream hundreds of megabytes through it).
 */
export const sizedPlan = (bytes: number, frameChars: number, seed: number): ReplyPlan => {
  const random = new PCGRandom(seed)
  let block = ""
  while (block.length < BLOCK_SIZE) block += ASCII_WORDS[random.integer(ASCII_WORDS.length)] + " "
  block = block.slice(0, BLOCK_SIZE)
  const doubled = block + block
  const frameCount = Math.ceil(bytes / frameChars)
  return {
    frameCount,
    frame: (index) => {
      const start = index * frameChars
      const length = Math.min(frameChars, bytes - start)
      let out = ""
      let offset = start % BLOCK_SIZE
      let remaining = length
      while (remaining > 0) {
        const take = Math.min(remaining, BLOCK_SIZE)
        out += doubled.slice(offset, offset + take)
        remaining -= take
        offset = (offset + take) % BLOCK_SIZE
      }
      return out
    },
    completionTokens: tokensOf(bytes),
    characters: bytes
  }
}
