/**
 * The prompt as the gateway receives it: roles, chat messages and the payload body of the chat request,
 * with the limits of the specification as configurable checks.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { describeNumber, describeValue as describe, tooManyItems } from "./internal/describe.js"

const expected = (what: string) => (issue: { readonly actual: unknown }) =>
  `expected ${what}, got ${describe(issue.actual)}`

const StringValue = Schema.String.annotations({ message: expected("a string") })
const NumberValue = Schema.Number.annotations({ message: expected("a number") })

/**
 * Who wrote a context message.
 *
 * @since 0.1.0
 * @category models
 */
export const Role = Schema.Literal("user", "agent", "system").annotations({
  identifier: "Role",
  message: (issue) => ({
    message: `expected one of "user", "agent" or "system", got ${describe(issue.actual)}`,
    override: true
  })
})

/**
 * @since 0.1.0
 * @category models
 */
export type Role = typeof Role.Type

/**
 * The limits a payload is checked against. The defaults are the specification's, except the number of context
 * messages: validation refuses only beyond a hard bound that protects memory (`maxContextMessages`, 1,000), and
 * the context window trims a longer conversation to the specification's 25 (`ContextWindow`'s `maxMessages`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  readonly maxSystemInstructions: number
  readonly maxSystemInstructionLength: number
  /** The most context messages accepted at all; a longer context is refused before its messages are decoded. */
  readonly maxContextMessages: number
  readonly maxContextMessageLength: number
  readonly minTemperature: number
  readonly maxTemperature: number
  readonly minMaxTokens: number
  readonly maxMaxTokens: number
}

/**
 * The specification's limits: up to 5 system instructions of at most 500 characters, context messages of at most
 * 4000 characters, temperature 0..2, maxTokens 1..4096; and at most 1,000 context messages, the hard bound (the
 * context window keeps the newest 25 of them).
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultLimits: Limits = {
  maxSystemInstructions: 5,
  maxSystemInstructionLength: 500,
  maxContextMessages: 1000,
  maxContextMessageLength: 4000,
  minTemperature: 0,
  maxTemperature: 2,
  minMaxTokens: 1,
  maxMaxTokens: 4096
}

/**
 * A message of the conversation context.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChatMessage {
  readonly role: Role
  readonly content: string
}

/**
 * The body of a chat request.
 *
 * @since 0.1.0
 * @category models
 */
export interface PromptPayload {
  readonly systemInstructions: ReadonlyArray<string>
  readonly context: ReadonlyArray<ChatMessage>
  readonly temperature: number
  readonly maxTokens: number
  readonly modelId: string
}

const boundedString = (max: number, what: string) =>
  StringValue.pipe(
    Schema.filter((s) => s.length <= max || `${what} must be at most ${max} characters, got ${s.length}`)
  )

const boundedArray = <A, I>(item: Schema.Schema<A, I>, max: number, what: string) =>
  Schema.Array(item).annotations({ message: expected("an array") }).pipe(
    Schema.filter((items) => items.length <= max || tooManyItems(what, max, items.length))
  )

const boundedNumber = (min: number, max: number, what: string, integer: boolean) =>
  NumberValue.pipe(
    Schema.filter((n) => {
      if (!Number.isFinite(n)) return `${what} must be a finite number, got ${n}`
      if (integer && !Number.isInteger(n)) return `${what} must be an integer, got ${describeNumber(n)}`
      return (n >= min && n <= max) || `${what} must be between ${min} and ${max}, got ${describeNumber(n)}`
    })
  )

/**
 * Builds the schema of a chat message whose content is at most `maxContentLength` characters.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeChatMessageSchema = (
  maxContentLength: number = defaultLimits.maxContextMessageLength
): Schema.Schema<ChatMessage> =>
  Schema.Struct({
    role: Role,
    content: boundedString(maxContentLength, "content")
  }).annotations({ identifier: "ChatMessage", message: expected("a message object with role and content") })

/**
 * The schema of a chat message under the default limits.
 *
 * @since 0.1.0
 * @category models
 */
export const ChatMessage: Schema.Schema<ChatMessage> = makeChatMessageSchema()

