/**
 * A command's surface in one place: its name, what it does, its flags and arguments with their help. The parser's
 * options (`@effect/cli`) and the help text (`help.ts`) are both derived from it, and a flag's own parser names the
 * flag as the user typed it when its value is wrong.
 *
 * @internal
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"

/**
 * How a flag shows in help: `--name VALUE`, how often it may be given, and what it does.
 *
 * @internal
 */
export interface FlagHelp {
  readonly name: string
  /** The value's placeholder (`FILE`); none for a switch. */
  readonly value: string | undefined
  readonly occurs: "optional" | "repeatable"
  readonly description: string
}

/** @internal */
export interface Flag<A> {
  readonly options: Options.Options<A>
  readonly help: FlagHelp
}

/** @internal */
export interface Arg<A> {
  readonly args: Args.Args<A>
  readonly name: string
  readonly description: string
}

/** @internal */
export type Flags = Readonly<Record<string, Flag<unknown>>>

/** @internal */
export type Positionals = Readonly<Record<string, Arg<unknown>>>

/**
 * One command: a leaf (flags, arguments) or a group of subcommands.
 *
 * @internal
 */
export interface Spec<F extends Flags = Flags, P extends Positionals = Positionals> {
  readonly name: string
  readonly summary: string
  /** Extra synopsis lines (after the command's name), when the generated one does not say enough. */
  readonly synopsis?: ReadonlyArray<string> | undefined
  readonly flags: F
  readonly positionals: P
  readonly subcommands: ReadonlyArray<Spec>
  readonly notes?: ReadonlyArray<string> | undefined
}

/** What a command's handler receives: one value per flag and argument. @internal */
export type Parsed<F extends Flags, P extends Positionals> =
  & { readonly [K in keyof F]: F[K] extends Flag<infer A> ? A : never }
  & { readonly [K in keyof P]: P[K] extends Arg<infer A> ? A : never }

/** @internal */
export const make = <const F extends Flags = {}, const P extends Positionals = {}>(spec: {
  readonly name: string
  readonly summary: string
  readonly synopsis?: ReadonlyArray<string>
  readonly flags?: F
  readonly positionals?: P
  readonly subcommands?: ReadonlyArray<Spec>
  readonly notes?: ReadonlyArray<string>
}): Spec<F, P> => ({
  ...spec,
  flags: spec.flags ?? ({} as F),
  positionals: spec.positionals ?? ({} as P),
  subcommands: spec.subcommands ?? []
})

const configOf = <F extends Flags, P extends Positionals>(spec: Spec<F, P>) => {
  const config: Record<string, Options.Options<unknown> | Args.Args<unknown>> = {}
  for (const [key, flag] of Object.entries(spec.flags)) config[key] = flag.options
  for (const [key, arg] of Object.entries(spec.positionals)) config[key] = arg.args
  return config
}

/**
 * The `@effect/cli` command of a leaf spec, with its handler.
 *
 * @internal
 */
export const command = <F extends Flags, P extends Positionals, E, R>(
  spec: Spec<F, P>,
  handler: (parsed: Parsed<F, P>) => Effect.Effect<void, E, R>
) =>
  Command.make(spec.name, configOf(spec), (parsed) => handler(parsed as unknown as Parsed<F, P>)).pipe(
    Command.withDescription(spec.summary)
  )

// -----------------------------------------------------------------------------------------------------------------
// flags
// -----------------------------------------------------------------------------------------------------------------

const refuse = (name: string, problem: string) =>
  Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--${name}: ${problem}`)))

const help = (name: string, value: string | undefined, occurs: FlagHelp["occurs"], description: string) => ({
  name,
  value,
  occurs,
  description
})

const base = (name: string, value: string) => Options.text(name).pipe(Options.withPseudoName(value))

/** An optional flag with a text value. @internal */
export const text = (name: string, value: string, description: string): Flag<Option.Option<string>> => ({
  options: base(name, value).pipe(Options.optional),
  help: help(name, value, "optional", description)
})

/** A flag with a text value that may be given any number of times, in order. @internal */
export const texts = (name: string, value: string, description: string): Flag<ReadonlyArray<string>> => ({
  options: base(name, value).pipe(Options.repeated),
  help: help(name, value, "repeatable", description)
})

/** An optional flag with a text value and a default. @internal */
export const textOr = (name: string, value: string, fallback: string, description: string): Flag<string> => ({
  options: base(name, value).pipe(Options.withDefault(fallback)),
  help: help(name, value, "optional", `${description} Default: ${fallback}.`)
})

/** An optional flag whose value is a secret, never repeated in a message. @internal */
export const secret = (
  name: string,
  value: string,
  description: string
): Flag<Option.Option<Redacted.Redacted<string>>> => ({
  options: Options.redacted(name).pipe(Options.withPseudoName(value), Options.optional),
  help: help(name, value, "optional", description)
})

/** A switch. @internal */
export const boolean = (name: string, description: string): Flag<boolean> => ({
  options: Options.boolean(name),
  help: help(name, undefined, "optional", description)
})

const decimal = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/

const parseNumber = (name: string, integer: boolean) => (raw: string) => {
  const trimmed = raw.trim()
  const n = decimal.test(trimmed) ? Number(trimmed) : Number.NaN
  if (!Number.isFinite(n)) {
    return refuse(name, `expected ${integer ? "an integer" : "a number"}, got ${JSON.stringify(raw.slice(0, 40))}`)
  }
  if (integer && !Number.isInteger(n)) return refuse(name, `expected an integer, got ${JSON.stringify(raw)}`)
  return Effect.succeed(n)
}

const numeric = (name: string, value: string, integer: boolean) =>
  base(name, value).pipe(Options.mapEffect(parseNumber(name, integer)))

/** An optional flag with a number value. @internal */
export const number = (name: string, value: string, description: string): Flag<Option.Option<number>> => ({
  options: numeric(name, value, false).pipe(Options.optional),
  help: help(name, value, "optional", description)
})

/** An optional flag with an integer value. @internal */
export const integer = (name: string, value: string, description: string): Flag<Option.Option<number>> => ({
  options: numeric(name, value, true).pipe(Options.optional),
  help: help(name, value, "optional", description)
})

/** An optional flag with an integer value and a default. @internal */
export const integerOr = (name: string, value: string, fallback: number, description: string): Flag<number> => ({
  options: numeric(name, value, true).pipe(Options.withDefault(fallback)),
  help: help(name, value, "optional", `${description} Default: ${fallback}.`)
})

/** A required positional argument. @internal */
export const positional = (name: string, description: string): Arg<string> => ({
  args: Args.text({ name }).pipe(Args.withDescription(description)),
  name,
  description
})

/** An optional positional argument; `name` is its name in help (`[PATH]`). @internal */
export const optionalPositional = (
  name: string,
  description: string
): Arg<Option.Option<string>> => ({
  args: Args.text({ name: name.replace(/^\[(.*)\]$/, "$1") }).pipe(Args.withDescription(description), Args.optional),
  name,
  description
})
