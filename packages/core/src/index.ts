/**
 * @since 0.1.0
 */
export * as Prompt from "./Prompt.js"

/**
 * @since 0.1.0
 */
export * as Validation from "./Validation.js"
