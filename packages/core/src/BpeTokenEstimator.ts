/**
 * An exact token count with the `o200k_base` BPE encoding (GPT-4o and later), through `gpt-tokenizer`.
 *
 * A module of its own, imported as `@genesys-llm/core/BpeTokenEstimator`, so that only users who choose it load
 * the encoding's rank table (a few megabytes); the default estimator stays 4 characters a token.
 *
 * @since 0.1.0
 */
import type * as Layer from "effect/Layer"
import { countTokens } from "gpt-tokenizer/encoding/o200k_base"
import * as TokenEstimator from "./TokenEstimator.js"

// Prompt text is user text: a special-token spelling such as "<|endoftext|>" is counted as the plain text it is,
// instead of the library's default, which throws on it.
const plainText = { disallowedSpecial: new Set<string>() }

/**
 * The number of `o200k_base` tokens of a text, special-token spellings counted as plain text.
 *
 * @since 0.1.0
 * @category utils
 */
export const countO200k = (text: string): number => text.length === 0 ? 0 : countTokens(text, plainText)

/**
 * The exact estimator: a text costs its `o200k_base` token count, a context message the count of its content
 * (the chat format's few tokens of role markers a message are not counted, as in the default estimator).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (): TokenEstimator.Service => TokenEstimator.make({ estimate: countO200k })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<TokenEstimator.TokenEstimator> = TokenEstimator.layer({ estimate: countO200k })
