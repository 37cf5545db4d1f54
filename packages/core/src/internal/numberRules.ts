/**
 * Rules for numbers: US social security numbers and payment card numbers. Validity (SSN ranges, the Luhn check)
 * is code, not pattern.
 *
 * @internal
 */
import { Char, digitAt, digitValue, wordAt } from "./chars.js"
import { type RuleSpec, scanPattern, type Span, whole } from "./ruleSpec.js"

// ---------------------------------------------------------------------------------------------------------------
// US social security numbers
// ---------------------------------------------------------------------------------------------------------------

const AREA = 3
const GROUP = 2
const SERIAL = 4
const SSN_DELIMITERS = ["-", " "] as const
const SSN_LENGTH = AREA + 1 + GROUP + 1 + SERIAL
// A delimiter and a digit on each side tell an SSN from a part of a longer grouped number.
const SSN_CONTEXT = 2

/**
 * `AAA-GG-SSSS` or `AAA GG SSSS`, one delimiter used twice. Nine bare digits are not matched: too many ordinary
 * numbers (order ids, phone numbers without area code) have nine digits.
 *
 * @internal
 */
export const ssnPattern = new RegExp(
  SSN_DELIMITERS.map((d) => `\\d{${AREA}}${d}\\d{${GROUP}}${d}\\d{${SERIAL}}`).join("|"),
  "g"
)

const digitsValue = (text: string, start: number, length: number): number => {
  let n = 0
  for (let i = start; i < start + length; i++) n = n * 10 + digitValue(text.charCodeAt(i))
  return n
}

/**
 * An issued SSN: area not 000, 666 or 900-999, group not 00, serial not 0000.
 *
 * @internal
 */
export const isValidSsn = (area: number, group: number, serial: number): boolean =>
  area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0

const detectSsn = (text: string): Array<Span> =>
  scanPattern(ssnPattern, text, (m, t) => {
    const { end, start } = whole(m)
    const delimiter = t[start + AREA]
    // Part of a longer word or of a longer grouped number (`1 123 45 6789`, `123-45-6789-01`) is not an SSN.
    if (wordAt(t, start - 1) || wordAt(t, end)) return undefined
    if (t[start - 1] === delimiter && digitAt(t, start - 2)) return undefined
    if (t[end] === delimiter && digitAt(t, end + 1)) return undefined
    const area = digitsValue(t, start, AREA)
    const group = digitsValue(t, start + AREA + 1, GROUP)
    const serial = digitsValue(t, start + AREA + 1 + GROUP + 1, SERIAL)
    return isValidSsn(area, group, serial) ? { start, end } : undefined
  })

/** @internal */
export const usSsn: RuleSpec = {
  id: "us-ssn",
  description: "a US social security number",
  action: "block",
  enabled: true,
  patterns: [ssnPattern],
  maxMatchLength: SSN_CONTEXT + SSN_LENGTH + SSN_CONTEXT,
  detect: detectSsn
}

// ---------------------------------------------------------------------------------------------------------------
// Payment card numbers
// ---------------------------------------------------------------------------------------------------------------

/**
 * The Luhn check over a string of digits.
 *
 * @internal
 */
export const luhn = (digits: string): boolean => {
  let sum = 0
  let double = false
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digitValue(digits.charCodeAt(i))
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    double = !double
  }
  return sum % 10 === 0
}

const allZero = (digits: string): boolean => {
  for (let i = 0; i < digits.length; i++) if (digits.charCodeAt(i) !== Char.digit0) return false
  return true
}

interface Group {
  readonly start: number
  readonly end: number
  // The character between this group and the next one of the same chain, if any.
  separator: string | undefined
}

const CARD_MIN = 13
const CARD_MAX = 19
const GROUP_MIN = 3
const CARD_SEPARATORS = [" ", "-"] as const
// Characters between two groups.
const CARD_SEPARATOR_MAX = 1
// Groups one card can span at most: each has at least GROUP_MIN digits and a card at most CARD_MAX.
const CARD_GROUPS = Math.floor(CARD_MAX / GROUP_MIN)
// Read before a card: the character that could glue it to a word, and the one before a hyphen (a UUID's groups).
const CARD_BEFORE = 2
// Read after a card: a separator and a digit continue the chain, a letter glues the number to a word.
const CARD_AFTER = 2
// A start group that has not been decided after this many groups could still reach the newest group.
const CHAIN_TRIM = 64

