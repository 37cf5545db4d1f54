/**
 * The `secret-assignment` rule: the value given to a password, secret, token or key.
 *
 * @internal
 */
import { alnumAt, ASCII_MAX, Char, isDigit, isLower, isQuote, isSpace, isUpper, isWord } from "./chars.js"
import { mergeOrdered, type RuleSpec, scanPattern, type Span } from "./ruleSpec.js"

// Each keyword as a pattern, with the most characters it matches.
const KEYWORDS: ReadonlyArray<readonly [pattern: string, maxLength: number]> = [
  ["pass(?:word|wd|phrase|code)", "passphrase".length],
  ["secret", "secret".length],
  ["token", "token".length],
  ["api[ _-]?key", "api_key".length],
  ["access[ _-]?key", "access_key".length],
  ["private[ _-]?key", "private_key".length],
  // `pw` and `pwd` only as words of their own (or ending a name: `db_pwd`); checked by code.
  ["pwd?", "pwd".length]
]

// Words with an everyday meaning ("the secret is patience", "token: please"): used alone, not as part of a name
// (`client_secret`) or a quoted key, with a value that is not quoted, their value must look like a credential.
const EVERYDAY_KEYWORDS = ["secret", "token"] as const
const SHORT_KEYWORD = "pw"

const KEYWORD = KEYWORDS.map(([pattern]) => pattern).join("|")
const KEYWORD_MAX = Math.max(...KEYWORDS.map(([, maxLength]) => maxLength))

// Spaces or tabs allowed around a separator, and the longest separator (`:=`, `=>`).
const SPACES_MAX = 3
const SEPARATOR_MAX = ":=".length
const IS = "is:"

/**
 * `password: x`, `password=x`, `"api_key": "x"`, `token := x`, `secret => x`. The keyword may close a quoted key and
 * may end a longer name (`db_password`, `client_secret`, `x-api-key`), but must be followed by the separator:
 * `password_hash: x` and `tokens: 5` are not assignments of a secret.
 *
 * @internal
 */
export const assignmentPattern = new RegExp(
  `(?:${KEYWORD})["'\`]?[ \\t]{0,${SPACES_MAX}}(?::=|=>|[:=])[ \\t]{0,${SPACES_MAX}}`,
  "gi"
)

/**
 * `my password is x`, `the api key is: x`.
 *
 * @internal
 */
export const isPattern = new RegExp(`(?:${KEYWORD})[ \\t]{1,${SPACES_MAX}}is:?[ \\t]{1,${SPACES_MAX}}`, "gi")

/**
 * The longest value of an assignment that is covered; a longer unbroken value is covered up to this length.
 *
 * @internal
 */
export const VALUE_MAX = 256

// The keyword, an optional closing quote, the separator (or "is:") and the spaces around it.
const PREFIX_MAX = KEYWORD_MAX +
  Math.max(1 + SPACES_MAX + SEPARATOR_MAX + SPACES_MAX, SPACES_MAX + IS.length + SPACES_MAX)

// Words that follow "password is" or "password:" in ordinary talk about passwords ("my password is not working",
// "Password: reset link sent"), unless quoted.
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
    "following same-as please none null pending see requested"
  ).split(" ")
)

const TRAILING_PUNCTUATION = ".,;:!?)]}>"

interface Value extends Span {
  readonly quoted: boolean
}

