/**
 * Rules for well-known key formats: each finds a provider's key by its fixed prefix and a bounded body.
 *
 * @internal
 */
import { alnumAt, Char, isAlnum, isBase64Url, isWord } from "./chars.js"
import { type RuleSpec, scanPattern, type Span, whole } from "./ruleSpec.js"

// A detector that rejects a match glued to a preceding letter or digit; the match may run on after its end.
const afterBoundary = (pattern: RegExp) => (text: string): Array<Span> =>
  scanPattern(pattern, text, (m, t) => alnumAt(t, m.index - 1) ? undefined : whole(m))

// The character before a match, read to see that the key does not continue a word.
const BEFORE = 1
// The character after a match, read to see that the key ends there.
const AFTER = 1

// ---------------------------------------------------------------------------------------------------------------
// AWS
// ---------------------------------------------------------------------------------------------------------------

const AWS_PREFIXES = ["AKIA", "ASIA"] as const
const AWS_BODY = 16

/** @internal */
export const awsAccessKeyPattern = new RegExp(`(?:${AWS_PREFIXES.join("|")})[A-Z0-9]{${AWS_BODY}}`, "g")

/** @internal */
export const awsAccessKeyId: RuleSpec = {
  id: "aws-access-key-id",
  description: "an AWS access key id",
  action: "block",
  enabled: true,
  patterns: [awsAccessKeyPattern],
  maxMatchLength: BEFORE + AWS_PREFIXES[0].length + AWS_BODY + AFTER,
  prefilter: { needles: AWS_PREFIXES },
  detect: (text) =>
    scanPattern(awsAccessKeyPattern, text, (m, t) => {
      const span = whole(m)
      return alnumAt(t, span.start - 1) || alnumAt(t, span.end) ? undefined : span
    })
}

// ---------------------------------------------------------------------------------------------------------------
// GitHub
// ---------------------------------------------------------------------------------------------------------------

const GITHUB_BODY_MAX = 255
const GITHUB_FINE_GRAINED = "github_pat_"

/** @internal */
export const githubTokenPattern = new RegExp(
  `gh[pousr]_[A-Za-z0-9]{36,${GITHUB_BODY_MAX}}|${GITHUB_FINE_GRAINED}[A-Za-z0-9_]{22,${GITHUB_BODY_MAX}}`,
  "g"
)

/** @internal */
export const githubToken: RuleSpec = {
  id: "github-token",
  description: "a GitHub token",
  action: "block",
  enabled: true,
  patterns: [githubTokenPattern],
  maxMatchLength: BEFORE + GITHUB_FINE_GRAINED.length + GITHUB_BODY_MAX,
  prefilter: { needles: ["_"] },
  detect: afterBoundary(githubTokenPattern)
}

// ---------------------------------------------------------------------------------------------------------------
// Stripe
// ---------------------------------------------------------------------------------------------------------------

const STRIPE_BODY_MAX = 247
const STRIPE_PREFIX_MAX = "sk_live_".length

/** @internal */
export const stripeKeyPattern = new RegExp(`[rs]k_(?:live|test)_[A-Za-z0-9]{16,${STRIPE_BODY_MAX}}`, "g")

/** @internal */
export const stripeSecretKey: RuleSpec = {
  id: "stripe-secret-key",
  description: "a Stripe secret or restricted key",
  action: "block",
  enabled: true,
  patterns: [stripeKeyPattern],
  maxMatchLength: BEFORE + STRIPE_PREFIX_MAX + STRIPE_BODY_MAX,
  prefilter: { needles: ["k_"] },
  detect: afterBoundary(stripeKeyPattern)
}

// ---------------------------------------------------------------------------------------------------------------
// Slack
// ---------------------------------------------------------------------------------------------------------------

const SLACK_BODY_MAX = 250
const SLACK_PREFIX = "xoxb-"

