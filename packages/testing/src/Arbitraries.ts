/**
 * fast-check arbitraries for prompt payloads.
 *
 * @since 0.1.0
 */
import { Prompt } from "@genesys-llm/core"
import * as Arbitrary from "effect/Arbitrary"

/**
 * @since 0.1.0
 * @category arbitraries
 */
export const validPayload = Arbitrary.make(Prompt.PromptPayload)
