/**
 * Where a text stops being JSON, for the message of a payload file that `JSON.parse` refused: Node 20's messages
 * give a position only for some errors, and quote the text (which may be a prompt) for others. This scanner walks
 * the text once, without recursion, and names the line, the column and what was expected there, never the text.
 *
 * @internal
 */

/** @internal */
export interface SyntaxErrorAt {
  readonly line: number
  readonly column: number
  readonly problem: string
}

type Frame = "object" | "array"

const whitespace = new Set([" ", "\t", "\n", "\r"])
const numberPattern = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
const escapes = new Set(["\"", "\\", "/", "b", "f", "n", "r", "t"])

const positionOf = (text: string, offset: number): { readonly line: number; readonly column: number } => {
  let line = 1
  let lineStart = 0
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === "\n") {
      line++
      lineStart = i + 1
    }
  }
  return { line, column: offset - lineStart + 1 }
}

/**
 * The first syntax error of `text`, or `undefined` when it is JSON.
 *
 * @internal
 */
export const locate = (text: string): SyntaxErrorAt | undefined => {
  let i = 0
  const stack: Array<Frame> = []
  const fail = (problem: string, at = i): SyntaxErrorAt => ({ ...positionOf(text, at), problem })
  const skip = () => {
    while (i < text.length && whitespace.has(text[i])) i++
  }
  // Reads a string starting at its opening quote; the error, if any.
  const string = (): SyntaxErrorAt | undefined => {
    i++
    while (i < text.length) {
      const c = text[i]
      if (c === "\"") {
        i++
        return undefined
      }
      if (c.charCodeAt(0) < 0x20) return fail("a control character inside a string (write it as an escape)")
      if (c === "\\") {
        const next = text[i + 1]
        if (next === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return fail("an invalid \\u escape in a string")
          i += 6
        } else if (next !== undefined && escapes.has(next)) {
          i += 2
        } else {
          return fail("an invalid escape in a string")
        }
      } else {
        i++
      }
    }
    return fail("a string that is not closed", text.length)
  }
  // Reads a value that is not an object or array; the error, if any.
  const scalar = (): SyntaxErrorAt | undefined => {
    const c = text[i]
    if (c === "\"") return string()
    for (const literal of ["true", "false", "null"]) {
      if (text.startsWith(literal, i)) {
        i += literal.length
        return undefined
      }
    }
    numberPattern.lastIndex = i
    const match = numberPattern.exec(text)
    if (match !== null && match[0].length > 0 && match[0] !== "-") {
      i += match[0].length
      return undefined
    }
    return fail(i >= text.length ? "the text ends where a value was expected" : "expected a value")
  }
  // After a value: a separator or the end of the container, or of the text.
  const afterValue = (): SyntaxErrorAt | "value" | "key" | undefined => {
    skip()
    const top = stack[stack.length - 1]
    if (top === undefined) return i < text.length ? fail("more text after the JSON value") : undefined
    const close = top === "object" ? "}" : "]"
    if (text[i] === ",") {
      i++
      return top === "object" ? "key" : "value"
    }
    if (text[i] === close) {
      i++
      stack.pop()
      return afterValue()
    }
    return fail(i >= text.length ? `the text ends before '${close}'` : `expected ',' or '${close}'`)
  }
  let expect: "value" | "key" | "first-key" | "first-value" = "value"
  for (;;) {
    skip()
    if (expect === "key" || expect === "first-key") {
      if (expect === "first-key" && text[i] === "}") {
        i++
        stack.pop()
      } else {
        if (text[i] !== "\"") return fail("expected a property name in double quotes")
        const error = string()
        if (error !== undefined) return error
        skip()
        if (text[i] !== ":") return fail("expected ':' after a property name")
        i++
        expect = "value"
        continue
      }
    } else if (expect === "first-value" && text[i] === "]") {
      i++
      stack.pop()
    } else if (text[i] === "{") {
      i++
      stack.push("object")
      expect = "first-key"
      continue
    } else if (text[i] === "[") {
      i++
      stack.push("array")
      expect = "first-value"
      continue
    } else {
      const error = scalar()
      if (error !== undefined) return error
    }
    const next = afterValue()
    if (next === undefined) return undefined
    if (typeof next !== "string") return next
    expect = next
  }
}