const readValue = (text: string, from: number): Value | undefined => {
  let start = from
  const open = text.charCodeAt(from)
  if (isQuote(open)) {
    const limit = Math.min(text.length, from + 1 + VALUE_MAX)
    for (let i = from + 1; i < limit; i++) {
      const c = text.charCodeAt(i)
      if (c === open) return i > from + 1 ? { start: from + 1, end: i, quoted: true } : undefined
      if (c === Char.lineFeed || c === Char.carriageReturn) break
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
  return end > start ? { start, end, quoted: false } : undefined
}

// A value that is a mask or our own marker is no secret; skipping the marker makes redaction idempotent.
const MARKER = "[REDACTED:"

const isPlaceholder = (text: string, value: Span): boolean => {
  if (text.startsWith(MARKER, value.start)) return true
  for (let i = value.start; i < value.end; i++) if (text.charCodeAt(i) !== Char.asterisk) return false
  return true
}

// A credential has a digit, a symbol or a capital after its first letter; an everyday word has none.
const looksLikeCredential = (text: string, value: Span): boolean => {
  for (let i = value.start; i < value.end; i++) {
    const c = text.charCodeAt(i)
    if (isDigit(c) || (i > value.start && isUpper(c)) || (c <= ASCII_MAX && !isLower(c) && !isUpper(c))) return true
  }
  return false
}

// The keyword of a match continues a name (`client_secret`, `X-Auth-Token`, `app.secret`) or closes a quoted key.
const isNamePart = (c: number): boolean => isWord(c) || c === Char.hyphen || c === Char.dot || isQuote(c)

// Whether `word` (lower case) is written at `at`, in any case.
const wordAt = (text: string, at: number, word: string): boolean => {
  for (let i = 0; i < word.length; i++) {
    const c = text.charCodeAt(at + i)
    if ((isUpper(c) ? c | Char.lowerCaseBit : c) !== word.charCodeAt(i)) return false
  }
  return true
}

// The words of NOT_A_VALUE by length and first letter, to compare a value with them without making a string.
const wordKey = (length: number, first: number): number =>
  length * 0x80 + (isUpper(first) ? first | Char.lowerCaseBit : first)
const notAValueByKey = new Map<number, Array<string>>()
for (const word of NOT_A_VALUE) {
  const key = wordKey(word.length, word.charCodeAt(0))
  notAValueByKey.set(key, [...(notAValueByKey.get(key) ?? []), word])
}

const isNotAValue = (text: string, value: Span): boolean => {
  const words = notAValueByKey.get(wordKey(value.end - value.start, text.charCodeAt(value.start)))
  if (words === undefined) return false
  for (const word of words) if (wordAt(text, value.start, word)) return true
  return false
}

// Whether the keyword at `at` may introduce this value; `statement` for the "is" form. Called for every match, so
// it reads characters rather than making strings.
const acceptValue = (text: string, at: number, value: Value, statement: boolean): boolean => {
  if (isPlaceholder(text, value)) return false
  if ((statement || !value.quoted) && isNotAValue(text, value)) return false
  if (wordAt(text, at, SHORT_KEYWORD) && alnumAt(text, at - 1)) return false
  if (value.quoted || isNamePart(text.charCodeAt(at - 1))) return true
  for (const word of EVERYDAY_KEYWORDS) {
    if (wordAt(text, at, word)) return looksLikeCredential(text, value)
  }
  return true
}

const accept = (statement: boolean) => (match: RegExpExecArray, text: string): Span | undefined => {
  const value = readValue(text, match.index + match[0].length)
  return value !== undefined && acceptValue(text, match.index, value, statement) ? value : undefined
}

const acceptAssignment = accept(false)
const acceptIs = accept(true)

/**
 * Finds the value of a secret assignment (the keyword and separator stay, so a redacted prompt still reads
 * `password: [REDACTED:secret-assignment]`).
 *
 * @internal
 */
export const detectSecretAssignment = (text: string): Array<Span> =>
  mergeOrdered(scanPattern(assignmentPattern, text, acceptAssignment), scanPattern(isPattern, text, acceptIs))

/** @internal */
export const secretAssignment: RuleSpec = {
  id: "secret-assignment",
  description: "a password, secret, token or key assigned a value",
  action: "block",
  enabled: true,
  patterns: [assignmentPattern, isPattern],
  // The keyword and separator, then the value between optional quotes.
  maxMatchLength: PREFIX_MAX + 1 + VALUE_MAX + 1,
  // Every keyword contains one of these; the patterns match ASCII case variants only, which lower-case to them.
  prefilter: { needles: ["pass", "secret", "token", "key", SHORT_KEYWORD], ignoreCase: true },
  detect: detectSecretAssignment
}
