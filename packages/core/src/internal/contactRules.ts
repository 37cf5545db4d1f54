/**
 * Rules for contact details: e-mail addresses and phone numbers. Both are off by default; turned on, they redact.
 *
 * @internal
 */
import { Char, digitAt, isAlnum, isDigit, isLower, wordAt } from "./chars.js"
import { type RuleSpec, scanPattern, type Span } from "./ruleSpec.js"

// ---------------------------------------------------------------------------------------------------------------
// E-mail addresses
// ---------------------------------------------------------------------------------------------------------------

/**
 * Finds an `@` between a local-part character and a domain character; code reads both sides with caps.
 *
 * @internal
 */
export const emailPattern = /[A-Za-z0-9._%+-]@[A-Za-z0-9]/g

const LOCAL_MAX = 64
const DOMAIN_MAX = 255
const TLD_MIN = 2
const TLD_MAX = 24
// The character before the local part and the one after the domain, read to see where they end.
const EMAIL_CONTEXT = 1

const isLocal = (c: number): boolean =>
  isAlnum(c) || c === Char.dot || c === Char.underscore || c === Char.percent || c === Char.plus || c === Char.hyphen
const isDomainLabel = (c: number): boolean => isAlnum(c) || c === Char.hyphen
const isDomain = (c: number): boolean => isDomainLabel(c) || c === Char.dot

// An internationalised top-level domain in its ASCII form (RFC 3490): `xn--p1ai` for `.рф`.
const PUNYCODE_PREFIX = "xn--"
const LABEL_MAX = 63

// `xn--` in any case at `from`.
const isPunycodePrefix = (domain: string, from: number): boolean => {
  for (let i = 0; i < PUNYCODE_PREFIX.length; i++) {
    const c = domain.charCodeAt(from + i)
    if ((isAlnum(c) ? c | Char.lowerCaseBit : c) !== PUNYCODE_PREFIX.charCodeAt(i)) return false
  }
  return true
}

const isTld = (domain: string, from: number): boolean => {
  const length = domain.length - from
  if (isPunycodePrefix(domain, from)) {
    if (length <= PUNYCODE_PREFIX.length || length > LABEL_MAX) return false
    for (let i = from; i < domain.length; i++) if (!isDomainLabel(domain.charCodeAt(i))) return false
    return true
  }
  if (length < TLD_MIN || length > TLD_MAX) return false
  for (let i = from; i < domain.length; i++) if (!isLower(domain.charCodeAt(i) | Char.lowerCaseBit)) return false
  return true
}

const detectEmail = (text: string): Array<Span> =>
  scanPattern(emailPattern, text, (m, t) => {
    const at = m.index + 1
    let start = at
    while (start > 0 && at - start < LOCAL_MAX && isLocal(t.charCodeAt(start - 1))) start--
    while (start < at && t.charCodeAt(start) === Char.dot) start++
    if (start === at) return undefined
    let end = at + 1
    const limit = Math.min(t.length, at + 1 + DOMAIN_MAX)
    while (end < limit && isDomain(t.charCodeAt(end))) end++
    while (end > at + 1 && (t.charCodeAt(end - 1) === Char.dot || t.charCodeAt(end - 1) === Char.hyphen)) end--
    const domain = t.slice(at + 1, end)
    const dot = domain.lastIndexOf(".")
    return dot > 0 && isTld(domain, dot + 1) ? { start, end } : undefined
  })

/** @internal */
export const email: RuleSpec = {
  id: "email",
  description: "an e-mail address",
  action: "redact",
  enabled: false,
  patterns: [emailPattern],
  maxMatchLength: EMAIL_CONTEXT + LOCAL_MAX + 1 + DOMAIN_MAX + EMAIL_CONTEXT,
  prefilter: { needles: ["@"] },
  detect: detectEmail
}

// ---------------------------------------------------------------------------------------------------------------
// Phone numbers
// ---------------------------------------------------------------------------------------------------------------

/**
 * North American numbers written without `+` (`(415) 555-0132`, `1 415.555.0132`, `415-555-0132`); the ones
 * written with `+1` are international numbers.
 *
 * @internal
 */
export const northAmericanPattern = /(?:1[ .-])?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-]?)[2-9]\d{2}[ .-]?\d{4}/g

// The longest North American match: "1-", "(415) ", "555-" and "0132".
const NORTH_AMERICAN_MAX = "1-".length + "(415) ".length + "555-".length + "0132".length

/**
 * Where an international number can start: `+` and a country code's first digit. Code reads the rest.
 *
 * @internal
 */