/** @internal */
export const slackTokenPattern = new RegExp(`xox[abposr]-[A-Za-z0-9-]{10,${SLACK_BODY_MAX}}`, "g")

/** @internal */
export const slackToken: RuleSpec = {
  id: "slack-token",
  description: "a Slack token",
  action: "block",
  enabled: true,
  patterns: [slackTokenPattern],
  maxMatchLength: BEFORE + SLACK_PREFIX.length + SLACK_BODY_MAX,
  prefilter: { needles: ["xox"] },
  detect: afterBoundary(slackTokenPattern)
}

// ---------------------------------------------------------------------------------------------------------------
// Google
// ---------------------------------------------------------------------------------------------------------------

const GOOGLE_PREFIX = "AIza"
const GOOGLE_BODY = 35

/** @internal */
export const googleApiKeyPattern = new RegExp(`${GOOGLE_PREFIX}[A-Za-z0-9_-]{${GOOGLE_BODY}}`, "g")

/** @internal */
export const googleApiKey: RuleSpec = {
  id: "google-api-key",
  description: "a Google API key",
  action: "block",
  enabled: true,
  patterns: [googleApiKeyPattern],
  maxMatchLength: BEFORE + GOOGLE_PREFIX.length + GOOGLE_BODY + AFTER,
  prefilter: { needles: [GOOGLE_PREFIX] },
  detect: (text) =>
    scanPattern(googleApiKeyPattern, text, (m, t) => {
      const span = whole(m)
      const after = t.charCodeAt(span.end)
      return alnumAt(t, span.start - 1) || isWord(after) || after === Char.hyphen ? undefined : span
    })
}

// ---------------------------------------------------------------------------------------------------------------
// PEM private keys
// ---------------------------------------------------------------------------------------------------------------

const PEM_BEGIN = "-----BEGIN "
const PEM_END = "-----END "
const PEM_DASHES = "-----"
// The longest footer label looked for after "-----END ".
const PEM_FOOTER_LABEL_MAX = 64

/** @internal */
export const privateKeyPattern = new RegExp(
  `${PEM_BEGIN}(?:[A-Z0-9]{1,20} ){0,3}PRIVATE KEY(?: BLOCK)?${PEM_DASHES}`,
  "g"
)

/**
 * The longest PEM block covered, header to footer. A longer block, or one without a footer, is covered from the
 * header over the base64 lines that follow, up to this length.
 *
 * @internal
 */
export const PEM_MAX = 4096

const isPemBody = (c: number): boolean =>
  isAlnum(c) || c === Char.plus || c === Char.slash || c === Char.equals || c === Char.lineFeed ||
  c === Char.carriageReturn

const detectPrivateKey = (text: string): Array<Span> =>
  scanPattern(privateKeyPattern, text, (m, t) => {
    const start = m.index
    const headerEnd = start + m[0].length
    const limit = Math.min(t.length, start + PEM_MAX)
    // Bounded search: a text full of headers without footers costs PEM_MAX per header, not the rest of the text.
    const window = t.slice(headerEnd, limit)
    const footer = window.indexOf(PEM_END)
    if (footer >= 0) {
      const close = window.indexOf(PEM_DASHES, footer + PEM_END.length)
      if (close >= 0 && close - footer <= PEM_FOOTER_LABEL_MAX) {
        return { start, end: headerEnd + close + PEM_DASHES.length }
      }
    }
    let end = headerEnd
    while (end < limit && isPemBody(t.charCodeAt(end))) {
      end++
    }
    return { start, end }
  })

/** @internal */
export const privateKey: RuleSpec = {
  id: "private-key",
  description: "a PEM private key",
  action: "block",
  enabled: true,
  patterns: [privateKeyPattern],
  maxMatchLength: PEM_MAX,
  anchor: new RegExp(PEM_BEGIN),
  prefilter: { needles: [PEM_BEGIN] },
  detect: detectPrivateKey
}

// ---------------------------------------------------------------------------------------------------------------
// JSON web tokens
// ---------------------------------------------------------------------------------------------------------------

