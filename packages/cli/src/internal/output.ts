import * as Terminal from "@effect/platform/Terminal"
import type * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { oneLine } from "./text.js"

/**
 * Where a command writes: `out` to stdout as given (no newline added, flushed before it returns), `err` one line
 * to stderr, prefixed with the program's name.
 *
 * @internal
 */
export interface Service {
  readonly out: (text: string) => Effect.Effect<void>
  readonly err: (line: string) => Effect.Effect<void>
}

/** @internal */
export class Output extends Context.Tag("@genesys-llm/cli/internal/Output")<Output, Service>() {}

/** @internal */
export const programName = "genesys-llm"

/**
 * Stdout through the `Terminal` (each write waits for its flush), stderr through the given console, which is the
 * console in force before the command line parser's own error output was silenced.
 *
 * @internal
 */
export const make = (console: Console.Console): Effect.Effect<Service, never, Terminal.Terminal> =>
  Effect.map(Terminal.Terminal, (terminal) => ({
    // A closed stdout (a reader that went away) is not worth a second error: the text has nowhere to go.
    out: (text) => text.length === 0 ? Effect.void : Effect.ignore(terminal.display(text)),
    err: (line) => console.error(`${programName}: ${oneLine(line)}`)
  }))

/** @internal */
export const out = (text: string): Effect.Effect<void, never, Output> =>
  Effect.flatMap(Output, (output) => output.out(text))

/** @internal */
export const err = (line: string): Effect.Effect<void, never, Output> =>
  Effect.flatMap(Output, (output) => output.err(line))
