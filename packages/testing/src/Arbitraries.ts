/**
 * fast-check arbitraries for prompt payloads, through effect's own `effect/FastCheck` so that the fast-check
 * version is the one `@effect/vitest`'s `it.prop` runs.
 *
 * Valid payloads are built from fast-check combinators bounded by the `Limits` rather than by
 * `Arbitrary.make(Prompt.PromptPayload)`: the schema's limits are filters, and generating then filtering long
 * arrays of long strings throws most values away. The roles come from the schema itself. Besides mostly small
 * values, the valid arbitraries reach the limits themselves (the maximum number of items, strings of the maximum
 * length, the bounds of temperature and maxTokens).
 *
 * @since 0.1.0
 */
import { Prompt } from "@genesys-llm/core"
import * as Arbitrary from "effect/Arbitrary"
import * as FastCheck from "effect/FastCheck"

/**
 * An input that must fail validation, and the one path (as `Validation.formatPath` renders it, e.g.
 * `context[2].content`, `<root>`) that must be reported for it. Every other part of the input is valid.
 *
 * @since 0.1.0
 * @category models
 */
export interface InvalidPayload {
  readonly input: unknown
  readonly expectedPath: string
}

const limitsOf = (limits: Partial<Prompt.Limits>): Prompt.Limits => ({ ...Prompt.defaultLimits, ...limits })

