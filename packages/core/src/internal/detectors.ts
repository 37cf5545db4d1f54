/**
 * The detectors behind the default safety rules. Each one is a pure function from a text to the spans it found.
 *
 * Linear time, whatever the input: every pattern here has bounded quantifiers only, so one match attempt reads a
 * bounded number of characters, and a rejected candidate restarts the search one character further on; anything
 * longer (a PEM body, a JWT payload, an assignment's value, the sides of an e-mail address) is read by code with a
 * cap. Validity checks (Luhn, SSN ranges, word boundaries) are code, not pattern. The test suite runs each pattern
 * through `recheck`.
 *
 * Speed: most texts hold nothing a rule looks for, so a rule whose every match contains a fixed string first checks
 * for that string with `indexOf` (native, a fraction of a nanosecond a character) and skips its pattern when it is
 * absent. These checks are exact: they only skip texts in which the pattern cannot match.
 *
 * @internal
 */

/** @internal */
export interface Span {
  readonly start: number
  readonly end: number
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57
const isAlnum = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
const isWord = (c: number): boolean => isAlnum(c) || c === 95
const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12

// NaN (outside the text) is never a digit or a letter, so the ends of the text count as boundaries.
const alnumAt = (text: string, i: number): boolean => isAlnum(text.charCodeAt(i))
const wordAt = (text: string, i: number): boolean => isWord(text.charCodeAt(i))
const digitAt = (text: string, i: number): boolean => isDigit(text.charCodeAt(i))

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

const whole = (match: RegExpExecArray): Span => ({ start: match.index, end: match.index + match[0].length })

// ---------------------------------------------------------------------------------------------------------------
// Secrets in assignments
// ---------------------------------------------------------------------------------------------------------------

const KEYWORD = "pass(?:word|wd|phrase)|secret|token|api[ _-]?key|access[ _-]?key|private[ _-]?key"

/**
 * `password: x`, `password=x`, `"api_key": "x"`, `token := x`, `secret => x`. The keyword may close a quoted key and
 * may end a longer name (`db_password`, `client_secret`, `x-api-key`), but must be followed by the separator:
 * `password_hash: x` and `tokens: 5` are not assignments of a secret.
 *
 * @internal
 */
export const assignmentPattern = new RegExp(`(?:${KEYWORD})["'\`]?[ \\t]{0,3}(?::=|=>|[:=])[ \\t]{0,3}`, "gi")

/**
 * `my password is x`, `the api key is: x`.
 *
 * @internal
 */
export const isPattern = new RegExp(`(?:${KEYWORD})[ \\t]{1,3}is:?[ \\t]{1,3}`, "gi")

/**
 * The longest value of an assignment that is covered; a longer unbroken value is covered up to this length.
 *
 * @internal
 */
export const VALUE_MAX = 256

// Words that follow "password is" in ordinary talk about passwords ("my password is not working").
const NOT_A_VALUE = new Set(
  (
    "a an the not no now still too very so also just only always never being been be it its this that these those " +
    "my your our his her their in on at of for to from by with about out up down over under here there " +
    "and or but if then than what which who when where why how " +
    "wrong incorrect invalid expired expiring missing empty blank locked unlocked correct right same different " +
    "weak strong secure insecure safe unsafe new old reset changed changing working broken required needed " +
    "mandatory optional set saved stored sent shown hidden visible encrypted hashed unknown forgotten lost stolen " +
    "compromised leaked valid ok okay fine good bad long short case-sensitive case-insensitive due going gone " +
    "used accepted rejected disabled enabled active inactive revoked displayed included attached below above " +
    "following same-as"
  ).split(" ")
)

const TRAILING_PUNCTUATION = ".,;:!?)]}>"
const isQuote = (c: number): boolean => c === 34 || c === 39 || c === 96

const readValue = (text: string, from: number): Span | undefined => {
  let start = from
  const open = text.charCodeAt(from)
  if (isQuote(open)) {
    const limit = Math.min(text.length, from + 1 + VALUE_MAX)
    for (let i = from + 1; i < limit; i++) {
      const c = text.charCodeAt(i)
      if (c === open) return i > from + 1 ? { start: from + 1, end: i } : undefined
      if (c === 10 || c === 13) break
    }
    // Unterminated or too long: read it as an unquoted value after the quote.
    start = from + 1
  }
  const limit = Math.min(text.length, start + VALUE_MAX)
  let end = start
  while (end < limit) {
    const c = text.charCodeAt(end)
    if (isSpace(c) || isQuote(c)) break
    end++
  }
  while (end > start && TRAILING_PUNCTUATION.includes(text[end - 1])) end--
  return end > start ? { start, end } : undefined
}

// A value that is a mask or our own marker is no secret; skipping the marker makes redaction idempotent.
const isPlaceholder = (value: string): boolean => value.startsWith("[REDACTED:") || onlyAsterisks(value)

const onlyAsterisks = (value: string): boolean => {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) !== 42) return false
  return true
}

