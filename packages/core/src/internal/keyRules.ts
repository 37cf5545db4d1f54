/**
 * Rules for well-known key formats: each finds a provider's key by its fixed prefix and a bounded body.
 *
 * @internal
 */
import { alnumAt, Char, isAlnum, isBase64Url, isDigit, isLower, isUpper, isWord } from "./chars.js"
import { mergeOrdered, type RuleSpec, scanPattern, type Span, whole } from "./ruleSpec.js"

// A detector that rejects a match glued to a preceding letter or digit; the match may run on after its end.
const afterBoundary = (pattern: RegExp) => (text: string): Array<Span> =>
  scanPattern(pattern, text, (m, t) => alnumAt(t, m.index - 1) ? undefined : whole(m))

// Where a run of `isBody` characters from `from` ends, reading at most `max` of them.
const runEnd = (text: string, from: number, isBody: (c: number) => boolean, max: number): number => {
  const limit = Math.min(text.length, from + max)
  let i = from
  while (i < limit && isBody(text.charCodeAt(i))) i++
  return i
}

/**
 * A key made of a prefix (a match of `prefix`, a global pattern) and a body of `min` to `max` characters for which
 * `isBody` holds, not glued to a preceding letter or digit. The body is read by code, not by the pattern: when the
 * body characters include the prefix's own (`glpat-` in `glpat-glpat-...`), a pattern would read the same run
 * again from every prefix in it. A body too short ends a run in which a later prefix can only start a shorter one,
 * so the search goes on after the run.
 */
const prefixedKey = (options: {
  readonly prefix: RegExp
  readonly isBody: (c: number) => boolean
  readonly min: number
  readonly max: number
  readonly accept?: ((text: string, span: Span) => boolean) | undefined
}) =>
(text: string): Array<Span> => {
  const { accept, isBody, max, min, prefix } = options
  const spans: Array<Span> = []
  prefix.lastIndex = 0
  let m: RegExpExecArray | null
  while ((m = prefix.exec(text)) !== null) {
    const bodyStart = m.index + m[0].length
    const end = runEnd(text, bodyStart, isBody, max)
    const span = { start: m.index, end }
    if (end - bodyStart < min) {
      prefix.lastIndex = Math.max(end, m.index + 1)
    } else if (alnumAt(text, m.index - 1) || (accept !== undefined && !accept(text, span))) {
      prefix.lastIndex = m.index + 1
    } else {
      spans.push(span)
      prefix.lastIndex = end
    }
  }
  prefix.lastIndex = 0
  return spans
}

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

const SLACK_WEBHOOK_HOST = "hooks.slack.com/"
const SLACK_WEBHOOK_KINDS = ["services", "workflows", "triggers"] as const
const SLACK_WEBHOOK_PATH_MIN = 20
const SLACK_WEBHOOK_PATH_MAX = 255

/**
 * `https://hooks.slack.com/services/T.../B.../...`: the path after the kind is the secret, and the span.
 *
 * @internal
 */
export const slackWebhookPattern = new RegExp(
  `hooks\\.slack\\.com/(?:${
    SLACK_WEBHOOK_KINDS.join("|")
  })/[A-Za-z0-9_/-]{${SLACK_WEBHOOK_PATH_MIN},${SLACK_WEBHOOK_PATH_MAX}}`,
  "g"
)

