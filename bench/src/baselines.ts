/**
 * The baselines: the plainest correct hand-written code doing the same work as the library, with no Effect, no
 * schema, no tracing. Each benchmark runs its baseline in the same process on the same data as the library and
 * checks that both give the same result.
 */

// -----------------------------------------------------------------------------------------------------------------
// Pre-flight: validation, context window, safety
// -----------------------------------------------------------------------------------------------------------------

export interface Message {
  readonly role: "user" | "agent" | "system"
  readonly content: string
}

export interface Payload {
  readonly systemInstructions: ReadonlyArray<string>
  readonly context: ReadonlyArray<Message>
  readonly temperature: number
  readonly maxTokens: number
  readonly modelId: string
}

export type Preflight =
  | { readonly _tag: "Invalid"; readonly issues: ReadonlyArray<string> }
  | { readonly _tag: "Overflow"; readonly budget: number; readonly required: number }
  | { readonly _tag: "Blocked"; readonly ruleIds: ReadonlyArray<string> }
  | { readonly _tag: "Ready"; readonly payload: Payload; readonly dropped: number; readonly redactions: number }

const ROLES = new Set(["user", "agent", "system"])

/** The specification's limits, checked by hand; every failing path is reported. */
export const validate = (input: unknown): Payload | ReadonlyArray<string> => {
  const issues: Array<string> = []
  if (typeof input !== "object" || input === null || Array.isArray(input)) return ["<root>: expected an object"]
  const o = input as Record<string, unknown>
  const system: Array<string> = []
  if (!Array.isArray(o.systemInstructions)) issues.push("systemInstructions: expected an array")
  else {
    if (o.systemInstructions.length > 5) issues.push("systemInstructions: at most 5 items")
    o.systemInstructions.forEach((s, i) => {
      if (typeof s !== "string") issues.push(`systemInstructions[${i}]: expected a string`)
      else if (s.length > 500) issues.push(`systemInstructions[${i}]: at most 500 characters`)
      else system.push(s)
    })
  }
  const context: Array<Message> = []
  if (!Array.isArray(o.context)) issues.push("context: expected an array")
  else {
    // Longer than the hard bound: refused by its length, the messages not looked at (as the library does).
    if (o.context.length > 1000) issues.push("context: at most 1000 items")
    else {
      o.context.forEach((m, i) => {
        if (typeof m !== "object" || m === null) return issues.push(`context[${i}]: expected an object`)
        const { content, role } = m as Record<string, unknown>
        if (typeof role !== "string" || !ROLES.has(role)) issues.push(`context[${i}].role: expected a role`)
        if (typeof content !== "string") issues.push(`context[${i}].content: expected a string`)
        else if (content.length > 4000) issues.push(`context[${i}].content: at most 4000 characters`)
        else if (typeof role === "string" && ROLES.has(role)) context.push({ role: role as Message["role"], content })
      })
    }
  }
  const { maxTokens, modelId, temperature } = o
  if (typeof temperature !== "number" || !(temperature >= 0 && temperature <= 2)) {
    issues.push("temperature: expected a number from 0 to 2")
  }
  if (typeof maxTokens !== "number" || !Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 4096) {
    issues.push("maxTokens: expected an integer from 1 to 4096")
  }
  if (typeof modelId !== "string" || modelId.trim().length === 0) issues.push("modelId: expected a non-empty string")
  if (issues.length > 0) return issues
  return {
    systemInstructions: system,
    context,
    temperature: temperature as number,
    maxTokens: maxTokens as number,
    modelId: modelId as string
  }
}

const tokens = (text: string) => Math.ceil(text.length / 4)

/**
 * Keeps the newest 25 context messages, then drops the oldest until the estimate fits 80% of maxTokens; the newest
 * is never dropped.
 */
export const fit = (payload: Payload): { readonly payload: Payload; readonly dropped: number } | {
  readonly budget: number
  readonly required: number
} => {
  const budget = Math.floor(payload.maxTokens * 0.8 + 1e-9)
  let total = 0
  for (const s of payload.systemInstructions) total += tokens(s)
  let keep = payload.context.length
  const oldest = Math.max(0, payload.context.length - 25)
  while (keep > oldest) {
    const t = tokens(payload.context[keep - 1].content)
    if (total + t > budget) {
      if (keep === payload.context.length) return { budget, required: total + t }
      break
    }
    total += t
    keep--
  }
  if (total > budget) return { budget, required: total }
  return keep === 0
    ? { payload, dropped: 0 }
    : { payload: { ...payload, context: payload.context.slice(keep) }, dropped: keep }
}

// The rules of the default policy, each as the obvious regular expression (with the bounds the formats have, so
// that none of them backtracks without end), plus the e-mail and phone rules set to redact.

