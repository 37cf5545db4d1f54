/**
 * The shape of a built-in rule's data, and the pattern loop the detectors share.
 *
 * @internal
 */

/** @internal */
export interface Span {
  readonly start: number
  readonly end: number
}

/** @internal */
export type Action = "block" | "redact"

/**
 * Fixed strings of which every match contains at least one: a text holding none of them cannot match, so the
 * detector is skipped (`indexOf` is native and costs a fraction of a nanosecond a character). `ignoreCase` compares
 * with the text in lower case; the needles are then written in lower case.
 *
 * `indexOf` stops at every occurrence of a needle's first character, so a needle that starts with a rare one is
 * several times cheaper on prose: `yJ` rather than `eyJ`, `k-` rather than `sk-` (1.5 and 0.2 µs per KB).
 *
 * @internal
 */
export interface Prefilter {
  readonly needles: ReadonlyArray<string>
  readonly ignoreCase?: boolean | undefined
}

/**
 * Everything about one built-in rule, in one place: `SafetyPolicy.defaultRules` and the list of patterns the
 * ReDoS test checks are both derived from these records.
 *
 * `maxMatchLength` is computed from the constants the patterns and the detector use, so a changed bound moves
 * both. `patterns` lists every regular expression the detector runs.
 *
 * @internal
 */
export interface RuleSpec {
  readonly id: string
  readonly description: string
  readonly action: Action
  readonly enabled: boolean
  readonly patterns: ReadonlyArray<RegExp>
  readonly maxMatchLength: number
  readonly anchor?: RegExp | undefined
  readonly prefilter?: Prefilter | undefined
  readonly detect: (text: string) => Array<Span>
}

/**
 * Whether a text may hold a match: it contains one of the needles.
 *
 * @internal
 */
export const mayMatch = (prefilter: Prefilter, text: string): boolean => {
  const haystack = prefilter.ignoreCase === true ? text.toLowerCase() : text
  for (const needle of prefilter.needles) if (haystack.indexOf(needle) >= 0) return true
  return false
}

/**
 * The rule's detector behind its prefilter.
 *
 * @internal
 */
export const detector = (spec: RuleSpec): (text: string) => Array<Span> => {
  const prefilter = spec.prefilter
  const detect = spec.detect
  return prefilter === undefined ? detect : (text) => mayMatch(prefilter, text) ? detect(text) : []
}

/**
 * Runs a global pattern over the text; `accept` turns a candidate into a span or rejects it. A rejected candidate
 * restarts the search one character after its start, an accepted one after its end.
 *
 * @internal
 */
export const scanPattern = (
  pattern: RegExp,
  text: string,
  accept: (match: RegExpExecArray, text: string) => Span | undefined
): Array<Span> => {
  const spans: Array<Span> = []
  // The regex objects are shared; scanning is synchronous, so resetting lastIndex keeps each call independent.
  pattern.lastIndex = 0
  let match: RegExpExecArray | null
  while ((match = pattern.exec(text)) !== null) {
    const span = accept(match, text)
    if (span === undefined || span.end <= span.start) {
      pattern.lastIndex = match.index + 1
    } else {
      spans.push(span)
      pattern.lastIndex = Math.max(span.end, match.index + 1)
    }
  }
  pattern.lastIndex = 0
  return spans
}

/** @internal */
export const whole = (match: RegExpExecArray): Span => ({ start: match.index, end: match.index + match[0].length })

/**
 * Merges two lists of spans, each in order of start, into one (the first list first on a tie), in linear time.
 *
 * @internal
 */
export const mergeOrdered = (first: Array<Span>, second: Array<Span>): Array<Span> => {
  if (second.length === 0) return first
  if (first.length === 0) return second
  const merged: Array<Span> = []
  let a = 0
  let b = 0
  while (a < first.length && b < second.length) merged.push(second[b].start < first[a].start ? second[b++] : first[a++])
  while (a < first.length) merged.push(first[a++])
  while (b < second.length) merged.push(second[b++])
  return merged
}
