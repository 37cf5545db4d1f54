import * as Crypto from "node:crypto"

/** The part of a Redis key that names a client or a budget: a hash, so the client id is not readable in Redis. */
export const hashed = (...parts: ReadonlyArray<string>): string =>
  Crypto.createHash("sha256").update(parts.join("\n")).digest("hex")
