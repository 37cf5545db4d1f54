import * as SafetyPolicy from "../SafetyPolicy.js"
import * as Normalize from "./normalize.js"
import * as Scan from "./scan.js"

/**
 * A streaming redactor over a reply that arrives in pieces. Every finding in what it releases is redacted,
 * whatever the rule's action: a reply that is already streaming cannot be blocked.
 *
 * What it holds back:
 * - the last `shortHold` characters, the largest `maxMatchLength` of the enabled rules without an `anchor`
 *   (a few hundred characters with the default rules), so that none of their findings is released half-seen, and
 *   at least `ANCHOR_MAX` when a rule has an anchor, so that no anchor is released half-seen;
 * - for a rule with an `anchor` (a long finding that always starts at a match of it, such as a PEM block at
 *   `-----BEGIN` or a JWT at `eyJ`), everything from an anchor match that is less than the rule's
 *   `maxMatchLength` from the end of the text seen: only then could a finding starting there still be incomplete.
 *
 * Lengths are counted in the normalised view the rules read (see `SafetyPolicy.scanText`): a finding spread out by
 * invisible characters is longer in the reply than in the view, and is held back whole. So that a flood of such
 * characters cannot make the guard hold a whole reply, it never holds more than `HOLD_SLACK` times those lengths
 * in characters of the reply; a finding spread wider than that may be released in pieces.
 *
 * Each scan covers the held text and the released text that gave the last `shortHold` view characters (an
 * assignment's value depends on its keyword). The cut is moved back to the start of any finding that crosses it. A
 * scan runs only after `shortHold` new characters arrived since the last one, so each character is scanned a
 * bounded number of times: the guard is linear in the reply, and what it holds is bounded by the rules' match
 * lengths.
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
 * How many reply characters the guard may hold for each view character it must hold.
 *
 * @internal
 */
export const HOLD_SLACK = 8

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
  const holdLimit = HOLD_SLACK * shortHold
  let context = ""
  let pending = ""
  let nextScanAt = 2 * shortHold

  // The earliest index of `window` from which a finding of an anchored rule could still grow.
  const anchoredCut = (view: Normalize.View, window: string, cut: number): number => {
    for (const r of anchored) {
      const anchor = new RegExp(
        r.anchor!.source,
        r.anchor!.flags.includes("g") ? r.anchor!.flags : `${r.anchor!.flags}g`
      )
      for (let m = anchor.exec(view.text); m !== null; m = anchor.exec(view.text)) {
        if (m[0].length === 0) anchor.lastIndex++
        if (view.text.length - m.index < r.maxMatchLength) {
          const start = view.originalAt(m.index)
          if (window.length - start <= HOLD_SLACK * r.maxMatchLength) cut = Math.min(cut, start)
          break
        }
      }
    }
    return cut
  }

  // Moving the cut back may make it cross an earlier finding: repeat until no finding crosses it.
  const outsideFindings = (findings: ReadonlyArray<Scan.Finding>, cut: number, floor: number): number => {
    let moved = true
    while (moved && cut > floor) {
      moved = false
      for (const f of findings) {
        if (f.start < cut && f.end > cut) {
          cut = Math.max(floor, f.start)
          moved = true
        }
      }
    }
    return cut
  }

  const release = (final: boolean): string => {
    if (pending.length === 0) return ""
    const window = context + pending
    const offset = context.length
    const view = Normalize.view(window)
    const findings = Scan.scanView(enabled, view)
    // Positions in `window`: hold the text the last `shortHold` view characters came from, within the limit.
    let cut = window.length
    if (!final) {
      const held = Math.max(view.originalAt(Math.max(0, view.text.length - shortHold)), window.length - holdLimit)
      cut = outsideFindings(findings, anchoredCut(view, window, held), offset)
    }
    if (cut <= offset) return ""
    const out: Array<Scan.Finding> = []
    for (const f of findings) {
      const start = Math.max(0, f.start - offset)
      const end = Math.min(cut, f.end) - offset
      if (end > start) out.push({ ...f, start, end })
    }
    const raw = window.slice(offset, cut)
    pending = window.slice(cut)
    // The released text that gave the last `shortHold` view characters before the cut, within the limit.
    const contextStart = Math.max(view.originalAt(Math.max(0, view.viewAt(cut) - shortHold)), cut - holdLimit, 0)
    context = window.slice(contextStart, cut)
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
