import * as SafetyPolicy from "../SafetyPolicy.js"

/**
 * A streaming redactor over a reply that arrives in pieces. Every finding in what it releases is redacted,
 * whatever the rule's action: a reply that is already streaming cannot be blocked.
 *
 * What it holds back:
 * - the last `shortHold` characters, the largest `maxMatchLength` of the enabled rules without an `anchor`
 *   (a few hundred characters with the default rules), so that none of their findings is released half-seen, and
 *   at least `ANCHOR_MAX` when a rule has an anchor, so that no anchor is released half-seen;
 * - for a rule with an `anchor` (a long finding that always starts at a match of it, such as a PEM block at
 *   `-----BEGIN` or a JWT at `Bearer`), everything from an anchor match that is less than the rule's
 *   `maxMatchLength` from the end of the text seen: only then could a finding starting there still be incomplete.
 *
 * Each scan covers the held text and up to `shortHold` characters already released before it (an assignment's
 * value depends on its keyword). The cut is moved back to the start of any finding that crosses it. A scan runs
 * only after `shortHold` new characters arrived since the last one, so each character is scanned a bounded number
 * of times: the guard is linear in the reply, and what it holds is bounded by the rules' match lengths.
 */
export interface OutputGuard {
  /** Takes the next piece of the reply and returns what may be released now (possibly ""). */
  readonly push: (text: string) => string
  /** Releases everything held, redacted: the end of the reply. */
  readonly flush: () => string
  /** Findings redacted in what was released so far. */
  readonly redactions: () => number
}

/**
 * The longest match of a rule's `anchor` the guard allows for (the built-in anchors are at most 11 characters).
 *
 * @internal
 */
export const ANCHOR_MAX = 64

/**
 * The guard needs every enabled rule's `maxMatchLength` to be finite: an unbounded rule would hold the whole reply.
 * Returns the ids of the rules that make it impossible.
 *
 * @internal
 */
export const unboundedRules = (rules: ReadonlyArray<SafetyPolicy.Rule>): ReadonlyArray<string> =>
  rules.filter((r) => r.enabled && !Number.isFinite(r.maxMatchLength)).map((r) => r.id)

/** @internal */
export const make = (rules: ReadonlyArray<SafetyPolicy.Rule>): OutputGuard => {
  const enabled = rules.filter((r) => r.enabled)
  let redactions = 0
  if (enabled.length === 0) return { push: (text) => text, flush: () => "", redactions: () => 0 }
  const anchored = enabled.filter((r) => r.anchor !== undefined)
  // An anchor cut in two by a release would never be seen whole again: hold back at least its length.
  const shortHold = Math.max(
    1,
    anchored.length > 0 ? ANCHOR_MAX : 0,
    SafetyPolicy.holdBack(enabled.filter((r) => r.anchor === undefined))
  )
  let context = ""
  let pending = ""
  let nextScanAt = 2 * shortHold

  // The earliest index of `pending` from which a finding of an anchored rule could still grow.
  const anchoredCut = (window: string, offset: number, cut: number): number => {
    for (const r of anchored) {
      const anchor = new RegExp(
        r.anchor!.source,
        r.anchor!.flags.includes("g") ? r.anchor!.flags : `${r.anchor!.flags}g`
      )
      for (let m = anchor.exec(window); m !== null; m = anchor.exec(window)) {
        if (m[0].length === 0) anchor.lastIndex++
        if (window.length - m.index < r.maxMatchLength) {
          cut = Math.min(cut, Math.max(0, m.index - offset))
          break
        }
      }
    }
    return cut
  }

  const release = (final: boolean): string => {
    if (pending.length === 0) return ""
    const window = context + pending
    const findings = SafetyPolicy.scanText(enabled, window)
    const offset = context.length
    let cut = final ? pending.length : anchoredCut(window, offset, pending.length - shortHold)
    if (!final) {
      // Moving the cut back may make it cross an earlier finding: repeat until no finding crosses it.
      let moved = true
      while (moved && cut > 0) {
        moved = false
        for (const f of findings) {
          const start = f.start - offset
          const end = f.end - offset
          if (start < cut && end > cut) {
            cut = Math.max(0, start)
            moved = true
          }
        }
      }
    }
    if (cut <= 0) return ""
    const out: Array<SafetyPolicy.Finding> = []
    for (const f of findings) {
      const start = Math.max(0, f.start - offset)
      const end = Math.min(cut, f.end - offset)
      if (end > start) out.push({ ...f, start, end })
    }
    const raw = pending.slice(0, cut)
    pending = pending.slice(cut)
    context = (context + raw).slice(-shortHold)
    const released = SafetyPolicy.redactText(raw, out)
    redactions += countMerged(out)
    return released
  }

  return {
    push: (text) => {
      pending += text
      if (pending.length < nextScanAt) return ""
      const released = release(false)
      nextScanAt = pending.length + shortHold
      return released
    },
    flush: () => release(true),
    redactions: () => redactions
  }
}

// Overlapping findings become one marker, as redactText merges them.
const countMerged = (findings: ReadonlyArray<SafetyPolicy.Finding>): number => {
  const sorted = [...findings].sort((a, b) => a.start - b.start)
  let count = 0
  let end = -1
  for (const f of sorted) {
    if (f.start >= end) count++
    end = Math.max(end, f.end)
  }
  return count
}