export const internationalStartPattern = /\+[1-9]/g

// E.164: at most 15 digits with the country code; at least 7 (the old E.164 pattern's bound).
const INTERNATIONAL_DIGITS_MIN = 7
const INTERNATIONAL_DIGITS_MAX = 15
// One area code may be in parentheses (`+44 (20) 7123 4567`, `+49 (0)30 1234567`).
const PARENTHESISED_MAX = 4
// "+", the digits, one separator between two of them, and a parenthesised group's two parentheses and separator.
const INTERNATIONAL_MAX = 1 + INTERNATIONAL_DIGITS_MAX + (INTERNATIONAL_DIGITS_MAX - 1) + 3

const isPhoneSeparator = (c: number): boolean => c === Char.space || c === Char.hyphen || c === Char.dot

// Reads `(` and one to PARENTHESISED_MAX digits and `)` at `at`; returns the index after `)`, or -1.
const parenthesisedEnd = (text: string, at: number): number => {
  if (text.charCodeAt(at) !== Char.openParenthesis) return -1
  let i = at + 1
  while (i < at + 1 + PARENTHESISED_MAX && digitAt(text, i)) i++
  return i > at + 1 && text.charCodeAt(i) === Char.closeParenthesis ? i + 1 : -1
}

/**
 * `+` and 7 to 15 digits, in groups joined by one space, dash or dot, with at most one group in parentheses: the
 * span ends at the last digit. More digits after the fifteenth, or a letter or digit glued on, and it is no
 * phone number.
 */
const readInternational = (text: string, plus: number): Span | undefined => {
  let digits = 0
  let parenthesised = false
  let i = plus + 1
  let end = i
  while (i < text.length && i - plus <= INTERNATIONAL_MAX) {
    const c = text.charCodeAt(i)
    if (isDigit(c)) {
      if (++digits > INTERNATIONAL_DIGITS_MAX) return undefined
      end = ++i
      continue
    }
    // A separator or a parenthesised group continues the number only when a digit follows.
    const next = isPhoneSeparator(c) ? i + 1 : i
    const close = parenthesisedEnd(text, next)
    if (close >= 0 && !parenthesised && digits > 0) {
      parenthesised = true
      digits += close - next - 2
      i = isPhoneSeparator(text.charCodeAt(close)) && digitAt(text, close + 1) ? close + 1 : close
      end = close
      continue
    }
    if (next > i && digitAt(text, next)) {
      i = next
      continue
    }
    break
  }
  if (digits < INTERNATIONAL_DIGITS_MIN || digits > INTERNATIONAL_DIGITS_MAX || wordAt(text, end)) return undefined
  return { start: plus, end }
}

const detectInternational = (text: string): Array<Span> =>
  text.indexOf("+") < 0 ?
    [] :
    scanPattern(internationalStartPattern, text, (m, t) =>
      wordAt(t, m.index - 1) || t[m.index - 1] === "+" ? undefined : readInternational(t, m.index))

const detectNorthAmerican = (text: string): Array<Span> =>
  scanPattern(northAmericanPattern, text, (m, t) => {
    const start = m.index
    const end = start + m[0].length
    return wordAt(t, start - 1) || wordAt(t, end) || t[start - 1] === "+" ? undefined : { start, end }
  })

// International numbers first; a North American match inside one (`+91 4155550132`) is part of it, not another.
const detectPhone = (text: string): Array<Span> => {
  const international = detectInternational(text)
  const northAmerican = detectNorthAmerican(text)
  if (international.length === 0) return northAmerican
  const spans: Array<Span> = []
  let k = 0
  for (const span of northAmerican) {
    while (k < international.length && international[k].end <= span.start) spans.push(international[k++])
    if (k < international.length && international[k].start < span.end) continue
    spans.push(span)
  }
  while (k < international.length) spans.push(international[k++])
  return spans
}

// The character before, read to see that the number does not continue a word or a longer number.
const PHONE_BEFORE = 1
// What may follow the last digit and is read to see that the number ends there: a separator or a parenthesised
// group and the digit after it, or a letter.
const PHONE_AFTER = 1 + "(0000)".length + 1

/** @internal */
export const phone: RuleSpec = {
  id: "phone-number",
  description: "a phone number",
  action: "redact",
  enabled: false,
  patterns: [northAmericanPattern, internationalStartPattern],
  maxMatchLength: PHONE_BEFORE + Math.max(NORTH_AMERICAN_MAX, INTERNATIONAL_MAX) + PHONE_AFTER,
  detect: detectPhone
}