const acceptAssignment = (match: RegExpExecArray, text: string): Span | undefined => {
  const span = readValue(text, match.index + match[0].length)
  if (span === undefined) return undefined
  return isPlaceholder(text.slice(span.start, span.end)) ? undefined : span
}

const acceptIs = (match: RegExpExecArray, text: string): Span | undefined => {
  const span = readValue(text, match.index + match[0].length)
  if (span === undefined) return undefined
  const value = text.slice(span.start, span.end)
  return isPlaceholder(value) || NOT_A_VALUE.has(value.toLowerCase()) ? undefined : span
}

/**
 * Finds the value of a secret assignment (the keyword and separator stay, so a redacted prompt still reads
 * `password: [REDACTED:secret-assignment]`).
 *
 * @internal
 */
export const detectSecretAssignment = (text: string): Array<Span> => {
  // Every keyword contains "pass", "secret", "token" or "key"; the patterns match ASCII case variants only, which
  // lower-case to these.
  const lower = text.toLowerCase()
  if (
    lower.indexOf("pass") < 0 && lower.indexOf("secret") < 0 && lower.indexOf("token") < 0 &&
    lower.indexOf("key") < 0
  ) {
    return []
  }
  const assignments = scanPattern(assignmentPattern, text, acceptAssignment)
  const statements = scanPattern(isPattern, text, acceptIs)
  if (statements.length === 0) return assignments
  if (assignments.length === 0) return statements
  // Both lists are in order of start: merge them (assignments first on a tie), in linear time.
  const merged: Array<Span> = []
  let a = 0
  let b = 0
  while (a < assignments.length && b < statements.length) {
    merged.push(statements[b].start < assignments[a].start ? statements[b++] : assignments[a++])
  }
  while (a < assignments.length) merged.push(assignments[a++])
  while (b < statements.length) merged.push(statements[b++])
  return merged
}

/** @internal */
export const SECRET_ASSIGNMENT_SPAN = 32 + VALUE_MAX + 2

// ---------------------------------------------------------------------------------------------------------------
// Well-known key formats
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export const awsAccessKeyPattern = /(?:AKIA|ASIA)[A-Z0-9]{16}/g

/** @internal */
export const detectAwsAccessKey = (text: string): Array<Span> =>
  text.indexOf("AKIA") < 0 && text.indexOf("ASIA") < 0 ? [] : scanPattern(awsAccessKeyPattern, text, (m, t) => {
    const span = whole(m)
    return alnumAt(t, span.start - 1) || alnumAt(t, span.end) ? undefined : span
  })

/** @internal */
export const githubTokenPattern = /gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}/g

/** @internal */
export const stripeKeyPattern = /[rs]k_(?:live|test)_[A-Za-z0-9]{16,247}/g

/** @internal */
export const slackTokenPattern = /xox[abposr]-[A-Za-z0-9-]{10,250}/g

