/**
 * Decodes untrusted input into a `PromptPayload`, reporting every failing path, not only the first.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
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
 * The input is not a valid payload. `issues` lists every failing path with its message.
 *
 * @since 0.1.0
 * @category errors
 */
export class PromptValidationError extends Schema.TaggedError<PromptValidationError>(
  "@genesys-llm/core/PromptValidationError"
)("PromptValidationError", {
  issues: Schema.Array(ValidationIssue)
}) {
  override get message(): string {
    return `invalid prompt payload: ${this.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`
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

const issuesOf = (error: ParseResult.ParseError): ReadonlyArray<ValidationIssue> =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) =>
    new ValidationIssue({
      path: formatPath(issue.path),
      message: issue._tag === "Missing" ? "is missing" : issue.message
    })
  )

/**
 * Builds a validator for the given limits (the specification's by default).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (limits: Partial<Prompt.Limits> = {}): Service => {
  const read = Prompt.makeReader(limits)
  const decode = Schema.decodeUnknownEither(Prompt.makePromptPayloadSchema(limits), {
    errors: "all",
    onExcessProperty: "ignore"
  })
  return {
    validate: Effect.fn("Validation.validate")(function*(input: unknown) {
      // A valid payload is read directly; anything else goes through the schema, which names every problem.
      const payload = read(input)
      if (payload !== undefined) return payload
      const decoded = decode(input)
      if (Either.isRight(decoded)) return decoded.right
      return yield* new PromptValidationError({ issues: issuesOf(decoded.left) })
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
