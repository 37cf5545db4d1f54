/**
 * The data every benchmark runs on, generated from fixed seeds: the same bytes on every run and machine.
 */
import { random } from "./harness.js"

const WORDS = (
  "the customer order account refund shipping agent queue callback invoice delivery status update confirmed " +
  "within two business days please note that your request has been received and is being reviewed we will " +
  "contact you about parcel address billing payment plan subscription renewal cancel support ticket case " +
  "number reference today tomorrow morning afternoon thanks hello hi sorry for the delay I can see here it " +
  "looks like was shipped last week but tracking shows no movement since Monday could you check again " +
  "warehouse courier driver missed attempt leave at door neighbour signature required return label store " +
  "credit voucher discount promotion price charged twice statement balance overdue reminder email phone " +
  "call back later transfer manager escalate priority resolve closed reopened survey feedback rating"
).split(" ")

const FIRST = ["jane", "john", "maria", "li", "omar", "priya", "lukas", "sofia", "kenji", "amara"]
const LAST = ["doe", "smith", "garcia", "chen", "haddad", "patel", "muller", "rossi", "tanaka", "okafor"]
const DOMAINS = ["example.com", "mail.example.org", "contoso.co.uk", "fabrikam.net"]

/** A sentence of plain contact-center prose, with the odd order number or date. */
const sentence = (next: () => number): string => {
  const count = 6 + Math.floor(next() * 14)
  const words: Array<string> = []
  for (let i = 0; i < count; i++) words.push(WORDS[Math.floor(next() * WORDS.length)])
  const r = next()
  if (r < 0.15) words.push(`order ${10_000 + Math.floor(next() * 89_999)}`)
  else if (r < 0.25) words.push(`on ${1 + Math.floor(next() * 28)}/${1 + Math.floor(next() * 12)}/2024`)
  else if (r < 0.3) words.push(`at ${1 + Math.floor(next() * 11)}:${10 + Math.floor(next() * 49)} pm`)
  const text = words.join(" ")
  return `${text[0].toUpperCase()}${text.slice(1)}${next() < 0.2 ? "?" : "."}`
}

/** Prose of exactly `length` characters (cut at the end). */
export const prose = (length: number, seed: number): string => {
  const next = random(seed)
  const parts: Array<string> = []
  let total = 0
  while (total < length) {
    const s = sentence(next)
    parts.push(s)
    total += s.length + 1
  }
  return parts.join(" ").slice(0, length)
}

/** An e-mail address and a North American phone number, the personal data the benchmarks redact. */
const email = (next: () => number) =>
  `${FIRST[Math.floor(next() * FIRST.length)]}.${LAST[Math.floor(next() * LAST.length)]}@${
    DOMAINS[Math.floor(next() * DOMAINS.length)]
  }`

const phone = (next: () => number) => {
  const area = 200 + Math.floor(next() * 700)
  const exchange = 200 + Math.floor(next() * 700)
  const line = String(Math.floor(next() * 10_000)).padStart(4, "0")
  const style = Math.floor(next() * 3)
  return style === 0
    ? `(${area}) ${exchange}-${line}`
    : style === 1
    ? `${area}-${exchange}-${line}`
    : `+1 ${area} ${exchange} ${line}`
}

/** A message of about `length` characters; with `pii`, an e-mail address and a phone number inside it. */
const message = (length: number, pii: boolean, next: () => number): string => {
  const seed = Math.floor(next() * 2 ** 31)
  if (!pii) return prose(length, seed)
  const contact = `You can reach me at ${email(next)} or on ${phone(next)} after five.`
  const body = prose(Math.max(0, length - contact.length - 1), seed)
  const cut = body.lastIndexOf(". ", Math.floor(body.length / 2))
  return cut < 0 ? `${contact} ${body}`.slice(0, length) : `${body.slice(0, cut + 2)}${contact} ${body.slice(cut + 2)}`
}

/** The payload as a caller sends it: untrusted JSON, here already parsed. */
export interface PayloadInput {
  readonly systemInstructions: ReadonlyArray<string>
  readonly context: ReadonlyArray<{ readonly role: string; readonly content: string }>
  readonly temperature: number
  readonly maxTokens: number
  readonly modelId: string
}

/**
 * Payloads with `messages` context messages whose lengths are spread log-uniformly over 100..4000 characters
 * (chat messages are mostly short, some are pasted e-mails), one in three with an e-mail address and a phone
 * number to redact. `maxTokens` 4096 gives the default budget of 3276 tokens, so long conversations are trimmed.
 */
export const payloads = (messages: number, count: number, seed: number): ReadonlyArray<PayloadInput> => {
  const next = random(seed)
  return Array.from({ length: count }, (_, p) => ({
    systemInstructions: [
      "You are a concise, friendly contact-center assistant for an online store.",
      "Never ask for card numbers or passwords; offer a callback when the customer is upset."
    ],
    context: Array.from({ length: messages }, (_, i) => {
      const length = Math.round(100 * 40 ** next())
      return {
        role: i % 2 === 0 ? "user" : "agent",
        content: message(length, (p + i) % 3 === 0, next)
      }
    }),
    temperature: 0.3,
    maxTokens: 4096,
    modelId: "genesys-bench-model"
  }))
}