/** @internal */
export const googleApiKeyPattern = /AIza[A-Za-z0-9_-]{35}/g

// `needle` is a string every match contains.
const prefixed = (pattern: RegExp, needle: string) => (text: string): Array<Span> =>
  text.indexOf(needle) < 0 ? [] : scanPattern(pattern, text, (m, t) => alnumAt(t, m.index - 1) ? undefined : whole(m))

/** @internal */
export const detectGithubToken = prefixed(githubTokenPattern, "_")

/** @internal */
export const detectStripeKey = prefixed(stripeKeyPattern, "k_")

/** @internal */
export const detectSlackToken = prefixed(slackTokenPattern, "xox")

/** @internal */
export const detectGoogleApiKey = (text: string): Array<Span> =>
  text.indexOf("AIza") < 0 ? [] : scanPattern(googleApiKeyPattern, text, (m, t) => {
    const span = whole(m)
    const after = t.charCodeAt(span.end)
    return alnumAt(t, span.start - 1) || isWord(after) || after === 45 ? undefined : span
  })

/** @internal */
export const privateKeyPattern = /-----BEGIN (?:[A-Z0-9]{1,20} ){0,3}PRIVATE KEY(?: BLOCK)?-----/g

/**
 * The longest PEM block covered, header to footer. A longer block, or one without a footer, is covered from the
 * header over the base64 lines that follow, up to this length.
 *
 * @internal
 */
export const PEM_MAX = 4096

const isPemBody = (c: number): boolean => isAlnum(c) || c === 43 || c === 47 || c === 61 || c === 10 || c === 13

/** @internal */
export const detectPrivateKey = (text: string): Array<Span> =>
  text.indexOf("-----BEGIN ") < 0 ? [] : scanPattern(privateKeyPattern, text, (m, t) => {
    const start = m.index
    const headerEnd = start + m[0].length
    const limit = Math.min(t.length, start + PEM_MAX)
    // Bounded search: a text full of headers without footers costs PEM_MAX per header, not the rest of the text.
    const window = t.slice(headerEnd, limit)
    const footer = window.indexOf("-----END ")
    if (footer >= 0) {
      const close = window.indexOf("-----", footer + 9)
      if (close >= 0 && close - footer <= 64) return { start, end: headerEnd + close + 5 }
    }
    let end = headerEnd
    while (end < limit && isPemBody(t.charCodeAt(end))) end++
    return { start, end }
  })

/** @internal */
export const bearerJwtPattern = /[Bb]earer[ \t]{1,4}eyJ[A-Za-z0-9_-]{1,1024}\./g

/** @internal */
export const JWT_PAYLOAD_MAX = 4096

/** @internal */
export const JWT_SIGNATURE_MAX = 2048

const isBase64Url = (c: number): boolean => isAlnum(c) || c === 45 || c === 95

/**
 * `Bearer <header>.<payload>.<signature>` with base64url segments, the header starting `eyJ` (`{"`). The span is
 * the token; the word `Bearer` stays.
 *
 * @internal
 */
export const detectBearerJwt = (text: string): Array<Span> =>
  text.indexOf("Bearer") < 0 && text.indexOf("bearer") < 0 ? [] : scanPattern(bearerJwtPattern, text, (m, t) => {
    const start = m.index + m[0].indexOf("eyJ")
    let i = m.index + m[0].length
    const payloadLimit = Math.min(t.length, i + JWT_PAYLOAD_MAX)
    const payloadStart = i
    while (i < payloadLimit && isBase64Url(t.charCodeAt(i))) i++
    if (i === payloadStart || t.charCodeAt(i) !== 46) return undefined
    i++
    const signatureLimit = Math.min(t.length, i + JWT_SIGNATURE_MAX)
    while (i < signatureLimit && isBase64Url(t.charCodeAt(i))) i++
    return { start, end: i }
  })

