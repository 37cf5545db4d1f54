/**
 * Rules for numbers: US social security numbers and payment card numbers. Validity (SSN ranges, the Luhn check)
 * is code, not pattern.
 *
 * @internal
 */
import { Char, DASHES, digitAt, digitValue, isDash, wordAt } from "./chars.js"
import { type RuleSpec, scanPattern, type Span, whole } from "./ruleSpec.js"

// ---------------------------------------------------------------------------------------------------------------
// US social security numbers
// ---------------------------------------------------------------------------------------------------------------

const AREA = 3
const GROUP = 2
const SERIAL = 4
// One of these between the parts, the same one twice (after NFKC, so no-break spaces and fullwidth forms are these).
const SSN_DELIMITERS = `- ./${DASHES}`
const SSN_LENGTH = AREA + 1 + GROUP + 1 + SERIAL
// A delimiter and a digit on each side tell an SSN from a part of a longer grouped number.
const SSN_CONTEXT = 2

// The delimiters as a character class, the hyphen first so that it is no range.
const ssnDelimiter = `[${SSN_DELIMITERS}]`

/**
 * `AAA-GG-SSSS`, with a hyphen, a space, a dot, a slash or a dash, the same one twice (code checks that they are
 * the same). Nine bare digits are not matched: too many ordinary numbers (order ids, phone numbers without area
 * code) have nine digits.
 *
 * @internal
 */
export const ssnPattern = new RegExp(`\\d{${AREA}}${ssnDelimiter}\\d{${GROUP}}${ssnDelimiter}\\d{${SERIAL}}`, "g")

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
    if (t[start + AREA + 1 + GROUP] !== delimiter) return undefined
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

// Between two groups of a card: one to CARD_SEPARATOR_MAX spaces, dots or dashes (after NFKC, no-break spaces are
// spaces).
const CARD_SEPARATOR_MAX = 3
// The separator of a group that has none, and of one followed by several characters or a run of them.
const NO_SEPARATOR = -1
const IRREGULAR = -2

interface Group {
  readonly start: number
  readonly end: number
  // The code of the one character between this group and the next of its chain, IRREGULAR for several, or
  // NO_SEPARATOR when the chain ends here; `gap` is their number.
  separator: number
  gap: number
}

const CARD_MIN = 13
const CARD_MAX = 19
const GROUP_MIN = 3
// Groups one card can span at most: each has at least GROUP_MIN digits and a card at most CARD_MAX.
const CARD_GROUPS = Math.floor(CARD_MAX / GROUP_MIN)
// Read before a card: the character that could glue it to a word, and the one before a hyphen (a UUID's groups).
const CARD_BEFORE = 2
// Read after a card: a separator and a digit continue the chain, a letter glues the number to a word.
const CARD_AFTER = CARD_SEPARATOR_MAX + 1
// A start group that has not been decided after this many groups could still reach the newest group.
const CHAIN_TRIM = 64
// Only Visa issues 13-digit numbers; other 13-digit numbers are more often millisecond timestamps (1748503543012).
const THIRTEEN_DIGIT_FIRST = 4

const isCardSeparator = (c: number): boolean => c === Char.space || c === Char.dot || isDash(c)

// Doubling a digit in the Luhn check: its double, less 9 when that has two digits.
const doubled = (d: number): number => d * 2 > 9 ? d * 2 - 9 : d * 2

/**
 * The digits of a card being read group by group, with what decides whether they are a card kept up to date as
 * each digit is added: the Luhn sum for either parity (a number of n digits doubles the digits whose index from
 * the left has n's parity), whether one is not zero, and the first digit.
 */
class CardDigits {
  count = 0
  private sums = [0, 0]
  private nonZero = false
  private first = -1

