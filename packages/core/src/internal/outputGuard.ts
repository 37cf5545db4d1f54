import * as SafetyPolicy from "../SafetyPolicy.js"

/**
 * A streaming redactor over a reply that arrives in pieces. It holds back the last `holdBack(rules)` characters so
 * that no finding is released half-seen, scans the held text together with up to `holdBack` characters already
 * released before it (an assignment's value depends on its keyword), releases up to `holdBack` characters from
 * the end with the cut moved back to the start of any finding that crosses it, and redacts every finding in what
 * it releases, whatever the rule's action: a reply that is already streaming cannot be blocked.
 *
 * Scans run only when at least `2 * holdBack` characters are held, so each character is scanned a bounded number
 * of times: the guard is linear in the reply.
 */
export interface OutputGuard {
  /** Takes the next piece of the reply and returns what may be released now (possibly ""). */
  readonly push: (text: string) => string
  /** Releases everything held, redacted: the end of the reply. */
  readonly flush: () => string
}

/** @internal */
export const make = (rules: ReadonlyArray<SafetyPolicy.Rule>): OutputGuard => {
  const enabled = rules.filter((r) => r.enabled)
  const hold = SafetyPolicy.holdBack(enabled)
  if (enabled.length === 0) return { push: (text) => text, flush: () => "" }
  let context = ""
  let pending = ""

  const release = (final: boolean): string => {
    if (pending.length === 0) return ""
    const findings = SafetyPolicy.scanText(enabled, context + pending)
    const offset = context.length
    let cut = final ? pending.length : pending.length - hold
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
    context = Number.isFinite(hold) ? (context + raw).slice(-hold) : context + raw
    return SafetyPolicy.redactText(raw, out)
  }

  return {
    push: (text) => {
      pending += text
      return Number.isFinite(hold) && pending.length >= 2 * hold ? release(false) : ""
    },
    flush: () => release(true)
  }
}
