// The value a token is kept under in Redis: `v1:<fingerprint>:<payload>`. The fingerprint lets a Lua script drop
// the value only if it holds a given token (the compare-and-delete of a 401) without Redis ever seeing the token in a
// command when the value is encrypted. The payload is `p:<token>` in the clear or `e:<base64 iv|tag|ciphertext>`,
// AES-256-GCM with the Redis key as additional data, so a value copied under another client's key does not decrypt.
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Crypto from "node:crypto"

const ivBytes = 12
const tagBytes = 16

export interface Codec {
  /** The start of every value holding `token`: what compare-and-delete compares. */
  readonly prefixOf: (token: Redacted.Redacted<string>) => string
  readonly encode: (redisKey: string, token: Redacted.Redacted<string>) => string
  /** `None` for a value this codec cannot read: another format, another key, a tampered value. */
  readonly decode: (redisKey: string, value: string) => Option.Option<Redacted.Redacted<string>>
}

export const makeCodec = (key: Buffer | undefined): Codec => {
  // Without a key the token is in the value anyway; the fingerprint's key only has to be fixed.
  const fingerprintKey = key === undefined ? Buffer.from("genesys-llm token fingerprint") : key
  const prefixOf = (token: Redacted.Redacted<string>) =>
    `v1:${Crypto.createHmac("sha256", fingerprintKey).update(Redacted.value(token)).digest("hex").slice(0, 32)}:`
  const encode = (redisKey: string, token: Redacted.Redacted<string>): string => {
    if (key === undefined) return `${prefixOf(token)}p:${Redacted.value(token)}`
    const iv = Crypto.randomBytes(ivBytes)
    const cipher = Crypto.createCipheriv("aes-256-gcm", key, iv)
    cipher.setAAD(Buffer.from(redisKey))
    const ciphertext = Buffer.concat([cipher.update(Redacted.value(token), "utf8"), cipher.final()])
    return `${prefixOf(token)}e:${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString("base64")}`
  }
  const decode = (redisKey: string, value: string): Option.Option<Redacted.Redacted<string>> => {
    const match = /^v1:[0-9a-f]{32}:([pe]):(.+)$/s.exec(value)
    if (match === null) return Option.none()
    const token = match[1] === "p" ? (key === undefined ? match[2] : undefined) : decrypt(key, redisKey, match[2])
    // The fingerprint must agree too, or a 401 could not drop this value.
    return token !== undefined && value.startsWith(prefixOf(Redacted.make(token)))
      ? Option.some(Redacted.make(token))
      : Option.none()
  }
  return { prefixOf, encode, decode }
}

const decrypt = (key: Buffer | undefined, redisKey: string, payload: string): string | undefined => {
  if (key === undefined) return undefined
  const bytes = Buffer.from(payload, "base64")
  if (bytes.length <= ivBytes + tagBytes) return undefined
  try {
    const decipher = Crypto.createDecipheriv("aes-256-gcm", key, bytes.subarray(0, ivBytes))
    decipher.setAAD(Buffer.from(redisKey))
    decipher.setAuthTag(bytes.subarray(ivBytes, ivBytes + tagBytes))
    return Buffer.concat([decipher.update(bytes.subarray(ivBytes + tagBytes)), decipher.final()]).toString("utf8")
  } catch {
    return undefined
  }
}

/** A 32-byte key from 64 hex digits or base64 (padded or not, standard or URL alphabet), else `undefined`. */
export const parseKey = (text: string): Buffer | undefined => {
  const trimmed = text.trim()
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, "hex")
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const bytes = Buffer.from(trimmed.replace(/-/g, "+").replace(/_/g, "/"), "base64")
    return bytes.length === 32 ? bytes : undefined
  }
  return undefined
}

/** A value no other lock holder has: lock ownership must not collide across processes. */
export const lockOwner = (): string => Crypto.randomBytes(16).toString("hex")