// The last group of the card that starts at `chain[from]`, or -1. `chainStart`: that group starts its chain.
const cardAt = (text: string, chain: ReadonlyArray<Group>, from: number, chainStart: boolean): number => {
  const first = chain[from]
  if (first.end - first.start < GROUP_MIN || first.end - first.start > CARD_MAX) return -1
  // A chain's first group must not continue a word (`x4111...`) or a hyphenated one (`...-4def-8123-456789012340`
  // in a UUID); later groups follow a separator.
  if (
    chainStart && (wordAt(text, first.start - 1) || (text[first.start - 1] === "-" && wordAt(text, first.start - 2)))
  ) {
    return -1
  }
  const separator = first.separator
  let digits = ""
  let best = -1
  for (let j = from; j < chain.length; j++) {
    const group = chain[j]
    const length = group.end - group.start
    if (length < GROUP_MIN || digits.length + length > CARD_MAX) break
    if (j > from && chain[j - 1].separator !== separator) break
    digits += text.slice(group.start, group.end)
    const endsWord = j === chain.length - 1 && wordAt(text, group.end)
    if (digits.length >= CARD_MIN && !endsWord && luhn(digits) && !allZero(digits)) best = j
  }
  return best
}

/**
 * Runs of digits, found natively; the card detector reads the rest of the text only around them.
 *
 * @internal
 */
export const digitRunPattern = /[0-9]+/g

/**
 * Card numbers of 13 to 19 digits that pass the Luhn check, written bare or in groups of at least three digits
 * joined by one space or one dash, the same separator throughout (`4111 1111 1111 1111`, `3714-496353-98431`).
 * A number inside a longer grouped number is still found (`4111 1111 1111 1111 123`); a number glued to letters
 * or to more digits, or continuing a hyphenated word (the last groups of a UUID), is not. All zeros is not a card.
 *
 * One pass collects the digit groups (runs of digits, found by a pattern: native code skips the rest of the text);
 * each start group extends over at most six groups, so the work is linear. The start groups that later groups can
 * no longer change are decided while the chain grows, so a chain as long as the text holds only a few groups.
 */
const detectCardNumber = (text: string): Array<Span> => {
  const spans: Array<Span> = []
  let chain: Array<Group> = []
  // The next start group to decide, and whether chain[0] is the first group of its chain.
  let next = 0
  let chainStart = true
  // Decides start groups: all of them at the end of a chain, else those whose cards cannot reach the last group.
  const decide = (final: boolean) => {
    while (next < chain.length && (final || next + CARD_GROUPS + 1 < chain.length)) {
      const last = cardAt(text, chain, next, chainStart && next === 0)
      if (last >= 0) {
        spans.push({ start: chain[next].start, end: chain[last].end })
        next = last + 1
      } else {
        next++
      }
    }
    if (final) {
      chain = []
      next = 0
      chainStart = true
    } else if (next > CHAIN_TRIM) {
      chain = chain.slice(next)
      next = 0
      chainStart = false
    }
  }
  const flush = () => decide(true)
  digitRunPattern.lastIndex = 0
  let run: RegExpExecArray | null
  while ((run = digitRunPattern.exec(text)) !== null) {
    const start = run.index
    const i = start + run[0].length
    const previous = chain.length > 0 ? chain[chain.length - 1] : undefined
    if (previous !== undefined && previous.end + CARD_SEPARATOR_MAX === start && previous.separator !== undefined) {
      chain.push({ start, end: i, separator: undefined })
      if (chain.length > 2 * CARD_GROUPS) decide(false)
    } else {
      flush()
      chain.push({ start, end: i, separator: undefined })
    }
    const after = text[i]
    const current = chain[chain.length - 1]
    if ((CARD_SEPARATORS as ReadonlyArray<string>).includes(after) && digitAt(text, i + 1)) current.separator = after
  }
  digitRunPattern.lastIndex = 0
  flush()
  return spans
}

/** @internal */
export const paymentCard: RuleSpec = {
  id: "payment-card",
  description: "a payment card number",
  action: "block",
  enabled: true,
  patterns: [digitRunPattern],
  maxMatchLength: CARD_BEFORE + CARD_MAX + (CARD_GROUPS - 1) * CARD_SEPARATOR_MAX + CARD_AFTER,
  detect: detectCardNumber
}
