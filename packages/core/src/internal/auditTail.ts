import * as AuditEntry from "../AuditEntry.js"
import { checkLink, parseLine } from "./auditVerify.js"

/** @internal */
export type TailState =
  | { readonly _tag: "Clean"; readonly head: AuditEntry.ChainHead }
  | {
    readonly _tag: "Torn"
    readonly head: AuditEntry.ChainHead
    readonly goodSize: number
    readonly reason: AuditEntry.RecoveryReason
  }
  | { readonly _tag: "Corrupt"; readonly detail: string }
  | { readonly _tag: "NeedMore" }

interface Segment {
  readonly start: number
  readonly end: number
}

const reasonOf = (reason: string): AuditEntry.RecoveryReason =>
  reason === "invalid-json" ? "invalid-json" : reason === "chain-broken" || reason === "removed-or-reordered"
    ? "chain-broken"
    : "invalid-entry"

/**
 * Looks at the end of a log: `window` holds its last bytes, from absolute offset `windowStart`. Only what a
 * crash can leave is repaired: a trailing fragment without a newline, or a last complete line that is not a
 * good continuation of the chain. Whatever remains must end in a good line (self-consistent and linked to its
 * predecessor), else the log is corrupt in its body, which is `verify`'s business, not recovery's.
 *
 * Returns `NeedMore` when the window does not reach far enough back to decide.
 * @internal
 */
export const inspectTail = (window: Uint8Array, windowStart: number): TailState => {
  const atFileStart = windowStart === 0
  const lines: Array<Segment> = []
  let start = 0
  let first = true
  for (;;) {
    const newline = window.indexOf(0x0a, start)
    if (newline === -1) break
    // Before the first newline of a window that does not begin the file sits part of a line: unusable.
    if (!first || atFileStart) lines.push({ start, end: newline })
    first = false
    start = newline + 1
  }
  const hasFragment = start < window.length

  // Is lines[i] a good last line? Returns undefined when the window is too short to tell.
  const check = (i: number): { ok: true; head: AuditEntry.ChainHead } | { ok: false; reason: string } | undefined => {
    const parsed = parseLine(window.subarray(lines[i].start, lines[i].end))
    if (parsed._tag === "Bad") return { ok: false, reason: parsed.reason }
    let previous: AuditEntry.ChainHead
    if (i > 0) {
      const before = parseLine(window.subarray(lines[i - 1].start, lines[i - 1].end))
      if (before._tag === "Bad") return { ok: false, reason: "body" }
      previous = { seq: before.line.seq, hash: before.line.hash }
    } else if (atFileStart) {
      previous = AuditEntry.genesis
    } else {
      return undefined
    }
    const linkBreak = checkLink(parsed.line, previous)
    return linkBreak === undefined
      ? { ok: true, head: { seq: parsed.line.seq, hash: parsed.line.hash } }
      : { ok: false, reason: linkBreak.reason }
  }

  const last = lines.length - 1
  if (hasFragment) {
    if (last < 0) {
      return atFileStart ? { _tag: "Torn", head: AuditEntry.genesis, goodSize: 0, reason: "no-trailing-newline" } : {
        _tag: "NeedMore"
      }
    }
    const result = check(last)
    if (result === undefined) return { _tag: "NeedMore" }
    if (!result.ok) return { _tag: "Corrupt", detail: "the line before a torn tail is not a good entry" }
    return {
      _tag: "Torn",
      head: result.head,
      goodSize: windowStart + lines[last].end + 1,
      reason: "no-trailing-newline"
    }
  }
  if (last < 0) {
    return atFileStart ? { _tag: "Clean", head: AuditEntry.genesis } : { _tag: "NeedMore" }
  }
  const result = check(last)
  if (result === undefined) return { _tag: "NeedMore" }
  if (result.ok) return { _tag: "Clean", head: result.head }
  if (result.reason === "body") return { _tag: "Corrupt", detail: "the line before the last is not a good entry" }
  const reason = reasonOf(result.reason)
  if (last === 0) {
    return atFileStart ? { _tag: "Torn", head: AuditEntry.genesis, goodSize: 0, reason } : { _tag: "NeedMore" }
  }
  const previous = check(last - 1)
  if (previous === undefined) return { _tag: "NeedMore" }
  if (!previous.ok) return { _tag: "Corrupt", detail: "the line before an invalid last line is not a good entry" }
  return { _tag: "Torn", head: previous.head, goodSize: windowStart + lines[last - 1].end + 1, reason }
}
