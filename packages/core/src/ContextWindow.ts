/**
 * Trims a payload's context to a number of messages (25 by default, the specification's limit) and to a token
 * budget: the oldest context messages are dropped first, the system instructions are always kept and the newest
 * context message is never dropped. When even those cannot fit the budget, the payload is refused with a
 * `ContextOverflowError` rather than sent with an empty context. With `tooManyMessages: "reject"`, a context over
 * the number of messages is refused as invalid instead (`PromptValidationError` at `context`), as validation did
 * before the limit moved here.
 *
 * What is counted: each system instruction (`TokenEstimator.estimate`) and each kept context message
 * (`TokenEstimator.estimateMessage`). Nothing else of the request is counted: not the model id, temperature or
 * maxTokens, not the JSON around the text, and no per-message role markers unless the estimator's
 * `estimateMessage` adds them.
 *
 * The budget is, by default, 80% of the payload's `maxTokens` (rounded down), as the specification says; it can
 * be another ratio of `maxTokens` or an absolute number of tokens.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Describe from "./internal/describe.js"
import type * as Prompt from "./Prompt.js"
import * as TokenEstimator from "./TokenEstimator.js"
import * as Validation from "./Validation.js"

/**
 * Even the system instructions and the newest context message need more tokens than the budget allows. The
 * message names both numbers and never any prompt text.
 *
 * @since 0.1.0
 * @category errors
 */
export class ContextOverflowError extends Schema.TaggedError<ContextOverflowError>(
  "@genesys-llm/core/ContextOverflowError"
)("ContextOverflowError", {
  /** The budget in tokens. */
  budget: Schema.Number,
  /** The least the payload needs: its system instructions and its newest context message. */
  requiredTokens: Schema.Number
}) {
  override get message(): string {
    return `the prompt needs at least ${this.requiredTokens} tokens (system instructions and the newest context ` +
      `message) but the context budget is ${this.budget} tokens`
  }
}

/**
 * The options are not valid: a ratio must be greater than 0 and at most 1, a number of tokens a positive integer,
 * only one of them may be given, and `maxMessages` must be a positive integer.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidBudgetError extends Schema.TaggedError<InvalidBudgetError>(
  "@genesys-llm/core/InvalidBudgetError"
)("InvalidBudgetError", {
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid context budget: ${this.reason}`
  }
}

/**
 * @since 0.1.0
 * @category errors
 */
export type ContextWindowError = ContextOverflowError | InvalidBudgetError

/**
 * The payload as it fits, how many of the oldest context messages were dropped, the budget that applied and the
 * estimate of what is kept (system instructions and kept context).
 *
 * @since 0.1.0
 * @category models
 */
export interface Fitted {
  readonly payload: Prompt.PromptPayload
  readonly droppedContextMessages: number
  readonly budget: number
  readonly estimatedTokens: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Keeps the longest suffix of the context that fits the budget together with all system instructions. The
   * payload is returned unchanged (the same object) when nothing is dropped.
   */
  readonly fit: (
    payload: Prompt.PromptPayload
  ) => Effect.Effect<Fitted, ContextOverflowError | Validation.PromptValidationError>
}

/**
 * @since 0.1.0
 * @category context
 */
export class ContextWindow extends Context.Tag("@genesys-llm/core/ContextWindow")<ContextWindow, Service>() {}

/**
 * What happens to the oldest context messages beyond `maxMessages`: dropped (the default), or the payload
 * refused as invalid.
 *
 * @since 0.1.0
 * @category models
 */
export type TooManyMessages = "drop" | "reject"

/**
 * The budget: a ratio of the payload's `maxTokens` (0 < ratio <= 1, default 0.8) or an absolute number of
 * tokens (a positive integer), not both; and the most context messages kept (default 25), with what happens to
 * the others (default `drop`).
 *
 * @since 0.1.0
 * @category models
 */
export type Options =
  & (
    | { readonly budgetRatio?: number | undefined; readonly budgetTokens?: undefined }
    | { readonly budgetTokens: number; readonly budgetRatio?: undefined }
  )
  & {
    readonly maxMessages?: number | undefined
    readonly tooManyMessages?: TooManyMessages | undefined
  }