const KEYWORD = "(?:pass(?:word|wd|phrase)|secret|token|api[ _-]?key|access[ _-]?key|private[ _-]?key)"
const assignment = new RegExp(`${KEYWORD}["'\`]?[ \\t]{0,3}(?::=|=>|[:=])[ \\t]{0,3}["'\`]?([^\\s"'\`]{1,256})`, "gi")
const statement = new RegExp(`${KEYWORD}[ \\t]{1,3}is:?[ \\t]{1,3}["'\`]?([^\\s"'\`]{1,256})`, "gi")
const NOT_SECRETS = new Set(
  ("a an the not no now still too very so also just only always never being been be it its this that my your our " +
    "his her their in on at of for to from by with about and or but if then what which who when where why how " +
    "wrong incorrect invalid expired missing empty locked correct right same different weak strong new old reset " +
    "changed working broken required set saved sent hidden unknown forgotten lost stolen compromised valid ok fine")
    .split(" ")
)

const KEYS: ReadonlyArray<readonly [string, RegExp]> = [
  ["aws-access-key-id", /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g],
  ["github-token", /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})/g],
  ["stripe-secret-key", /\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,247}/g],
  ["slack-token", /\bxox[abposr]-[A-Za-z0-9-]{10,250}/g],
  ["google-api-key", /\bAIza[A-Za-z0-9_-]{35}(?![\w-])/g],
  ["private-key", /-----BEGIN (?:[A-Z0-9]{1,20} ){0,3}PRIVATE KEY(?: BLOCK)?-----/g],
  ["bearer-jwt", /[Bb]earer[ \t]{1,4}eyJ[A-Za-z0-9_-]{1,1024}\.[A-Za-z0-9_-]{1,4096}\./g],
  ["url-credentials", /[A-Za-z0-9]:\/\/[^\s/?#:@]{1,128}:[^\s/?#@]{1,256}@/g]
]

const ssn = /(?<![\w-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\w])/g
const card = /(?<![\w-])\d(?:[ -]?\d){12,18}(?!\w)/g
const email =
  /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![A-Za-z0-9-])/g
const phone =
  /(?<![\w+])(?:(?:\+1[ .-]?|1[ .-])?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-]?)[2-9]\d{2}[ .-]?\d{4}|\+[1-9]\d{6,14})(?!\w)/g

const luhn = (digits: string): boolean => {
  let sum = 0
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2
    sum += d
  }
  return sum % 10 === 0
}

/** The ids of the block rules that match in a text (each rule once). */
export const blockedBy = (text: string): Array<string> => {
  const hits: Array<string> = []
  const isSecret = (value: string) => !value.startsWith("[REDACTED:") && !/^\*+$/.test(value)
  let secret = false
  for (const m of text.matchAll(assignment)) if (isSecret(m[1])) secret = true
  if (!secret) {
    for (const m of text.matchAll(statement)) {
      if (isSecret(m[1]) && !NOT_SECRETS.has(m[1].replace(/[.,;:!?)\]}>]+$/, "").toLowerCase())) secret = true
    }
  }
  if (secret) hits.push("secret-assignment")
  for (const [id, pattern] of KEYS) {
    pattern.lastIndex = 0
    if (pattern.test(text)) hits.push(id)
  }
  for (const m of text.matchAll(ssn)) {
    const area = Number(m[1])
    if (area !== 0 && area !== 666 && area < 900 && m[3] !== "00" && m[4] !== "0000") {
      hits.push("us-ssn")
      break
    }
  }
  for (const m of text.matchAll(card)) {
    const digits = m[0].replace(/[ -]/g, "")
    if (luhn(digits) && !/^0+$/.test(digits)) {
      hits.push("payment-card")
      break
    }
  }
  return hits
}

/** Replaces e-mail addresses and phone numbers with the library's markers; counts them. */
export const redact = (text: string): { readonly text: string; readonly count: number } => {
  let count = 0
  const out = text
    .replace(email, () => (count++, "[REDACTED:email]"))
    .replace(phone, () => (count++, "[REDACTED:phone-number]"))
  return { text: out, count }
}

/** Validation, the context window and the safety rules, by hand. */
export const preflight = (input: unknown): Preflight => {
  const valid = validate(input)
  if (Array.isArray(valid)) return { _tag: "Invalid", issues: valid }
  const fitted = fit(valid as Payload)
  if (!("payload" in fitted)) return { _tag: "Overflow", ...fitted }
  const { payload } = fitted
  const blocked = new Set<string>()
  let redactions = 0
  const scan = (text: string): string => {
    for (const id of blockedBy(text)) blocked.add(id)
    const r = redact(text)
    redactions += r.count
    return r.text
  }
  const systemInstructions = payload.systemInstructions.map(scan)
  const context = payload.context.map((m) => {
    const content = scan(m.content)
    return content === m.content ? m : { role: m.role, content }
  })
  if (blocked.size > 0) return { _tag: "Blocked", ruleIds: [...blocked] }
  return {
    _tag: "Ready",
    payload: redactions === 0 ? payload : { ...payload, systemInstructions, context },
    dropped: fitted.dropped,
    redactions
  }
}

// -----------------------------------------------------------------------------------------------------------------
// Safety scan
// -----------------------------------------------------------------------------------------------------------------

