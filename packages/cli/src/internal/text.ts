// ANSI colour sequences, as the help renderer writes them.
const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g")

/** @internal */
export const stripAnsi = (text: string): string => text.replace(ansi, "")

/**
 * The longest message line printed, in characters: a message whose size grows with the input (a library of your
 * own may make one) is cut there, saying how much was cut.
 *
 * @internal
 */
export const maxLineLength = 4000

/**
 * Makes a message fit one bounded line: no colours, no line breaks, at most `maxLineLength` characters.
 *
 * @internal
 */
export const oneLine = (text: string): string => {
  // Only the start of a huge message is looked at: the work is bounded too.
  const head = text.length > 4 * maxLineLength ? text.slice(0, 4 * maxLineLength) : text
  const line = stripAnsi(head).replace(/\s*[\r\n]+\s*/g, " ").trim()
  return line.length > maxLineLength || head.length < text.length
    ? `${line.slice(0, maxLineLength)}... (${text.length - Math.min(line.length, maxLineLength)} more characters)`
    : line
}