/**
 * Builds the payload schema for the given limits; every check names what failed and the value it saw.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makePromptPayloadSchema = (limits: Partial<Limits> = {}): Schema.Schema<PromptPayload> => {
  const l: Limits = { ...defaultLimits, ...limits }
  return Schema.Struct({
    systemInstructions: boundedArray(
      boundedString(l.maxSystemInstructionLength, "a system instruction"),
      l.maxSystemInstructions,
      "systemInstructions"
    ),
    context: boundedArray(makeChatMessageSchema(l.maxContextMessageLength), l.maxContextMessages, "context"),
    temperature: boundedNumber(l.minTemperature, l.maxTemperature, "temperature", false),
    maxTokens: boundedNumber(l.minMaxTokens, l.maxMaxTokens, "maxTokens", true),
    modelId: StringValue.pipe(Schema.filter((s) => s.trim().length > 0 || "modelId must not be empty"))
  }).annotations({ identifier: "PromptPayload", message: expected("a JSON object") })
}

const isObject = (u: unknown): u is Readonly<Record<string, unknown>> => typeof u === "object" && u !== null

/**
 * Reads a payload the way decoding with `makePromptPayloadSchema(limits)` (excess properties ignored) does, for
 * the inputs that decoding accepts: the same payload, or `undefined` for any input it might reject. It is the
 * validator's fast path, written out because the generic decoder costs several times more than the checks; a
 * property test holds the two together, and an input it does not take goes to the schema, which names the
 * problem.
 *
 * @since 0.1.0
 * @category utils
 */
export const makeReader = (limits: Partial<Limits> = {}): (input: unknown) => PromptPayload | undefined => {
  const l: Limits = { ...defaultLimits, ...limits }
  return (input) => {
    // A field that is missing reads as `undefined`, which no check below takes; like the schema, a field may come
    // from the prototype. Every bound is checked in the schema's form (`x <= max`), so that a NaN limit refuses
    // here as it does there.
    if (!isObject(input) || Array.isArray(input)) return undefined
    const instructions = input.systemInstructions
    const context = input.context
    const temperature = input.temperature
    const maxTokens = input.maxTokens
    const modelId = input.modelId
    if (!Array.isArray(instructions) || !(instructions.length <= l.maxSystemInstructions)) return undefined
    const systemInstructions: Array<string> = []
    for (let i = 0; i < instructions.length; i++) {
      const instruction: unknown = instructions[i]
      if (typeof instruction !== "string" || !(instruction.length <= l.maxSystemInstructionLength)) return undefined
      systemInstructions.push(instruction)
    }
    if (!Array.isArray(context) || !(context.length <= l.maxContextMessages)) return undefined
    const messages: Array<ChatMessage> = []
    for (let i = 0; i < context.length; i++) {
      const message: unknown = context[i]
      if (!isObject(message) || Array.isArray(message)) return undefined
      const role = message.role
      const content = message.content
      if (role !== "user" && role !== "agent" && role !== "system") return undefined
      if (typeof content !== "string" || !(content.length <= l.maxContextMessageLength)) return undefined
      messages.push({ role, content })
    }
    if (
      typeof temperature !== "number" || !Number.isFinite(temperature) ||
      !(temperature >= l.minTemperature && temperature <= l.maxTemperature)
    ) return undefined
    if (
      typeof maxTokens !== "number" || !Number.isFinite(maxTokens) || !Number.isInteger(maxTokens) ||
      !(maxTokens >= l.minMaxTokens && maxTokens <= l.maxMaxTokens)
    ) return undefined
    if (typeof modelId !== "string" || modelId.trim().length === 0) return undefined
    return { systemInstructions, context: messages, temperature, maxTokens, modelId }
  }
}

/**
 * The payload schema under the specification's limits.
 *
 * @since 0.1.0
 * @category models
 */
export const PromptPayload: Schema.Schema<PromptPayload> = makePromptPayloadSchema()

/**
 * The JSON text of a payload as it is sent on the wire: the fields in the contract's order, so that the same
 * payload always gives the same bytes.
 *
 * @since 0.1.0
 * @category utils
 */
export const toJson = (payload: PromptPayload): string =>
  JSON.stringify({
    systemInstructions: payload.systemInstructions,
    context: payload.context.map((m) => ({ role: m.role, content: m.content })),
    temperature: payload.temperature,
    maxTokens: payload.maxTokens,
    modelId: payload.modelId
  })
