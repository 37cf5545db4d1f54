/**
 * The help text of a command, from its spec: a usage line that marks optional and repeatable flags as such, what the
 * command does, and one line of help per flag.
 *
 * @internal
 */
import type * as Spec from "./spec.js"

const width = 100

/** Words of `text` on lines of at most `width` characters, every line after the first indented. @internal */
export const wrap = (text: string, indent: number, first = indent): string =>
  wrapWords(text.split(/\s+/), indent, first)

// Each word stays whole on its line, so that a usage term (`[--fault JSON]...`) is never cut.
const wrapWords = (words: ReadonlyArray<string>, indent: number, first: number): string => {
  const lines: Array<string> = []
  let line = ""
  let room = width - first
  for (const word of words.filter((w) => w.length > 0)) {
    if (line.length > 0 && line.length + 1 + word.length > room) {
      lines.push(line)
      line = word
      room = width - indent
    } else {
      line = line.length === 0 ? word : `${line} ${word}`
    }
  }
  lines.push(line)
  return lines.join(`\n${" ".repeat(indent)}`)
}

/** Two columns: a term, and its text wrapped beside it. @internal */
export const table = (rows: ReadonlyArray<readonly [string, string]>): string => {
  const column = Math.min(32, Math.max(...rows.map(([term]) => term.length)) + 2)
  return rows.map(([term, text]) =>
    term.length + 2 > column
      ? `  ${term}\n${" ".repeat(column + 2)}${wrap(text, column + 2)}`
      : `  ${term.padEnd(column)}${wrap(text, column + 2)}`
  ).join("\n")
}

const term = (flag: Spec.FlagHelp): string =>
  flag.value === undefined ? `--${flag.name}` : `--${flag.name} ${flag.value}`

/** How a flag shows in a usage line: `[--name VALUE]`, `[--name VALUE]...`. @internal */
export const usageOf = (flag: Spec.FlagHelp): string =>
  flag.occurs === "repeatable" ? `[${term(flag)}]...` : `[${term(flag)}]`

const flagsOf = (spec: Spec.Spec): ReadonlyArray<Spec.FlagHelp> => Object.values(spec.flags).map((flag) => flag.help)

// The commands under a group, each named from the group down with its arguments (`audit verify PATH`).
const leaves = (spec: Spec.Spec): ReadonlyArray<{ readonly words: ReadonlyArray<string>; readonly spec: Spec.Spec }> =>
  spec.subcommands.flatMap((sub) =>
    sub.subcommands.length > 0
      ? leaves(sub).map((leaf) => ({ words: [sub.name, ...leaf.words], spec: leaf.spec }))
      : [{ words: [sub.name, ...Object.values(sub.positionals).map((arg) => arg.name)], spec: sub }]
  )

/**
 * The help of a command, `path` naming it from the program down (`genesys-llm audit verify`).
 *
 * @internal
 */
export const render = (path: ReadonlyArray<string>, spec: Spec.Spec): string => {
  const program = path.join(" ")
  const prefix = "Usage: "
  const lines: Array<string> = []
  if (spec.subcommands.length > 0) {
    lines.push(`${prefix}${program} COMMAND [options]`)
  } else if (spec.synopsis !== undefined) {
    const indent = prefix.length + program.length + 1
    spec.synopsis.forEach((synopsis, i) =>
      lines.push(
        `${i === 0 ? prefix : " ".repeat(prefix.length)}${wrap(`${program} ${synopsis}`, indent, prefix.length)}`
      )
    )
  } else {
    const positionals = Object.values(spec.positionals).map((arg) => arg.name)
    const words = [program, ...flagsOf(spec).map(usageOf), ...positionals]
    lines.push(`${prefix}${wrapWords(words, prefix.length + program.length + 1, prefix.length)}`)
  }
  lines.push("", wrap(spec.summary, 0))
  if (spec.subcommands.length > 0) {
    lines.push("", "Commands:", table(leaves(spec).map((leaf) => [leaf.words.join(" "), leaf.spec.summary])))
  }
  const positionals = Object.values(spec.positionals)
  if (positionals.length > 0) {
    lines.push("", "Arguments:", table(positionals.map((arg) => [arg.name, arg.description])))
  }
  const flags = flagsOf(spec)
  if (flags.length > 0) {
    lines.push("", "Options:", table(flags.map((flag) => [term(flag), flag.description])))
  }
  for (const note of spec.notes ?? []) lines.push("", wrap(note, 0))
  return `${lines.join("\n")}\n`
}
