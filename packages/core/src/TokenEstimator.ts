/**
 * Estimates how many tokens a text costs the model. The default counts 4 characters a token, as the
 * specification says; an exact BPE count is offered by `@genesys-llm/core/BpeTokenEstimator`.
 *
 * The service is a pair of plain functions, not effects: it sits in the context window's hot loop, which runs
 * once per message of every prompt, and an estimate is pure arithmetic on a string.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import type * as Prompt from "./Prompt.js"

/**
 * An estimator's contract: both functions are pure and total, and return a finite, non-negative integer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The tokens of a text (a system instruction, a message's content). */
  readonly estimate: (text: string) => number
  /** The tokens a context message costs; the default counts its content only. */
  readonly estimateMessage: (message: Prompt.ChatMessage) => number
}

/**
 * @since 0.1.0
 * @category context
 */
export class TokenEstimator extends Context.Tag("@genesys-llm/core/TokenEstimator")<TokenEstimator, Service>() {}

/**
 * The specification's ratio: 4 characters a token.
 *
 * @since 0.1.0
 * @category constants
 */
export const charactersPerToken = 4

/**
 * The specification's estimate: `ceil(length / 4)`, where the length is counted in UTF-16 code units, as
 * `string.length` and the payload's validation limits count it. The empty string costs 0 tokens.
 *
 * @since 0.1.0
 * @category utils
 */
export const estimateByCharacters = (text: string): number => Math.ceil(text.length / charactersPerToken)

/**
 * Builds an estimator. Without options it is the specification's (4 characters a token); `estimate` replaces
 * the text estimate, and `estimateMessage` (by default the estimate of the message's content) can add what a
 * message costs beyond its text, such as role markers.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly estimate?: ((text: string) => number) | undefined
  readonly estimateMessage?: ((message: Prompt.ChatMessage) => number) | undefined
} = {}): Service => {
  const estimate = options.estimate ?? estimateByCharacters
  return {
    estimate,
    estimateMessage: options.estimateMessage ?? ((message) => estimate(message.content))
  }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Parameters<typeof make>[0] = {}): Layer.Layer<TokenEstimator> =>
  Layer.succeed(TokenEstimator, make(options))

/**
 * An estimator from your own text estimate, e.g. a tokenizer's count; a message costs the estimate of its
 * content.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromFunction = (estimate: (text: string) => number): Layer.Layer<TokenEstimator> =>
  layer({ estimate })

/**
 * The specification's estimator: 4 characters a token.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDefault: Layer.Layer<TokenEstimator> = layer()