/** @internal */
export const BEARER_JWT_SPAN = 16 + 1024 + 1 + JWT_PAYLOAD_MAX + 1 + JWT_SIGNATURE_MAX + 1

/**
 * `scheme://user:password@host`: the password is the span. The pattern starts at `://`; code checks that a scheme
 * letter or digit precedes it.
 *
 * @internal
 */
export const urlCredentialsPattern = /:\/\/[^\s/?#:@]{1,128}:[^\s/?#@]{1,256}@/g

/** @internal */
export const detectUrlCredentials = (text: string): Array<Span> =>
  text.indexOf("://") < 0 ? [] : scanPattern(urlCredentialsPattern, text, (m, t) => {
    if (!alnumAt(t, m.index - 1)) return undefined
    const colon = m[0].indexOf(":", 3)
    return { start: m.index + colon + 1, end: m.index + m[0].length - 1 }
  })

// ---------------------------------------------------------------------------------------------------------------
// US social security numbers
// ---------------------------------------------------------------------------------------------------------------

/**
 * `AAA-GG-SSSS` or `AAA GG SSSS`, one delimiter used twice. Nine bare digits are not matched: too many ordinary
 * numbers (order ids, phone numbers without area code) have nine digits.
 *
 * @internal
 */
export const ssnPattern = /\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}/g

const digitsValue = (text: string, start: number, length: number): number => {
  let n = 0
  for (let i = start; i < start + length; i++) n = n * 10 + (text.charCodeAt(i) - 48)
  return n
}

/**
 * An issued SSN: area not 000, 666 or 900-999, group not 00, serial not 0000.
 *
 * @internal
 */
export const isValidSsn = (area: number, group: number, serial: number): boolean =>
  area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0

/** @internal */
export const detectSsn = (text: string): Array<Span> =>
  scanPattern(ssnPattern, text, (m, t) => {
    const { end, start } = whole(m)
    const delimiter = t[start + 3]
    // Part of a longer word or of a longer grouped number (`1 123 45 6789`, `123-45-6789-01`) is not an SSN.
    if (wordAt(t, start - 1) || wordAt(t, end)) return undefined
    if (t[start - 1] === delimiter && digitAt(t, start - 2)) return undefined
    if (t[end] === delimiter && digitAt(t, end + 1)) return undefined
    const valid = isValidSsn(digitsValue(t, start, 3), digitsValue(t, start + 4, 2), digitsValue(t, start + 7, 4))
    return valid ? { start, end } : undefined
  })

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
    let d = digits.charCodeAt(i) - 48
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
  for (let i = 0; i < digits.length; i++) if (digits.charCodeAt(i) !== 48) return false
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

/** @internal */
export const CARD_SPAN = CARD_MAX * 2 + 1

// Groups one card can span at most: each has at least GROUP_MIN digits and a card at most CARD_MAX.
const CARD_GROUPS = Math.floor(CARD_MAX / GROUP_MIN)

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
 * Card numbers of 13 to 19 digits that pass the Luhn check, written bare or in groups of at least three digits
 * joined by one space or one dash, the same separator throughout (`4111 1111 1111 1111`, `3714-496353-98431`).
 * A number inside a longer grouped number is still found (`4111 1111 1111 1111 123`); a number glued to letters
 * or to more digits, or continuing a hyphenated word (the last groups of a UUID), is not. All zeros is not a card.
 *
 * One pass collects the digit groups (runs of digits, found by a pattern: native code skips the rest of the text);
 * each start group extends over at most six groups, so the work is linear. The start groups that later groups can
 * no longer change are decided while the chain grows, so a chain as long as the text holds only a few groups.
 *
 * @internal
 */
export const digitRunPattern = /[0-9]+/g