/** A short chat turn for the end-to-end benchmarks: one system instruction, three messages. */
export const chatPayload = (i: number): PayloadInput => ({
  systemInstructions: ["You are a concise contact-center assistant."],
  context: [
    { role: "user", content: `Hello, where is my order ${10_000 + i}? It was due yesterday.` },
    { role: "agent", content: "Let me check that for you. Could you confirm the delivery postcode?" },
    { role: "user", content: "Sure, it is the same as on my account. Thanks for checking." }
  ],
  temperature: 0.2,
  maxTokens: 256,
  modelId: "genesys-bench-model"
})

// -----------------------------------------------------------------------------------------------------------------
// Texts for the safety scan
// -----------------------------------------------------------------------------------------------------------------

/** The kinds of text the safety scan runs over. */
export const textKinds = [
  "prose",
  "prose+pii",
  "prose+unicode",
  "lookalikes",
  "invisible",
  "marks",
  "digits",
  "digit-groups",
  "separators",
  "password"
] as const

export type TextKind = typeof textKinds[number]

const repeatTo = (unit: string, length: number): string => unit.repeat(Math.ceil(length / unit.length)).slice(0, length)

// Fullwidth forms of ASCII letters, digits and punctuation.
const fullwidth = (text: string): string => text.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0))

/**
 * A text of `length` characters: prose, prose with personal data every few hundred characters, prose with
 * non-ASCII characters already in normal form (curly quotes, accents, Japanese, emoji), or one of the texts that
 * make the safety scan's normalised view work: fullwidth forms and no-break spaces in prose, a zero-width space
 * after every character, combining marks out of canonical order; or one of the adversarial texts built against
 * backtracking patterns: one run of digits, digit groups joined by spaces and dashes (card and SSN candidates
 * that never pass), runs of separators and key prefixes, and `password` repeated with assignment separators.
 */
export const text = (kind: TextKind, length: number): string => {
  switch (kind) {
    case "prose":
      return prose(length, 7)
    case "prose+pii": {
      const next = random(11)
      const parts: Array<string> = []
      let total = 0
      while (total < length) {
        const part = total % 3 === 0
          ? `${prose(200, Math.floor(next() * 1e9))} Mail ${email(next)} or call ${phone(next)}. `
          : `${prose(300, Math.floor(next() * 1e9))} `
        parts.push(part)
        total += part.length
      }
      return parts.join("").slice(0, length)
    }
    case "prose+unicode":
      return repeatTo(
        prose(400, 13).replace(/'/g, "\u2019") +
          " Caf\u00e9 na\u00efve \u2014 \u3054\u6ce8\u6587\u3042\u308a\u304c\u3068\u3046 \ud83d\udc4b ",
        length
      )
    case "lookalikes":
      return repeatTo(`${prose(120, 17)} ${fullwidth("Order 4012 8888 8888 1882, ref: AB-12")}\u00a0ok. `, length)
    case "invisible":
      return repeatTo([...prose(400, 19)].join("\u200b"), length)
    case "marks":
      return "a" + repeatTo("\u0301\u0316", length - 1)
    case "digits":
      return repeatTo("1234567890", length)
    case "digit-groups":
      return repeatTo("4111 1111 1111 111 123-45-678 1234-5678-9012-345 555 0100 12 34 ", length)
    case "separators":
      return repeatTo(":=:=-----BEGIN ://a:b@@@.-. xoxb-ghp_AKIA Bearer eyJ. ", length)
    case "password":
      return repeatTo("password password: password= password is password => ", length)
  }
}

// -----------------------------------------------------------------------------------------------------------------
// A recorded answer stream
// -----------------------------------------------------------------------------------------------------------------

export interface RecordedStream {
  readonly bytes: Uint8Array
  /** What a correct decoder finds in it. */
  readonly frames: number
  readonly characters: number
  readonly completionTokens: number
}

const encoder = new TextEncoder()

/**
 * An NDJSON answer of about `size` bytes as the gateway sends it: content frames of 8 to 64 characters (some
 * with 2-, 3- and 4-byte UTF-8 characters and JSON escapes), a usage frame every 1000 frames, `\r\n` line ends
 * on one frame in ten and a blank line now and then.
 */
export const recordedStream = (size: number, seed = 3): RecordedStream => {
  const next = random(seed)
  const extras = ["café ", "日本語 ", "👋 ", "\"quoted\" ", "tab\there ", "naïve ", "back\\slash "]
  const lines: Array<string> = []
  let bytes = 0
  let frames = 0
  let characters = 0
  let completionTokens = 0
  while (bytes < size) {
    const words: Array<string> = []
    const target = 8 + Math.floor(next() * 56)
    let length = 0
    while (length < target) {
      const w = next() < 0.08
        ? extras[Math.floor(next() * extras.length)]
        : `${WORDS[Math.floor(next() * WORDS.length)]} `
      words.push(w)
      length += w.length
    }
    const content = words.join("")
    const end = next() < 0.1 ? "\r\n" : "\n"
    const blank = next() < 0.01 ? "\n" : ""
    const line = `${blank}${JSON.stringify({ content })}${end}`
    lines.push(line)
    bytes += Buffer.byteLength(line)
    frames++
    characters += content.length
    if (frames % 1000 === 0) {
      const usage = `{"usage":{"completion_tokens":250}}\n`
      lines.push(usage)
      bytes += usage.length
      completionTokens += 250
    }
  }
  return { bytes: encoder.encode(lines.join("")), frames, characters, completionTokens }
}

/** The stream cut into chunks of `size` bytes (views, not copies), as a socket would deliver it. */
export const chunks = (bytes: Uint8Array, size: number): ReadonlyArray<Uint8Array> => {
  const out: Array<Uint8Array> = []
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, Math.min(bytes.length, i + size)))
  return out
}