/** @internal */
export const slackWebhook: RuleSpec = {
  id: "slack-webhook",
  description: "a Slack webhook URL",
  action: "block",
  enabled: true,
  patterns: [slackWebhookPattern],
  maxMatchLength: SLACK_WEBHOOK_HOST.length + Math.max(...SLACK_WEBHOOK_KINDS.map((k) => k.length)) + 1 +
    SLACK_WEBHOOK_PATH_MAX,
  prefilter: { needles: ["k.com/"] },
  detect: (text) =>
    scanPattern(slackWebhookPattern, text, (m) => {
      const path = m.index + m[0].indexOf("/", SLACK_WEBHOOK_HOST.length) + 1
      return { start: path, end: m.index + m[0].length }
    })
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
// OpenAI, Anthropic, npm, GitLab
// ---------------------------------------------------------------------------------------------------------------

const OPENAI_PREFIX = "sk-"
const OPENAI_KINDS = ["proj", "svcacct", "admin"] as const
const OPENAI_BODY_MIN = 20
// A key without a kind is the older 48-character form; at least this many letters and digits.
const OPENAI_PLAIN_MIN = 32
const OPENAI_BODY_MAX = 255

/**
 * The prefix of `sk-proj-...`, `sk-svcacct-...` and `sk-admin-...` keys, whose body (letters, digits, `_`, `-`) is
 * read by code.
 *
 * @internal
 */
export const openAiProjectPrefixPattern = new RegExp(`${OPENAI_PREFIX}(?:${OPENAI_KINDS.join("|")})-`, "g")

/**
 * The older form: `sk-` and 48 letters and digits. Anthropic's `sk-ant-` keys do not match (a `-` follows `ant`).
 *
 * @internal
 */
export const openAiPlainKeyPattern = new RegExp(
  `${OPENAI_PREFIX}[A-Za-z0-9]{${OPENAI_PLAIN_MIN},${OPENAI_BODY_MAX}}`,
  "g"
)

// A random key has letters and digits; "sk-" and a long word or number is something else.
const mixesLettersAndDigits = (text: string, span: Span): boolean => {
  let letter = false
  let digit = false
  for (let i = span.start + OPENAI_PREFIX.length; i < span.end && !(letter && digit); i++) {
    const c = text.charCodeAt(i)
    if (isDigit(c)) digit = true
    else if (isLower(c) || isUpper(c)) letter = true
  }
  return letter && digit
}

const detectOpenAiProjectKey = prefixedKey({
  prefix: openAiProjectPrefixPattern,
  isBody: isBase64Url,
  min: OPENAI_BODY_MIN,
  max: OPENAI_BODY_MAX
})

const detectOpenAiPlainKey = (text: string): Array<Span> =>
  scanPattern(openAiPlainKeyPattern, text, (m, t) => {
    const span = whole(m)
    return alnumAt(t, span.start - 1) || !mixesLettersAndDigits(t, span) ? undefined : span
  })

/** @internal */
export const openAiApiKey: RuleSpec = {
  id: "openai-api-key",
  description: "an OpenAI API key",
  action: "block",
  enabled: true,
  patterns: [openAiProjectPrefixPattern, openAiPlainKeyPattern],
  maxMatchLength: BEFORE + OPENAI_PREFIX.length + Math.max(...OPENAI_KINDS.map((k) => k.length)) + 1 +
    OPENAI_BODY_MAX,
  prefilter: { needles: ["k-"] },
  // The two forms never overlap: a kind is followed by `-`, which the older form has none of.
  detect: (text) => mergeOrdered(detectOpenAiProjectKey(text), detectOpenAiPlainKey(text))
}

const ANTHROPIC_PREFIX = "sk-ant-"
const ANTHROPIC_BODY_MIN = 20
const ANTHROPIC_BODY_MAX = 255

/**
 * The prefix of `sk-ant-api03-...`, `sk-ant-admin01-...`; the body is read by code.
 *
 * @internal
 */
export const anthropicPrefixPattern = new RegExp(ANTHROPIC_PREFIX, "g")

/** @internal */
export const anthropicApiKey: RuleSpec = {
  id: "anthropic-api-key",
  description: "an Anthropic API key",
  action: "block",
  enabled: true,
  patterns: [anthropicPrefixPattern],
  maxMatchLength: BEFORE + ANTHROPIC_PREFIX.length + ANTHROPIC_BODY_MAX,
  prefilter: { needles: ["k-ant-"] },
  detect: prefixedKey({
    prefix: anthropicPrefixPattern,
    isBody: isBase64Url,
    min: ANTHROPIC_BODY_MIN,
    max: ANTHROPIC_BODY_MAX
  })
}

const NPM_PREFIX = "npm_"
const NPM_BODY = 36

/** @internal */
export const npmTokenPattern = new RegExp(`${NPM_PREFIX}[A-Za-z0-9]{${NPM_BODY}}`, "g")

/** @internal */
export const npmToken: RuleSpec = {
  id: "npm-token",
  description: "an npm access token",
  action: "block",
  enabled: true,
  patterns: [npmTokenPattern],
  maxMatchLength: BEFORE + NPM_PREFIX.length + NPM_BODY + AFTER,
  prefilter: { needles: ["pm_"] },
  detect: (text) =>
    scanPattern(npmTokenPattern, text, (m, t) => {
      const span = whole(m)
      return alnumAt(t, span.start - 1) || alnumAt(t, span.end) ? undefined : span
    })
}

// Personal, deploy, runner, pipeline trigger, feed, service account, CI/CD job, incoming mail, OAuth application
// and agent tokens.
const GITLAB_PREFIXES = [
  "glpat-",
  "gldt-",
  "glrt-",
  "glptt-",
  "glft-",
  "glsoat-",
  "glcbt-",
  "glimt-",
  "gloas-",
  "glagent-"
] as const
const GITLAB_BODY_MIN = 20
const GITLAB_BODY_MAX = 255

/**
 * The prefixes of GitLab's tokens; the body is read by code.
 *
 * @internal
 */
export const gitlabPrefixPattern = new RegExp(GITLAB_PREFIXES.join("|"), "g")

/** @internal */
export const gitlabToken: RuleSpec = {
  id: "gitlab-token",
  description: "a GitLab token",
  action: "block",
  enabled: true,
  patterns: [gitlabPrefixPattern],
  maxMatchLength: BEFORE + Math.max(...GITLAB_PREFIXES.map((p) => p.length)) + GITLAB_BODY_MAX,
  prefilter: { needles: ["gl"] },
  detect: prefixedKey({ prefix: gitlabPrefixPattern, isBody: isBase64Url, min: GITLAB_BODY_MIN, max: GITLAB_BODY_MAX })
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

const BEARER = "bearer"
const BEARER_SPACES_MAX = 4
const JWT_HEADER_START = "eyJ"
const JWT_HEADER_MAX = 1024
// A bare token's header has at least this many characters after `eyJ` (`{"alg":"none"}` has 16).
const JWT_BARE_HEADER_MIN = 8

// "bearer" in any case, as a pattern: [Bb][Ee]...
const anyCase = (word: string): string => [...word].map((c) => `[${c.toUpperCase()}${c}]`).join("")

/** @internal */
export const bearerJwtPattern = new RegExp(
  `${anyCase(BEARER)}[ \\t]{1,${BEARER_SPACES_MAX}}${JWT_HEADER_START}[A-Za-z0-9_-]{1,${JWT_HEADER_MAX}}\\.`,
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

// The rest of a token whose payload starts at `payloadStart`: the payload, a dot, the signature (maybe empty).
const tokenEnd = (text: string, payloadStart: number): number | undefined => {
  const payloadEnd = base64UrlEnd(text, payloadStart, JWT_PAYLOAD_MAX)
  if (payloadEnd === payloadStart || text.charCodeAt(payloadEnd) !== Char.dot) return undefined
  return base64UrlEnd(text, payloadEnd + 1, JWT_SIGNATURE_MAX)
}

// Whether `Bearer` and one to four spaces or tabs come just before `at`: the bearer-jwt rule's finding then.
const followsBearer = (text: string, at: number): boolean => {
  let i = at
  while (i > at - BEARER_SPACES_MAX && (text.charCodeAt(i - 1) === Char.space || text.charCodeAt(i - 1) === Char.tab)) {
    i--
  }
  return i < at && i >= BEARER.length && text.slice(i - BEARER.length, i).toLowerCase() === BEARER
}

/**
 * `Bearer <header>.<payload>.<signature>` with base64url segments, the header starting `eyJ` (`{"`), `Bearer` in
 * any case. The span is the token; the word `Bearer` stays.
 */
const detectBearerJwt = (text: string): Array<Span> =>
  scanPattern(bearerJwtPattern, text, (m, t) => {
    const end = tokenEnd(t, m.index + m[0].length)
    return end === undefined ? undefined : { start: m.index + m[0].indexOf(JWT_HEADER_START), end }
  })

/**
 * A token not after `Bearer`: a header of at least JWT_BARE_HEADER_MIN characters after `eyJ` and a payload
 * starting `eyJ` too (`{"`, a JSON object). A header starts a run of base64url characters; read as one run, the
 * text is read a bounded number of times whatever the number of `eyJ` in it.
 */
const detectJwt = (text: string): Array<Span> => {
  const spans: Array<Span> = []
  let from = 0
  for (let at = text.indexOf(JWT_HEADER_START, from); at >= 0; at = text.indexOf(JWT_HEADER_START, from)) {
    const headerEnd = runEnd(text, at, isBase64Url, Infinity)
    from = headerEnd
    // Inside a longer run (its start was no token), or not a token.
    if (isBase64Url(text.charCodeAt(at - 1))) continue
    const header = headerEnd - at - JWT_HEADER_START.length
    if (header < JWT_BARE_HEADER_MIN || header > JWT_HEADER_MAX || text.charCodeAt(headerEnd) !== Char.dot) continue
    if (!text.startsWith(JWT_HEADER_START, headerEnd + 1) || followsBearer(text, at)) continue
    const end = tokenEnd(text, headerEnd + 1)
    if (end === undefined) continue
    spans.push({ start: at, end })
    from = end
  }
  return spans
}

// Both rules' findings start at a token's `eyJ`.
const jwtAnchor = new RegExp(JWT_HEADER_START)

// The three segments, their two dots, and the character that ends the signature.
const JWT_SPAN = JWT_HEADER_START.length + JWT_HEADER_MAX + 1 + JWT_PAYLOAD_MAX + 1 + JWT_SIGNATURE_MAX + AFTER

/** @internal */
export const bearerJwt: RuleSpec = {
  id: "bearer-jwt",
  description: "a JSON web token sent as a bearer token",
  action: "block",
  enabled: true,
  patterns: [bearerJwtPattern],
  maxMatchLength: BEARER.length + BEARER_SPACES_MAX + JWT_SPAN,
  anchor: jwtAnchor,
  prefilter: { needles: ["yJ"] },
  detect: detectBearerJwt
}

/** @internal */
export const jwt: RuleSpec = {
  id: "jwt",
  description: "a JSON web token (not after Bearer: bearer-jwt finds those)",
  action: "block",
  enabled: true,
  patterns: [],
  // The character before, and "Bearer" and its spaces, read to leave those to bearer-jwt.
  maxMatchLength: BEFORE + BEARER.length + BEARER_SPACES_MAX + JWT_SPAN,
  anchor: jwtAnchor,
  prefilter: { needles: [`.${JWT_HEADER_START}`] },
  detect: detectJwt
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