/** @internal */
export const detectCardNumber = (text: string): Array<Span> => {
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
    } else if (next > 64) {
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
    if (previous !== undefined && previous.end + 1 === start && previous.separator !== undefined) {
      chain.push({ start, end: i, separator: undefined })
      if (chain.length > 2 * CARD_GROUPS) decide(false)
    } else {
      flush()
      chain.push({ start, end: i, separator: undefined })
    }
    const after = text[i]
    const current = chain[chain.length - 1]
    if ((after === " " || after === "-") && digitAt(text, i + 1)) current.separator = after
  }
  digitRunPattern.lastIndex = 0
  flush()
  return spans
}

// ---------------------------------------------------------------------------------------------------------------
// Contact details (off by default)
// ---------------------------------------------------------------------------------------------------------------

/**
 * Finds an `@` between a local-part character and a domain character; code reads both sides with caps.
 *
 * @internal
 */
export const emailPattern = /[A-Za-z0-9._%+-]@[A-Za-z0-9]/g

const LOCAL_MAX = 64
const DOMAIN_MAX = 255

/** @internal */
export const EMAIL_SPAN = LOCAL_MAX + 1 + DOMAIN_MAX + 2

const isLocal = (c: number): boolean => isAlnum(c) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45
const isDomain = (c: number): boolean => isAlnum(c) || c === 46 || c === 45

/** @internal */
export const detectEmail = (text: string): Array<Span> =>
  text.indexOf("@") < 0 ? [] : scanPattern(emailPattern, text, (m, t) => {
    const at = m.index + 1
    let start = at
    while (start > 0 && at - start < LOCAL_MAX && isLocal(t.charCodeAt(start - 1))) start--
    while (start < at && t.charCodeAt(start) === 46) start++
    if (start === at) return undefined
    let end = at + 1
    const limit = Math.min(t.length, at + 1 + DOMAIN_MAX)
    while (end < limit && isDomain(t.charCodeAt(end))) end++
    while (end > at + 1 && (t.charCodeAt(end - 1) === 46 || t.charCodeAt(end - 1) === 45)) end--
    const domain = t.slice(at + 1, end)
    const dot = domain.lastIndexOf(".")
    if (dot <= 0) return undefined
    const tld = domain.length - dot - 1
    if (tld < 2 || tld > 24) return undefined
    for (let i = dot + 1; i < domain.length; i++) {
      const c = domain.charCodeAt(i) | 32
      if (c < 97 || c > 122) return undefined
    }
    return { start, end }
  })

/**
 * North American numbers (`(415) 555-0132`, `+1 415.555.0132`, `415-555-0132`) and E.164 numbers
 * (`+442071838750`).
 *
 * @internal
 */
export const phonePattern =
  /(?:\+1[ .-]?|1[ .-])?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-]?)[2-9]\d{2}[ .-]?\d{4}|\+[1-9]\d{6,14}/g

/** @internal */
export const PHONE_SPAN = 24

/** @internal */
export const detectPhone = (text: string): Array<Span> =>
  scanPattern(phonePattern, text, (m, t) => {
    const span = whole(m)
    return wordAt(t, span.start - 1) || wordAt(t, span.end) || t[span.start - 1] === "+" ? undefined : span
  })

/**
 * Every pattern used by the default rules (the only regular expressions in this module), for the ReDoS test.
 *
 * @internal
 */
export const patterns: ReadonlyArray<readonly [ruleId: string, pattern: RegExp]> = [
  ["secret-assignment", assignmentPattern],
  ["secret-assignment", isPattern],
  ["aws-access-key-id", awsAccessKeyPattern],
  ["github-token", githubTokenPattern],
  ["stripe-secret-key", stripeKeyPattern],
  ["slack-token", slackTokenPattern],
  ["google-api-key", googleApiKeyPattern],
  ["private-key", privateKeyPattern],
  ["bearer-jwt", bearerJwtPattern],
  ["url-credentials", urlCredentialsPattern],
  ["us-ssn", ssnPattern],
  ["payment-card", digitRunPattern],
  ["email", emailPattern],
  ["phone-number", phonePattern]
]
