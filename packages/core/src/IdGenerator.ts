/**
 * Idempotency keys for gateway calls: `llm-gw-<uuid v4>` per logical call, or a key derived from a conversation
 * id and a turn (uuid v5), so that a Data Action retried by Architect maps to the same key and the gateway replays
 * the first answer instead of generating a second one.
 *
 * Live random keys come from the platform's cryptographic generator (`crypto.getRandomValues`, through the uuid
 * package): Effect's default `Random` is seeded once per process from a single `Math.random()` draw, about 31 bits,
 * so two processes could draw the same key and the gateway would replay one conversation's answer into another.
 * `layerRandom` makes keys from Effect's `Random` instead, so a test with a seeded or fixed `Random` gets the same
 * keys every run.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import { v4 as uuidV4, v5 as uuidV5 } from "uuid"

/**
 * The prefix of every key.
 *
 * @since 0.1.0
 * @category models
 */
export const prefix = "llm-gw-"

/**
 * The uuid v5 namespace of derived keys. Fixed forever: changing it would change every derived key.
 *
 * @since 0.1.0
 * @category models
 */
export const namespace = "6f1f4c52-0d3e-4b5e-9a51-7c2f3f1b8e24"

/**
 * The longest conversation id accepted for a derived key.
 *
 * @since 0.1.0
 * @category models
 */
export const maxConversationIdLength = 512

/**
 * The input of a derived key is unusable: an empty or overlong conversation id, or a turn that is not a
 * non-negative integer.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidKeyInput extends Schema.TaggedError<InvalidKeyInput>("@genesys-llm/core/InvalidKeyInput")(
  "InvalidKeyInput",
  {
    field: Schema.Literal("conversationId", "turn"),
    problem: Schema.String
  }
) {
  override get message(): string {
    return `cannot derive an idempotency key: ${this.field} ${this.problem}`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** A fresh `llm-gw-<uuid v4>`. */
  readonly next: Effect.Effect<string>
  /** `llm-gw-<uuid v5>` of the conversation id and turn: the same inputs always give the same key. */
  readonly derived: (conversationId: string, turn: number) => Effect.Effect<string, InvalidKeyInput>
}

/**
 * @since 0.1.0
 * @category context
 */
export class IdGenerator extends Context.Tag("@genesys-llm/core/IdGenerator")<IdGenerator, Service>() {}

/**
 * Derives the key of a conversation turn, or says why it cannot.
 *
 * @since 0.1.0
 * @category utils
 */
export const derive = (conversationId: string, turn: number): Effect.Effect<string, InvalidKeyInput> => {
  if (typeof conversationId !== "string" || conversationId.trim().length === 0) {
    return Effect.fail(new InvalidKeyInput({ field: "conversationId", problem: "must not be empty" }))
  }
  if (conversationId.length > maxConversationIdLength) {
    return Effect.fail(
      new InvalidKeyInput({
        field: "conversationId",
        problem: `must be at most ${maxConversationIdLength} characters, got ${conversationId.length}`
      })
    )
  }
  if (typeof turn !== "number" || !Number.isSafeInteger(turn) || turn < 0) {
    return Effect.fail(
      new InvalidKeyInput({ field: "turn", problem: `must be a non-negative integer, got ${String(turn)}` })
    )
  }
  // JSON of the pair keeps ("a:1", 2) and ("a", 12) apart.
  return Effect.succeed(`${prefix}${uuidV5(JSON.stringify([conversationId, turn]), namespace)}`)
}

const randomBytes = Effect.gen(function*() {
  const bytes = new Uint8Array(16)
  for (let i = 0; i < 16; i++) bytes[i] = yield* Random.nextIntBetween(0, 256)
  return bytes
})

/**
 * A fresh uuid v4 from the platform's cryptographic generator (122 random bits), for ids that must not collide
 * across processes: idempotency keys, webhook event ids.
 *
 * @since 0.2.0
 * @category utils
 */
export const secureUuid: Effect.Effect<string> = Effect.sync(() => uuidV4())

/**
 * A fresh key from the platform's cryptographic generator.
 *
 * @since 0.2.0
 * @category utils
 */
export const secure: Effect.Effect<string> = Effect.map(secureUuid, (uuid) => `${prefix}${uuid}`)

/**
 * A fresh key from Effect's `Random`: deterministic under a seeded `Random`, for tests. Not for live keys: the
 * default `Random` carries about 31 bits of entropy per process.
 *
 * @since 0.1.0
 * @category utils
 */
export const random: Effect.Effect<string> = Effect.map(randomBytes, (bytes) => `${prefix}${uuidV4({ random: bytes })}`)

/**
 * The live generator: random keys from the platform's cryptographic generator, derived keys by uuid v5.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Service = {
  next: secure,
  derived: (conversationId, turn) => derive(conversationId, turn)
}

/**
 * The live generator: random keys from the platform's cryptographic generator, derived keys by uuid v5.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<IdGenerator> = Layer.succeed(IdGenerator, make)

/**
 * Random keys from Effect's `Random` (deterministic under `TestRandom` or a seeded `Random`), derived keys by uuid
 * v5. For tests.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerRandom: Layer.Layer<IdGenerator> = Layer.succeed(IdGenerator, {
  next: random,
  derived: (conversationId, turn) => derive(conversationId, turn)
})

/**
 * A generator that hands out the given keys in order and then cycles; derived keys are computed as usual. For
 * tests that assert on exact keys.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = (keys: readonly [string, ...Array<string>]): Layer.Layer<IdGenerator> =>
  Layer.sync(IdGenerator, () => {
    let index = 0
    return {
      next: Effect.sync(() => keys[index++ % keys.length]),
      derived: (conversationId, turn) => derive(conversationId, turn)
    }
  })