  add(text: string, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const d = digitValue(text.charCodeAt(i))
      const even = this.count % 2 === 0
      this.sums[0] += even ? doubled(d) : d
      this.sums[1] += even ? d : doubled(d)
      if (d !== 0) this.nonZero = true
      if (this.count === 0) this.first = d
      this.count++
    }
  }

  // 13 to 19 digits, not all zero, passing the Luhn check; 13 only from Visa, whose numbers start with 4.
  isCard(): boolean {
    return this.count >= CARD_MIN && this.count <= CARD_MAX && this.nonZero &&
      this.sums[this.count % 2] % 10 === 0 && (this.count > CARD_MIN || this.first === THIRTEEN_DIGIT_FIRST)
  }
}

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
  // Regular: one character, the same throughout. Any group sizes of at least three are then a card; other
  // separators (`4111 - 1111`, `4111-1111 1111.1111`) only in a card's own layout: groups of four with a last one
  // of three or four, or the 4-6-5 and 4-6-4 of American Express and Diners Club.
  let regular = true
  // Whether every group before the current one has four digits, and the first two groups' lengths.
  let foursBefore = true
  let firstLength = 0
  let secondLength = 0
  const digits = new CardDigits()
  let best = -1
  for (let j = from; j < chain.length; j++) {
    const group = chain[j]
    const length = group.end - group.start
    const n = j - from + 1
    if (length < GROUP_MIN || digits.count + length > CARD_MAX) break
    if (j > from && (chain[j - 1].separator !== first.separator || first.separator === IRREGULAR)) {
      // A card written with one separator throughout does not run on over another (`4111 1111 1111 1111  123`).
      if (regular && best >= 0) break
      regular = false
    }
    digits.add(text, group.start, group.end)
    if (n === 1) firstLength = length
    if (n === 2) secondLength = length
    const layout = (n >= 2 && foursBefore && (length === 3 || length === 4)) ||
      (n === 3 && firstLength === 4 && secondLength === 6 && (length === 5 || length === 4))
    const endsWord = j === chain.length - 1 && wordAt(text, group.end)
    if ((regular || layout) && !endsWord && digits.isCard()) best = j
    foursBefore = foursBefore && length === 4
    // Past a change of separator, only a layout can still come.
    if (!regular && !foursBefore && !(n === 2 && firstLength === 4 && secondLength === 6)) break
  }
  return best
}

/**
 * Runs of digits, found natively; the card detector reads the rest of the text only around them.
 *
 * @internal
 */
export const digitRunPattern = /[0-9]+/g

// How many separator characters follow a group ending at `end` when a digit follows them, else 0.
const separatorAfter = (text: string, end: number): number => {
  let i = end
  while (i < end + CARD_SEPARATOR_MAX && isCardSeparator(text.charCodeAt(i))) i++
  return i > end && digitAt(text, i) ? i - end : 0
}

/**
 * Card numbers of 13 to 19 digits that pass the Luhn check, written bare or in groups (`4111 1111 1111 1111`,
 * `3714-496353-98431`, `4111.1111.1111.1111`, `4111 - 1111 - 1111 - 1111`, `4111-1111 1111.1111`). Between
 * groups: one to three spaces, dashes or dots. With one and the same character throughout, any groups of at least
 * three digits; otherwise groups of four (the last of three or four) or the 4-6-5 and 4-6-4 layouts. A 13-digit
 * number must start with 4. A number inside a longer grouped number is still found (`4111 1111 1111 1111 123`);
 * a number glued to letters or to more digits, or continuing a hyphenated word (the last groups of a UUID), is
 * not. All zeros is not a card.
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
    const end = start + run[0].length
    const previous = chain.length > 0 ? chain[chain.length - 1] : undefined
    const group: Group = { start, end, separator: NO_SEPARATOR, gap: 0 }
    if (previous !== undefined && previous.separator !== NO_SEPARATOR && previous.end + previous.gap === start) {
      chain.push(group)
      if (chain.length > 2 * CARD_GROUPS) decide(false)
    } else {
      flush()
      chain.push(group)
    }
    const gap = separatorAfter(text, end)
    if (gap > 0) {
      group.gap = gap
      group.separator = gap === 1 ? text.charCodeAt(end) : IRREGULAR
    }
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
