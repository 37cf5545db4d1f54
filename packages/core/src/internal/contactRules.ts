/**
 * Rules for contact details: e-mail addresses and phone numbers. Both are off by default; turned on, they redact.
 *
 * @internal
 */
import { Char, isAlnum, isLower, wordAt } from "./chars.js"
import { type RuleSpec, scanPattern, type Span, whole } from "./ruleSpec.js"

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
const isDomain = (c: number): boolean => isAlnum(c) || c === Char.dot || c === Char.hyphen

const isTld = (domain: string, from: number): boolean => {
  const length = domain.length - from
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
 * North American numbers (`(415) 555-0132`, `+1 415.555.0132`, `415-555-0132`) and E.164 numbers
 * (`+442071838750`).
 *
 * @internal
 */
export const phonePattern =
  /(?:\+1[ .-]?|1[ .-])?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-]?)[2-9]\d{2}[ .-]?\d{4}|\+[1-9]\d{6,14}/g

// The longest match of each alternative: a North American number written out in full, and E.164's 15 digits.
const NANP_MAX = "+1 (415) 555-0132".length
const E164_MAX = "+".length + 15
// The characters before and after, read to see that the number does not continue a word or a longer number.
const PHONE_CONTEXT = 1

/** @internal */
export const phone: RuleSpec = {
  id: "phone-number",
  description: "a phone number",
  action: "redact",
  enabled: false,
  patterns: [phonePattern],
  maxMatchLength: PHONE_CONTEXT + Math.max(NANP_MAX, E164_MAX) + PHONE_CONTEXT,
  detect: (text) =>
    scanPattern(phonePattern, text, (m, t) => {
      const span = whole(m)
      return wordAt(t, span.start - 1) || wordAt(t, span.end) || t[span.start - 1] === "+" ? undefined : span
    })
}
