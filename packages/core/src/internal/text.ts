/**
 * Helpers that make server-provided text safe to put into an error message.
 *
 * @internal
 */

/** @internal */
export const maxDescriptionLength = 300

/**
 * Removes control characters, collapses whitespace, removes every occurrence of a secret and shortens the text.
 *
 * @internal
 */
export const sanitize = (
  text: string,
  secrets: ReadonlyArray<string> = [],
  maxLength: number = maxDescriptionLength
): string => {
  let out = text
  // Longest first, so that a secret inside a longer encoded form does not leave the rest of that form behind.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length > 0) out = out.split(secret).join("<redacted>")
  }
  // eslint-disable-next-line no-control-regex
  out = out.replace(/[\u0000-\u001f\u007f]+/g, " ").replace(/\s+/g, " ").trim()
  return out.length > maxLength ? `${out.slice(0, maxLength)}…` : out
}

/**
 * A short machine code (`rate.limit.exceeded`, `invalid_client`) or `undefined` when the value is not one.
 *
 * @internal
 */
export const code = (value: unknown): string | undefined =>
  typeof value === "string" && /^[A-Za-z0-9_.:-]{1,100}$/.test(value) ? value : undefined

/**
 * Describes a failure cause without its stack, shortened; used for transport errors.
 *
 * @internal
 */
export const describeCause = (cause: unknown, secrets: ReadonlyArray<string> = [], depth = 0): string => {
  if (typeof cause === "object" && cause !== null && depth < 4) {
    const c = cause as { readonly code?: unknown; readonly message?: unknown; readonly cause?: unknown }
    const errorCode = code(c.code)
    const message = typeof c.message === "string" ? c.message : undefined
    const inner = c.cause !== undefined && c.cause !== cause ? describeCause(c.cause, secrets, depth + 1) : undefined
    const parts = [errorCode, message !== undefined ? sanitize(message, secrets, 200) : undefined, inner]
      .filter((p): p is string => p !== undefined && p.length > 0)
    if (parts.length > 0) return sanitize([...new Set(parts)].join(": "), secrets)
  }
  return typeof cause === "string" ? sanitize(cause, secrets) : "unknown cause"
}
