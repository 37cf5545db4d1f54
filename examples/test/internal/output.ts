import * as Terminal from "@effect/platform/Terminal"
import type * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** What a program printed: `Console.log` lines, and the text it displayed on the terminal, piece by piece. */
export interface Output {
  readonly lines: Array<string>
  readonly displayed: Array<string>
}

/**
 * A console and a terminal that record what a program prints instead of writing to the process's stdout.
 * `output` can be read while the program runs.
 */
export const makeCapture = () => {
  const output: Output = { lines: [], displayed: [] }
  const log = (...args: ReadonlyArray<unknown>) => {
    output.lines.push(args.map(String).join(" "))
  }
  const terminal: Terminal.Terminal = {
    columns: Effect.succeed(100),
    rows: Effect.succeed(40),
    isTTY: Effect.succeed(false),
    readInput: Effect.dieMessage("no terminal input in tests"),
    readLine: Effect.dieMessage("no terminal input in tests"),
    display: (text) =>
      Effect.sync(() => {
        output.displayed.push(text)
      })
  }
  const captured = <A, E, R>(
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, Exclude<R, Terminal.Terminal>> =>
    Effect.flatMap(Effect.console, (base) => {
      const console: Console.Console = {
        ...base,
        log: (...args) => Effect.sync(() => log(...args)),
        unsafe: { ...base.unsafe, log }
      }
      return effect.pipe(Effect.provide(Layer.succeed(Terminal.Terminal, terminal)), Effect.withConsole(console))
    })
  return { output, captured }
}

/** Runs `effect` with the recording console and terminal, and returns its result with what it printed. */
export const capture = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<readonly [A, Output], E, Exclude<R, Terminal.Terminal>> =>
  Effect.suspend(() => {
    const { captured, output } = makeCapture()
    return Effect.map(captured(effect), (result) => [result, output] as const)
  })