/**
 * The specification's budget: 80% of `maxTokens`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBudgetRatio = 0.8

/**
 * The specification's limit on context messages, kept by dropping the oldest.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxMessages = 25

type Budget =
  & (
    | { readonly _tag: "Ratio"; readonly ratio: number }
    | { readonly _tag: "Tokens"; readonly tokens: number }
  )
  & { readonly maxMessages: number; readonly tooManyMessages: TooManyMessages }

const isValidRatio = (ratio: number): boolean => ratio > 0 && ratio <= 1
const ratioRule = "must be greater than 0 and at most 1"
const isValidTokens = (tokens: number): boolean => Number.isSafeInteger(tokens) && tokens >= 1
const tokensRule = "must be a positive integer"

const tooManyMessagesValues: ReadonlyArray<TooManyMessages> = ["drop", "reject"]

const budgetOf = (options: Options): Either.Either<Budget, InvalidBudgetError> => {
  const { budgetRatio, budgetTokens } = options
  const maxMessages = options.maxMessages ?? defaultMaxMessages
  const tooManyMessages = options.tooManyMessages ?? "drop"
  if (budgetRatio !== undefined && budgetTokens !== undefined) {
    return Either.left(new InvalidBudgetError({ reason: "give budgetRatio or budgetTokens, not both" }))
  }
  if (!isValidTokens(maxMessages)) {
    return Either.left(new InvalidBudgetError({ reason: `maxMessages ${tokensRule}, got ${maxMessages}` }))
  }
  if (!tooManyMessagesValues.includes(tooManyMessages)) {
    return Either.left(new InvalidBudgetError({ reason: `tooManyMessages must be "drop" or "reject"` }))
  }
  const limits = { maxMessages, tooManyMessages }
  if (budgetTokens !== undefined) {
    return isValidTokens(budgetTokens)
      ? Either.right({ _tag: "Tokens", tokens: budgetTokens, ...limits })
      : Either.left(new InvalidBudgetError({ reason: `budgetTokens ${tokensRule}, got ${budgetTokens}` }))
  }
  const ratio = budgetRatio ?? defaultBudgetRatio
  return isValidRatio(ratio)
    ? Either.right({ _tag: "Ratio", ratio, ...limits })
    : Either.left(new InvalidBudgetError({ reason: `budgetRatio ${ratioRule}, got ${ratio}` }))
}

// The float product can land a hair under an integer (0.29 * 100 = 28.999999999999996); the epsilon keeps
// such a product from losing a whole token, and is far below the gap to the next integer for any real maxTokens.
const tokensOf = (budget: Budget, maxTokens: number): number =>
  budget._tag === "Tokens" ? budget.tokens : Math.floor(maxTokens * budget.ratio + 1e-9)

const invalidEstimate = (what: string, value: number) =>
  Effect.dieMessage(`TokenEstimator returned ${value} for ${what}; an estimate must be a finite number >= 0`)

const makeWith = (budget: Budget, estimator: TokenEstimator.Service): Service => {
  const { estimate, estimateMessage } = estimator
  return {
    fit: Effect.fn("ContextWindow.fit")(function*(payload: Prompt.PromptPayload) {
      const limit = tokensOf(budget, payload.maxTokens)
      let total = 0
      for (const instruction of payload.systemInstructions) {
        const tokens = estimate(instruction)
        if (!(tokens >= 0 && tokens < Infinity)) return yield* invalidEstimate("a system instruction", tokens)
        total += tokens
      }
      // Messages before `oldest` are beyond the number kept, whatever their size.
      const context = payload.context
      const oldest = Math.max(0, context.length - budget.maxMessages)
      if (oldest > 0 && budget.tooManyMessages === "reject") {
        return yield* new Validation.PromptValidationError({
          issues: [
            new Validation.ValidationIssue({
              path: "context",
              message: Describe.tooManyItems("context", budget.maxMessages, context.length)
            })
          ]
        })
      }
      // From the newest message backwards, each estimated once, with a running sum: linear in the context.
      // The first message that does not fit ends the walk, so the kept messages are a suffix of the context.
      let keepFrom = context.length
      while (keepFrom > oldest) {
        const tokens = estimateMessage(context[keepFrom - 1])
        if (!(tokens >= 0 && tokens < Infinity)) return yield* invalidEstimate("a context message", tokens)
        if (total + tokens > limit) {
          if (keepFrom === context.length) {
            return yield* new ContextOverflowError({ budget: limit, requiredTokens: total + tokens })
          }
          break
        }
        total += tokens
        keepFrom--
      }
      if (total > limit) {
        // Only reachable with an empty context: the system instructions alone exceed the budget.
        return yield* new ContextOverflowError({ budget: limit, requiredTokens: total })
      }
      yield* Effect.annotateCurrentSpan({ budget: limit, estimatedTokens: total, droppedContextMessages: keepFrom })
      return {
        payload: keepFrom === 0 ? payload : { ...payload, context: context.slice(keepFrom) },
        droppedContextMessages: keepFrom,
        budget: limit,
        estimatedTokens: total
      }
    })
  }
}

/**
 * Builds a context window with the given budget (80% of `maxTokens` and 25 messages by default) on the
 * `TokenEstimator` in context. Fails with `InvalidBudgetError` when the options are not valid.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<Service, InvalidBudgetError, TokenEstimator.TokenEstimator> =>
  Effect.gen(function*() {
    const budget = yield* budgetOf(options)
    const estimator = yield* TokenEstimator.TokenEstimator
    return makeWith(budget, estimator)
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<ContextWindow, InvalidBudgetError, TokenEstimator.TokenEstimator> =>
  Layer.effect(ContextWindow, make(options))

/**
 * The options from configuration: `LLM_CONTEXT_BUDGET_RATIO` (0 < ratio <= 1) or `LLM_CONTEXT_BUDGET_TOKENS` (a
 * positive integer), at most one of them, neither giving the default ratio; `LLM_CONTEXT_MAX_MESSAGES` (a positive
 * integer, default 25) and `LLM_CONTEXT_TOO_MANY_MESSAGES` (`drop`, the default, or `reject`). A bad value fails
 * naming its setting.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.all({
  ratio: Config.number("LLM_CONTEXT_BUDGET_RATIO").pipe(
    Config.validate({ message: ratioRule, validation: isValidRatio }),
    Config.option
  ),
  tokens: Config.integer("LLM_CONTEXT_BUDGET_TOKENS").pipe(
    Config.validate({ message: tokensRule, validation: isValidTokens }),
    Config.option
  ),
  maxMessages: Config.integer("LLM_CONTEXT_MAX_MESSAGES").pipe(
    Config.validate({ message: tokensRule, validation: isValidTokens }),
    Config.option
  ),
  tooManyMessages: Config.literal(...tooManyMessagesValues)("LLM_CONTEXT_TOO_MANY_MESSAGES").pipe(Config.option)
}).pipe(
  Config.mapOrFail(
    ({ maxMessages, ratio, tokens, tooManyMessages }): Either.Either<Options, ConfigError.ConfigError> => {
      if (Option.isSome(ratio) && Option.isSome(tokens)) {
        return Either.left(ConfigError.InvalidData(
          [],
          "set LLM_CONTEXT_BUDGET_RATIO or LLM_CONTEXT_BUDGET_TOKENS, not both"
        ))
      }
      const limits = {
        ...(Option.isSome(maxMessages) ? { maxMessages: maxMessages.value } : {}),
        ...(Option.isSome(tooManyMessages) ? { tooManyMessages: tooManyMessages.value } : {})
      }
      if (Option.isSome(tokens)) return Either.right({ budgetTokens: tokens.value, ...limits })
      return Either.right(Option.isSome(ratio) ? { budgetRatio: ratio.value, ...limits } : limits)
    }
  )
)

/**
 * A context window whose budget comes from `config`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<ContextWindow, ConfigError.ConfigError, TokenEstimator.TokenEstimator> = Layer
  .effect(
    ContextWindow,
    Effect.gen(function*() {
      const options = yield* config
      // `config` applies the same rules as `budgetOf`, so this cannot fail.
      const budget = yield* Effect.orDie(budgetOf(options))
      const estimator = yield* TokenEstimator.TokenEstimator
      return makeWith(budget, estimator)
    })
  )

/**
 * The specification's context window: 80% of `maxTokens`, the newest 25 context messages.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDefault: Layer.Layer<ContextWindow, never, TokenEstimator.TokenEstimator> = Layer.effect(
  ContextWindow,
  Effect.map(
    TokenEstimator.TokenEstimator,
    (estimator) =>
      makeWith({
        _tag: "Ratio",
        ratio: defaultBudgetRatio,
        maxMessages: defaultMaxMessages,
        tooManyMessages: "drop"
      }, estimator)
  )
)