/**
 * The roles of the `Prompt.Role` schema.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const role: FastCheck.Arbitrary<Prompt.Role> = Arbitrary.make(Prompt.Role)

// Mostly printable ASCII, with some non-ASCII letters, whitespace and an astral character (two UTF-16 code units),
// since the limits count code units.
const textUnit = FastCheck.oneof(
  { arbitrary: FastCheck.char(), weight: 8 },
  { arbitrary: FastCheck.constantFrom("é", "ß", "中", "ж", " ", "\n", "\t"), weight: 2 },
  { arbitrary: FastCheck.constantFrom("😀", "𝄞"), weight: 1 }
)

// At most `max` UTF-16 code units, never cutting a surrogate pair in half.
const clip = (s: string, max: number): string => {
  if (s.length <= max) return s
  const cut = s.slice(0, max)
  const last = cut.charCodeAt(cut.length - 1)
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut
}

const repeatTo = (seed: string, length: number): string => clip(seed.repeat(Math.ceil(length / seed.length)), length)

/**
 * Strings of at most `maxLength` UTF-16 code units: mostly short, sometimes of exactly `maxLength`.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const text = (maxLength: number): FastCheck.Arbitrary<string> => {
  if (maxLength <= 0) return FastCheck.constant("")
  const short = FastCheck.string({ unit: textUnit }).map((s) => clip(s, maxLength))
  const full = FastCheck.string({ unit: FastCheck.char(), minLength: 1, maxLength: 16 }).map((s) =>
    repeatTo(s, maxLength)
  )
  return FastCheck.oneof({ arbitrary: short, weight: 9 }, { arbitrary: full, weight: 1 })
}

// Mostly small arrays, sometimes exactly `max` items long.
const boundedArray = <A>(item: FastCheck.Arbitrary<A>, max: number): FastCheck.Arbitrary<Array<A>> =>
  max <= 0 ? FastCheck.constant([]) : FastCheck.oneof(
    { arbitrary: FastCheck.array(item, { maxLength: max }), weight: 9 },
    { arbitrary: FastCheck.array(item, { minLength: max, maxLength: max }), weight: 1 }
  )

// Items that are valid on their own but short, for arrays that break only the count limit.
const tooMany = <A>(item: FastCheck.Arbitrary<A>, max: number): FastCheck.Arbitrary<Array<A>> =>
  FastCheck.array(item, { minLength: max + 1, maxLength: max + 3 })

/**
 * A context message whose content is at most `maxContentLength` characters.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const chatMessageWith = (
  maxContentLength: number = Prompt.defaultLimits.maxContextMessageLength
): FastCheck.Arbitrary<Prompt.ChatMessage> => FastCheck.record({ role, content: text(maxContentLength) })

/**
 * A context message under the specification's limits.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const chatMessage: FastCheck.Arbitrary<Prompt.ChatMessage> = chatMessageWith()

const nonBlank = (s: string) => s.trim().length > 0

const modelId: FastCheck.Arbitrary<string> = FastCheck.oneof(
  FastCheck.constantFrom("gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "genesys-default"),
  FastCheck.string({ unit: textUnit, minLength: 1, maxLength: 40 }).filter(nonBlank)
)

/**
 * Payloads that pass validation under the given limits (the specification's for the ones not given).
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const validPayloadWith = (limits: Partial<Prompt.Limits> = {}): FastCheck.Arbitrary<Prompt.PromptPayload> => {
  const l = limitsOf(limits)
  const minTokens = Math.ceil(l.minMaxTokens)
  const maxTokens = Math.floor(l.maxMaxTokens)
  return FastCheck.record({
    systemInstructions: boundedArray(text(l.maxSystemInstructionLength), l.maxSystemInstructions),
    context: boundedArray(chatMessageWith(l.maxContextMessageLength), l.maxContextMessages),
    temperature: FastCheck.oneof(
      { arbitrary: FastCheck.double({ min: l.minTemperature, max: l.maxTemperature, noNaN: true }), weight: 9 },
      { arbitrary: FastCheck.constantFrom(l.minTemperature, l.maxTemperature), weight: 1 }
    ),
    maxTokens: FastCheck.oneof(
      { arbitrary: FastCheck.integer({ min: minTokens, max: maxTokens }), weight: 9 },
      { arbitrary: FastCheck.constantFrom(minTokens, maxTokens), weight: 1 }
    ),
    modelId
  })
}

/**
 * Payloads that pass validation under the specification's limits.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const validPayload: FastCheck.Arbitrary<Prompt.PromptPayload> = validPayloadWith()

const notAString = FastCheck.oneof(
  FastCheck.integer(),
  FastCheck.boolean(),
  FastCheck.constant(null),
  FastCheck.constant({}),
  FastCheck.constant([])
)
const notANumber = FastCheck.oneof(
  FastCheck.constantFrom("1", "", null, true, [], {}),
  FastCheck.string().map((s) => `${s}0`)
)
const notAnArray = FastCheck.oneof(FastCheck.string(), FastCheck.integer(), FastCheck.constantFrom(null, {}, true))
const notAnObject = FastCheck.oneof(
  FastCheck.string(),
  FastCheck.double(),
  FastCheck.boolean(),
  FastCheck.constantFrom(null, undefined),
  FastCheck.array(FastCheck.string(), { maxLength: 3 })
)
const nonFinite = FastCheck.constantFrom(Number.NaN, Infinity, -Infinity)

// An index at which to put a bad element: over an existing one, or appended while the count stays within `max`.
const indexIn = (length: number, max: number) => FastCheck.nat({ max: Math.min(length, max - 1) })

const replaced = (items: ReadonlyArray<unknown>, index: number, value: unknown): Array<unknown> => {
  const copy = [...items]
  copy[index] = value
  return copy
}

const invalid = (input: unknown, expectedPath: string): InvalidPayload => ({ input, expectedPath })

const fields = ["systemInstructions", "context", "temperature", "maxTokens", "modelId"] as const

/**
 * Inputs that fail validation under the given limits at exactly one path, which each value carries: too many
 * items, too long strings, values of the wrong type, unknown roles, numbers out of range, NaN and infinities,
 * fractional maxTokens, blank model ids, missing fields and inputs that are not objects.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const invalidPayloadWith = (limits: Partial<Prompt.Limits> = {}): FastCheck.Arbitrary<InvalidPayload> => {
  const l = limitsOf(limits)
  const minTokens = Math.ceil(l.minMaxTokens)
  const maxTokens = Math.floor(l.maxMaxTokens)
  const valid = validPayloadWith(l)
  const shortText = text(Math.min(l.maxSystemInstructionLength, l.maxContextMessageLength, 8))
  const breakers: Array<(p: Prompt.PromptPayload) => FastCheck.Arbitrary<InvalidPayload>> = [
    (p) =>
      tooMany(shortText, l.maxSystemInstructions).map((systemInstructions) =>
        invalid({ ...p, systemInstructions }, "systemInstructions")
      ),
    (p) => notAnArray.map((systemInstructions) => invalid({ ...p, systemInstructions }, "systemInstructions")),
    (p) => tooMany(chatMessageWith(8), l.maxContextMessages).map((context) => invalid({ ...p, context }, "context")),
    (p) => notAnArray.map((context) => invalid({ ...p, context }, "context")),
    (p) =>
      FastCheck.oneof(
        FastCheck.double({ min: l.maxTemperature, max: l.maxTemperature + 100, minExcluded: true, noNaN: true }),
        // fast-check orders -0 below 0, so "below 0" can give -0, which is a valid temperature: keep what is truly below.
        FastCheck.double({ min: l.minTemperature - 100, max: l.minTemperature, maxExcluded: true, noNaN: true })
          .filter((t) => t < l.minTemperature),
        nonFinite,
        notANumber
      ).map((temperature) => invalid({ ...p, temperature }, "temperature")),
    (p) =>
      FastCheck.oneof(
        FastCheck.integer({ min: maxTokens + 1, max: maxTokens + 10_000 }),
        FastCheck.integer({ min: minTokens - 10_000, max: minTokens - 1 }),
        nonFinite,
        notANumber
      ).map((value) => invalid({ ...p, maxTokens: value }, "maxTokens")),
    (p) =>
      FastCheck.oneof(
        FastCheck.constantFrom("", " ", "\t", "  \n  ", "\u00a0"),
        notAString
      ).map((modelId) => invalid({ ...p, modelId }, "modelId")),
    (p) =>
      FastCheck.constantFrom(...fields).map((field) => {
        const { [field]: _, ...rest } = p
        return invalid(rest, field)
      }),
    () => notAnObject.map((input) => invalid(input, "<root>"))
  ]
  if (maxTokens > minTokens) {
    breakers.push((p) =>
      FastCheck.integer({ min: minTokens, max: maxTokens - 1 }).map((n) =>
        invalid({ ...p, maxTokens: n + 0.5 }, "maxTokens")
      )
    )
  }
  if (l.maxSystemInstructions >= 1) {
    const badInstruction = FastCheck.oneof(
      FastCheck.integer({ min: 1, max: 40 }).map((extra) => "i".repeat(l.maxSystemInstructionLength + extra)),
      notAString
    )
    breakers.push((p) =>
      FastCheck.tuple(indexIn(p.systemInstructions.length, l.maxSystemInstructions), badInstruction).map((
        [i, value]
      ) => invalid({ ...p, systemInstructions: replaced(p.systemInstructions, i, value) }, `systemInstructions[${i}]`))
    )
  }
  if (l.maxContextMessages >= 1) {
    const tooLong = FastCheck.integer({ min: 1, max: 40 }).map((extra) => "c".repeat(l.maxContextMessageLength + extra))
    const unknownRole = FastCheck.oneof(
      FastCheck.string().filter((s) => s !== "user" && s !== "agent" && s !== "system"),
      notAString
    )
    // A bad message and the part of its path that must fail.
    const badMessage: FastCheck.Arbitrary<readonly [unknown, string]> = FastCheck.oneof(
      FastCheck.tuple(role, tooLong).map(([r, content]) => [{ role: r, content }, ".content"] as const),
      FastCheck.tuple(role, notAString).map(([r, content]) => [{ role: r, content }, ".content"] as const),
      FastCheck.tuple(unknownRole, text(8)).map(([r, content]) => [{ role: r, content }, ".role"] as const),
      text(8).map((content) => [{ content }, ".role"] as const),
      role.map((r) => [{ role: r }, ".content"] as const),
      notAnObject.map((value) => [value, ""] as const)
    )
    breakers.push((p) =>
      FastCheck.tuple(indexIn(p.context.length, l.maxContextMessages), badMessage).map(([i, [value, suffix]]) =>
        invalid({ ...p, context: replaced(p.context, i, value) }, `context[${i}]${suffix}`)
      )
    )
  }
  return valid.chain((p) => FastCheck.oneof(...breakers.map((breaker) => breaker(p))))
}

/**
 * Inputs that fail validation under the specification's limits, each with the path that must be reported.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const invalidPayload: FastCheck.Arbitrary<InvalidPayload> = invalidPayloadWith()
