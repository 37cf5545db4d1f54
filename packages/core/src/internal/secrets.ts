/**
 * The forms a secret takes when something repeats it back: a proxy that echoes the request's headers, a server
 * that quotes its input, a debug page. What such an answer says is kept out of messages altogether; these forms
 * are what is scrubbed from the little that is kept (a redacted debug copy of a body) and what disqualifies a
 * short value (a code, a correlation id) from being repeated.
 *
 * @internal
 */
import * as Encoding from "effect/Encoding"

const utf8 = new TextEncoder()

// A form shorter than this is too likely to occur by chance to be worth scrubbing (the raw secret always is).
const minimumFormLength = 8

const htmlEscapes: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  "\"": "&quot;",
  "'": "&#39;"
}

/**
 * The base64 of `text` as it appears inside the base64 of a longer text, at each of the three byte alignments:
 * the characters that depend only on `text`'s bytes, without those shared with what comes before or after.
 */
const base64Fragments = (text: string): ReadonlyArray<string> => {
  const bytes = utf8.encode(text)
  const out: Array<string> = []
  for (let offset = 0; offset < 3; offset++) {
    const padded = new Uint8Array(offset + bytes.length)
    padded.set(bytes, offset)
    const first = Math.ceil((8 * offset) / 6)
    const last = Math.floor((8 * padded.length) / 6)
    for (const encoded of [Encoding.encodeBase64(padded), Encoding.encodeBase64Url(padded)]) {
      out.push(encoded.slice(first, last))
    }
  }
  return out
}

/**
 * Every form of `secret` worth scrubbing: as it is and after each prefix it travels with (`Bearer `), each in
 * base64 and base64url (whole, and inside a longer base64 text), URL- and form-encoded, JSON-escaped (with `\/`
 * too) and HTML-escaped. Longest first, so that scrubbing a long form does not leave part of it behind.
 *
 * @internal
 */
export const formsOf = (secret: string, prefixes: ReadonlyArray<string> = []): ReadonlyArray<string> => {
  if (secret.length === 0) return []
  const forms = new Set<string>([secret])
  for (const text of [secret, ...prefixes.map((prefix) => `${prefix}${secret}`)]) {
    forms.add(text)
    forms.add(Encoding.encodeBase64(text))
    forms.add(Encoding.encodeBase64Url(text))
    for (const fragment of base64Fragments(text)) forms.add(fragment)
    forms.add(encodeURIComponent(text))
    forms.add(new URLSearchParams([["", text]]).toString().slice(1))
    const json = JSON.stringify(text).slice(1, -1)
    forms.add(json)
    forms.add(json.replaceAll("/", "\\/"))
    forms.add(text.replace(/[&<>"']/g, (c) => htmlEscapes[c]))
  }
  return [...forms]
    .filter((form) => form === secret || form.length >= minimumFormLength)
    .sort((a, b) => b.length - a.length)
}

/** Several secrets' forms as one list, longest first. @internal */
export const combine = (...lists: ReadonlyArray<ReadonlyArray<string>>): ReadonlyArray<string> =>
  [...new Set(lists.flat())].sort((a, b) => b.length - a.length)

/** Whether `text` holds any of the forms. @internal */
export const contains = (text: string, forms: ReadonlyArray<string>): boolean => {
  for (const form of forms) if (text.includes(form)) return true
  return false
}

/** `text` with every form replaced by `<redacted>`. @internal */
export const scrub = (text: string, forms: ReadonlyArray<string>): string => {
  let out = text
  for (const form of forms) if (out.includes(form)) out = out.split(form).join("<redacted>")
  return out
}
