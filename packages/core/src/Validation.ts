/**
 * Decodes untrusted input into a `PromptPayload`, reporting every failing path, not only the first: the first
 * `maxReportedIssues` of them in the error, and how many more there were. Arrays longer than their bound are
 * refused before their items are decoded, so that a payload of 200,000 bad messages costs one issue, not 400,000.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Describe from "./internal/describe.js"
import * as Prompt from "./Prompt.js"

/**
 * One problem found in the input: where (`systemInstructions[2]`, `context[0].role`, or `<root>`) and what.
 *
 * @since 0.1.0
 * @category models
 */
export class ValidationIssue extends Schema.Class<ValidationIssue>("@genesys-llm/core/ValidationIssue")({
  path: Schema.String,
  message: Schema.String
}) {}

/**
 * How many problems an error lists; the others are counted, not listed, so that an error's size does not grow with
 * its input.
 *
 * @since 0.1.0
 * @category models
 */
export const maxReportedIssues = 20

/**
 * Problems as a message names them: `path: message; ...`, then `and N more` for those left out.
 *
 * @since 0.1.0
 * @category utils
 */
export const formatIssues = (
  issues: ReadonlyArray<{ readonly path: string; readonly message: string }>,
  omittedIssues: number
): string => {
  const listed = issues.map((i) => `${i.path}: ${i.message}`).join("; ")
  return omittedIssues > 0 ? `${listed}; and ${omittedIssues} more` : listed
}

/**
 * The input is not a valid payload. `issues` lists the first `maxReportedIssues` failing paths with their
 * messages, `omittedIssues` counts the others. No message repeats a submitted value other than a short word or
 * number (see `describeValue`).
 *
 * @since 0.1.0
 * @category errors
 */
export class PromptValidationError extends Schema.TaggedError<PromptValidationError>(
  "@genesys-llm/core/PromptValidationError"
)("PromptValidationError", {
  issues: Schema.Array(ValidationIssue),
  omittedIssues: Schema.optionalWith(Schema.NonNegativeInt, { default: () => 0 })
}) {
  override get message(): string {
    return `invalid prompt payload: ${formatIssues(this.issues, this.omittedIssues)}`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly validate: (input: unknown) => Effect.Effect<Prompt.PromptPayload, PromptValidationError>
}

/**
 * @since 0.1.0
 * @category context
 */
export class Validation extends Context.Tag("@genesys-llm/core/Validation")<Validation, Service>() {}

/**
 * Renders a path as `a.b[2].c`; the empty path is `<root>`.
 *
 * @since 0.1.0
 * @category utils
 */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string => {
  if (path.length === 0) return "<root>"
  let out = ""
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`
    else out += out.length === 0 ? String(key) : `.${String(key)}`
  }
  return out
}

/**
 * How an error message names a value it refuses, without repeating it: a short word (`"bot"`) or a short number
 * as it is, anything else by its kind and size (`a string of 16 characters`).
 *
 * @since 0.1.0
 * @category utils
 */
export const describeValue: (u: unknown) => string = Describe.describeValue

/**
 * The first problems of a decoding failure, at most `max`, with the number of the others. The messages are the
 * schema's own (annotate a schema's checks with messages that use `describeValue` so that they never repeat a
 * value).
 *
 * @since 0.1.0
 * @category utils
 */
export const issuesOf = (
  error: ParseResult.ParseError,
  max: number = maxReportedIssues
): { readonly issues: ReadonlyArray<ValidationIssue>; readonly omittedIssues: number } => {
  const all = ParseResult.ArrayFormatter.formatErrorSync(error)
  const issues = all.slice(0, max).map((issue) =>
    new ValidationIssue({
      path: formatPath(issue.path),
      message: issue._tag === "Missing" ? "is missing" : issue.message
    })
  )
  return { issues, omittedIssues: all.length - issues.length }
}

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

// The arrays of the input longer than their bound: refused before their items are decoded, so that the work and
// the issues stay bounded by the limits, whatever the size of the input.
const oversized = (input: Readonly<Record<string, unknown>>, limits: Prompt.Limits) => {
  const bounds = [
    ["systemInstructions", limits.maxSystemInstructions],
    ["context", limits.maxContextMessages]
  ] as const
  const found: Array<{ readonly field: string; readonly message: string }> = []
  for (const [field, max] of bounds) {
    const value = input[field]
    if (Array.isArray(value) && !(value.length <= max)) {
      found.push({ field, message: Describe.tooManyItems(field, max, value.length) })
    }
  }
  return found
}

/**
 * Builds a validator for the given limits (the specification's by default).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (limits: Partial<Prompt.Limits> = {}): Service => {
  const l: Prompt.Limits = { ...Prompt.defaultLimits, ...limits }
  const read = Prompt.makeReader(l)
  const decode = Schema.decodeUnknownEither(Prompt.makePromptPayloadSchema(l), {
    errors: "all",
    onExcessProperty: "ignore"
  })
  return {
    validate: Effect.fn("Validation.validate")(function*(input: unknown) {
      // A valid payload is read directly; anything else goes through the schema, which names every problem.
      const payload = read(input)
      if (payload !== undefined) return payload
      const tooLong = isRecord(input) ? oversized(input, l) : []
      // An array over its bound is decoded as an empty one: its items are not looked at, the other fields are.
      const decoded = decode(
        tooLong.length === 0 ? input : { ...input as object, ...Object.fromEntries(tooLong.map((t) => [t.field, []])) }
      )
      if (Either.isRight(decoded) && tooLong.length === 0) return decoded.right
      const rest = Either.isLeft(decoded) ? issuesOf(decoded.left, maxReportedIssues - tooLong.length) : undefined
      return yield* new PromptValidationError({
        issues: [
          ...tooLong.map(({ field, message }) => new ValidationIssue({ path: field, message })),
          ...(rest?.issues ?? [])
        ],
        omittedIssues: rest?.omittedIssues ?? 0
      })
    })
  }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (limits: Partial<Prompt.Limits> = {}): Layer.Layer<Validation> =>
  Layer.succeed(Validation, make(limits))

/**
 * The validator with the specification's limits.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDefault: Layer.Layer<Validation> = layer()
