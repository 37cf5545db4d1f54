/**
 * The text a call answers with when the model is too slow: the first frame did not arrive within the deadline.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Gateway from "./Gateway.js"
import type * as Prompt from "./Prompt.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The fallback text for this payload (after validation, trimming and redaction). */
  readonly textFor: (payload: Prompt.PromptPayload) => Effect.Effect<string>
}

/**
 * @since 0.1.0
 * @category context
 */
export class Fallback extends Context.Tag("@genesys-llm/core/Fallback")<Fallback, Service>() {}

/**
 * The text used when none is configured: "Sorry, I cannot answer right now. Please try again in a moment."
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultText: string = Gateway.defaults.fallbackText

/**
 * The same text for every call.
 *
 * @since 0.1.0
 * @category constructors
 */
export const constant = (text: string): Service => ({ textFor: () => Effect.succeed(text) })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (text: string): Layer.Layer<Fallback> => Layer.succeed(Fallback, constant(text))

/**
 * A text per model id, and a default for the others.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPerModel = (options: {
  readonly byModel: Readonly<Record<string, string>>
  readonly otherwise: string
}): Layer.Layer<Fallback> =>
  Layer.succeed(Fallback, {
    textFor: (payload) =>
      Effect.succeed(
        Object.prototype.hasOwnProperty.call(options.byModel, payload.modelId)
          ? options.byModel[payload.modelId]
          : options.otherwise
      )
  })

/**
 * The gateway's default text: "Sorry, I cannot answer right now. Please try again in a moment."
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDefault: Layer.Layer<Fallback> = layer(Gateway.defaults.fallbackText)

/**
 * `LLM_FALLBACK_TEXT`, or the default text when it is not set.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<Fallback, ConfigError.ConfigError> = Layer.effect(
  Fallback,
  Effect.map(
    Config.string("LLM_FALLBACK_TEXT").pipe(Config.withDefault(Gateway.defaults.fallbackText)),
    constant
  )
)
