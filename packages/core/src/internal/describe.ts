/**
 * How validation messages name what they refuse without repeating it: the input may be a prompt, a card number or
 * a secret sent in the wrong field, and messages end up in logs, CLI output and HTTP answers.
 *
 * @internal
 */

// Only a short word is quoted (a misspelt role such as "bot"), never anything with digits or spaces.
const word = /^[A-Za-z_-]{1,16}$/

/**
 * A number as a message may show it: short ones as they are, longer ones by their size, since a card number, an
 * SSN or a phone number sent in a numeric field must not come back.
 *
 * @internal
 */
export const describeNumber = (n: number): string => {
  const text = String(n)
  return text.length <= 6 ? text : `a number of ${text.length} characters`
}

/** @internal */
export const describeValue = (u: unknown): string => {
  if (u === undefined) return "undefined"
  if (typeof u === "number") return describeNumber(u)
  if (typeof u === "boolean" || u === null) return String(u)
  if (typeof u === "string") return word.test(u) ? JSON.stringify(u) : `a string of ${u.length} characters`
  return Array.isArray(u) ? `an array of ${u.length} items` : `a ${typeof u}`
}

/**
 * The message of an array over its bound; the schema's check and the check made before decoding share it.
 *
 * @internal
 */
export const tooManyItems = (what: string, max: number, got: number): string =>
  `${what} must have at most ${max} items, got ${got}`
