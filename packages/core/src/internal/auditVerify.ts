import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as AuditEntry from "../AuditEntry.js"

/** @internal */
export type BreakReason =
  | "invalid-json"
  | "invalid-entry"
  | "edited"
  | "removed-or-reordered"
  | "chain-broken"
  | "torn-tail"

/** @internal */
export interface Break {
  readonly reason: BreakReason
  readonly detail: string
}

const decodeLine = Schema.decodeUnknownEither(AuditEntry.Line, { onExcessProperty: "error" })
const decoder = new TextDecoder("utf-8", { fatal: true })

/** @internal */
export type Parsed =
  | { readonly _tag: "Ok"; readonly line: AuditEntry.Line }
  | { readonly _tag: "Bad"; readonly reason: "invalid-json" | "invalid-entry" | "edited"; readonly detail: string }

/**
 * Checks one line on its own: JSON, schema, canonical form, own hash.
 * @internal
 */
export const parseLine = (bytes: Uint8Array): Parsed => {
  let text: string
  let json: unknown
  try {
    text = decoder.decode(bytes)
    json = JSON.parse(text)
  } catch {
    return { _tag: "Bad", reason: "invalid-json", detail: "the line is not valid JSON" }
  }
  const decoded = decodeLine(json)
  if (Either.isLeft(decoded)) {
    return { _tag: "Bad", reason: "invalid-entry", detail: "the line is not a valid audit entry" }
  }
  const line = decoded.right
  if (AuditEntry.hashOf(line) !== line.hash) {
    return { _tag: "Bad", reason: "edited", detail: "the line's hash does not match its content" }
  }
  if (AuditEntry.encodeLine(line) !== text) {
    return { _tag: "Bad", reason: "edited", detail: "the line is not in the form it was written in" }
  }
  return { _tag: "Ok", line }
}

/**
 * Checks that `line` follows `head` in the chain.
 * @internal
 */
export const checkLink = (line: AuditEntry.Line, head: AuditEntry.ChainHead): Break | undefined => {
  if (line.seq !== head.seq + 1) {
    return { reason: "removed-or-reordered", detail: `expected seq ${head.seq + 1}, found ${line.seq}` }
  }
  if (line.prevHash !== head.hash) {
    return { reason: "chain-broken", detail: "prevHash does not match the previous line's hash" }
  }
  return undefined
}

/** @internal */
export interface Summary {
  readonly lines: number
  readonly entries: number
  readonly recoveries: number
  readonly head: AuditEntry.ChainHead
}

/**
 * Verifies a log fed in chunks, keeping only the current partial line in memory.
 * @internal
 */
export class LineVerifier {
  private head: AuditEntry.ChainHead = AuditEntry.genesis
  private lines = 0
  private entries = 0
  private recoveries = 0
  private pending: Array<Uint8Array> = []
  private pendingLength = 0
  broken: (Break & { readonly line: number }) | undefined = undefined

  feed(chunk: Uint8Array): void {
    let start = 0
    while (this.broken === undefined) {
      const newline = chunk.indexOf(0x0a, start)
      if (newline === -1) {
        if (start < chunk.length) {
          const rest = chunk.subarray(start)
          this.pending.push(rest)
          this.pendingLength += rest.length
        }
        return
      }
      this.line(this.take(chunk.subarray(start, newline)))
      start = newline + 1
    }
  }

  finish(): Summary | (Break & { readonly line: number }) {
    if (this.broken === undefined && this.pendingLength > 0) {
      this.broken = { line: this.lines + 1, reason: "torn-tail", detail: "the last line has no trailing newline" }
    }
    if (this.broken !== undefined) return this.broken
    return { lines: this.lines, entries: this.entries, recoveries: this.recoveries, head: this.head }
  }

  private take(piece: Uint8Array): Uint8Array {
    if (this.pending.length === 0) return piece
    const out = new Uint8Array(this.pendingLength + piece.length)
    let offset = 0
    for (const p of this.pending) {
      out.set(p, offset)
      offset += p.length
    }
    out.set(piece, offset)
    this.pending = []
    this.pendingLength = 0
    return out
  }

  private line(bytes: Uint8Array): void {
    const number = this.lines + 1
    const parsed = parseLine(bytes)
    if (parsed._tag === "Bad") {
      this.broken = { line: number, reason: parsed.reason, detail: parsed.detail }
      return
    }
    const linkBreak = checkLink(parsed.line, this.head)
    if (linkBreak !== undefined) {
      this.broken = { line: number, ...linkBreak }
      return
    }
    this.lines = number
    this.head = { seq: parsed.line.seq, hash: parsed.line.hash }
    if (parsed.line.kind === "call") this.entries++
    else this.recoveries++
  }
}
