// ANSI colour sequences, as the help renderer writes them.
const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g")

/** @internal */
export const stripAnsi = (text: string): string => text.replace(ansi, "")

/**
 * Makes a message fit one line: no colours, no line breaks.
 *
 * @internal
 */
export const oneLine = (text: string): string => stripAnsi(text).replace(/\s*[\r\n]+\s*/g, " ").trim()
