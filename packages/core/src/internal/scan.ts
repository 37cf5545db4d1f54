/**
 * Scanning a text with rules: each rule's detector runs over the normalised view, and its spans are mapped back
 * to the original text, where redaction replaces them.
 *
 * @internal
 */
import type * as Normalize from "./normalize.js"
import type { Action, Span } from "./ruleSpec.js"

/** What scanning needs of a rule. @internal */
export interface ScanRule {
  readonly id: string
  readonly action: Action
  readonly enabled: boolean
  readonly detect: (text: string) => ReadonlyArray<Span>
}

/** @internal */
export interface Finding {
  readonly ruleId: string
  readonly action: Action
  readonly start: number
  readonly end: number
}

/** @internal */
export const byPosition = (a: Finding, b: Finding): number => a.start - b.start || b.end - a.end

/**
 * Findings usually come in order already (one rule found them all, or the rules' findings do not interleave): a
 * linear check spares the n log n sort, so a text with a finding every few characters still costs the same per KB.
 *
 * @internal
 */
export const inOrder = (findings: ReadonlyArray<Finding>): boolean => {
  for (let i = 1; i < findings.length; i++) if (byPosition(findings[i - 1], findings[i]) > 0) return false
  return true
}

/**
 * Every finding of the enabled rules in the view's original text, ordered by start (longer first on a tie). Spans
 * a detector returns outside the view, or empty, are dropped.
 *
 * @internal
 */
export const scanView = (rules: ReadonlyArray<ScanRule>, view: Normalize.View): Array<Finding> => {
  const findings: Array<Finding> = []
  const length = view.text.length
  for (const r of rules) {
    if (!r.enabled) continue
    for (const span of r.detect(view.text)) {
      const start = Math.max(0, span.start)
      const end = Math.min(length, span.end)
      if (end <= start) continue
      const original = view.identity ? { start, end } : view.toOriginal(start, end)
      findings.push({ ruleId: r.id, action: r.action, start: original.start, end: original.end })
    }
  }
  return inOrder(findings) ? findings : findings.sort(byPosition)
}