/** Every finding of the rules in a text, as [rule id, start, end], like the library's `scanText`. */
export const scan = (text: string): Array<readonly [string, number, number]> => {
  const findings: Array<readonly [string, number, number]> = []
  for (const m of text.matchAll(assignment)) {
    const value = m[1].replace(/[.,;:!?)\]}>]+$/, "")
    if (value.length > 0 && !value.startsWith("[REDACTED:")) {
      const start = m.index + m[0].length - m[1].length
      findings.push(["secret-assignment", start, start + value.length])
    }
  }
  for (const m of text.matchAll(statement)) {
    const value = m[1].replace(/[.,;:!?)\]}>]+$/, "")
    if (value.length > 0 && !NOT_SECRETS.has(value.toLowerCase())) {
      const start = m.index + m[0].length - m[1].length
      findings.push(["secret-assignment", start, start + value.length])
    }
  }
  for (const [id, pattern] of KEYS) {
    for (const m of text.matchAll(pattern)) findings.push([id, m.index, m.index + m[0].length])
  }
  for (const m of text.matchAll(ssn)) {
    const area = Number(m[1])
    if (area !== 0 && area !== 666 && area < 900 && m[3] !== "00" && m[4] !== "0000") {
      findings.push(["us-ssn", m.index, m.index + m[0].length])
    }
  }
  for (const m of text.matchAll(card)) {
    const digits = m[0].replace(/[ -]/g, "")
    if (luhn(digits) && !/^0+$/.test(digits)) findings.push(["payment-card", m.index, m.index + m[0].length])
  }
  for (const m of text.matchAll(email)) findings.push(["email", m.index, m.index + m[0].length])
  for (const m of text.matchAll(phone)) findings.push(["phone-number", m.index, m.index + m[0].length])
  return findings.sort((a, b) => a[1] - b[1] || b[2] - a[2])
}

// -----------------------------------------------------------------------------------------------------------------
// NDJSON
// -----------------------------------------------------------------------------------------------------------------

export interface Decoded {
  frames: number
  characters: number
  completionTokens: number
}

/**
 * The hand-written split-and-parse loop: a streaming `TextDecoder`, a string buffer split on `\n`, `JSON.parse`
 * of every non-blank line, the fields checked. Fails on a partial last line, a line that is not a frame, and a
 * line longer than `maxLineChars` (a bound on memory, as the library has).
 */
export class LineDecoder {
  readonly result: Decoded = { frames: 0, characters: 0, completionTokens: 0 }
  private readonly utf8 = new TextDecoder("utf-8", { fatal: true })
  private buffer = ""

  constructor(
    readonly onContent: (text: string) => void = () => {},
    readonly maxLineChars: number = 1024 * 1024
  ) {}

  push(chunk: Uint8Array): void {
    const text = this.buffer + this.utf8.decode(chunk, { stream: true })
    const lines = text.split("\n")
    this.buffer = lines.pop()!
    if (this.buffer.length > this.maxLineChars) throw new Error("line too long")
    for (const line of lines) this.line(line)
  }

  end(): Decoded {
    const rest = this.buffer + this.utf8.decode()
    if (rest.trim().length > 0) throw new Error("truncated stream")
    return this.result
  }

  private line(raw: string): void {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw
    if (line.trim().length === 0) return
    const frame = JSON.parse(line) as { content?: unknown; usage?: { completion_tokens?: unknown } | null }
    if (typeof frame !== "object" || frame === null) throw new Error("not a frame")
    if (typeof frame.content === "string") {
      this.result.frames++
      this.result.characters += frame.content.length
      if (frame.content.length > 0) this.onContent(frame.content)
    } else if (frame.content !== undefined && frame.content !== null) throw new Error("not a frame")
    const used = frame.usage?.completion_tokens
    if (typeof used === "number") this.result.completionTokens += used
  }
}

/** Decodes a whole recorded stream with the hand-written loop. */
export const decodeAll = (chunks: ReadonlyArray<Uint8Array>): Decoded => {
  const decoder = new LineDecoder()
  for (const chunk of chunks) decoder.push(chunk)
  return decoder.end()
}

// -----------------------------------------------------------------------------------------------------------------
// A bare call
// -----------------------------------------------------------------------------------------------------------------

export interface BareAnswer {
  readonly text: string
  readonly completionTokens: number
}

/**
 * One chat call with plain `fetch`: the bearer token, a fresh `llm-gw-<uuid>` idempotency key, the payload as
 * JSON, and the answer read with the hand-written NDJSON loop. No validation, no safety, no retries, no audit.
 */
export const bareCall = async (chatUrl: string, token: string, payload: unknown): Promise<BareAnswer> => {
  const response = await fetch(chatUrl, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      accept: "application/x-ndjson",
      "idempotency-key": `llm-gw-${crypto.randomUUID()}`
    },
    body: JSON.stringify(payload)
  })
  if (response.status !== 200 || response.body === null) {
    await response.body?.cancel()
    throw new Error(`the gateway answered ${response.status}`)
  }
  const parts: Array<string> = []
  const decoder = new LineDecoder((text) => parts.push(text))
  for await (const chunk of response.body) decoder.push(chunk)
  const result = decoder.end()
  return { text: parts.join(""), completionTokens: result.completionTokens }
}