const BEARER = "Bearer"
const BEARER_SPACES_MAX = 4
const JWT_HEADER_START = "eyJ"
const JWT_HEADER_MAX = 1024

/** @internal */
export const bearerJwtPattern = new RegExp(
  `[Bb]earer[ \\t]{1,${BEARER_SPACES_MAX}}${JWT_HEADER_START}[A-Za-z0-9_-]{1,${JWT_HEADER_MAX}}\\.`,
  "g"
)

/** @internal */
export const JWT_PAYLOAD_MAX = 4096

/** @internal */
export const JWT_SIGNATURE_MAX = 2048

// Reads base64url characters from `from`, at most `max`; returns where they end.
const base64UrlEnd = (text: string, from: number, max: number): number => {
  const limit = Math.min(text.length, from + max)
  let i = from
  while (i < limit && isBase64Url(text.charCodeAt(i))) i++
  return i
}

/**
 * `Bearer <header>.<payload>.<signature>` with base64url segments, the header starting `eyJ` (`{"`). The span is
 * the token; the word `Bearer` stays.
 */
const detectBearerJwt = (text: string): Array<Span> =>
  scanPattern(bearerJwtPattern, text, (m, t) => {
    const start = m.index + m[0].indexOf(JWT_HEADER_START)
    const payloadStart = m.index + m[0].length
    const payloadEnd = base64UrlEnd(t, payloadStart, JWT_PAYLOAD_MAX)
    if (payloadEnd === payloadStart || t.charCodeAt(payloadEnd) !== Char.dot) return undefined
    return { start, end: base64UrlEnd(t, payloadEnd + 1, JWT_SIGNATURE_MAX) }
  })

/** @internal */
export const bearerJwt: RuleSpec = {
  id: "bearer-jwt",
  description: "a JSON web token sent as a bearer token",
  action: "block",
  enabled: true,
  patterns: [bearerJwtPattern],
  // "Bearer", the spaces, then the three segments and their two dots, and the character that ends the signature.
  maxMatchLength: BEARER.length + BEARER_SPACES_MAX + JWT_HEADER_START.length + JWT_HEADER_MAX + 1 + JWT_PAYLOAD_MAX +
    1 + JWT_SIGNATURE_MAX + AFTER,
  anchor: /[Bb]earer/,
  prefilter: { needles: [BEARER, BEARER.toLowerCase()] },
  detect: detectBearerJwt
}

// ---------------------------------------------------------------------------------------------------------------
// Credentials in URLs
// ---------------------------------------------------------------------------------------------------------------

const URL_SEPARATOR = "://"
const URL_USER_MAX = 128
const URL_PASSWORD_MAX = 256

/**
 * `scheme://user:password@host`: the password is the span. The pattern starts at `://`; code checks that a scheme
 * letter or digit precedes it.
 *
 * @internal
 */
export const urlCredentialsPattern = new RegExp(
  `:\\/\\/[^\\s/?#:@]{1,${URL_USER_MAX}}:[^\\s/?#@]{1,${URL_PASSWORD_MAX}}@`,
  "g"
)

/** @internal */
export const urlCredentials: RuleSpec = {
  id: "url-credentials",
  description: "a password in a URL",
  action: "block",
  enabled: true,
  patterns: [urlCredentialsPattern],
  // The scheme's last character, "://", the user, ":", the password and "@".
  maxMatchLength: BEFORE + URL_SEPARATOR.length + URL_USER_MAX + 1 + URL_PASSWORD_MAX + 1,
  prefilter: { needles: [URL_SEPARATOR] },
  detect: (text) =>
    scanPattern(urlCredentialsPattern, text, (m, t) => {
      if (!alnumAt(t, m.index - 1)) return undefined
      const colon = m[0].indexOf(":", URL_SEPARATOR.length)
      return { start: m.index + colon + 1, end: m.index + m[0].length - 1 }
    })
}
