import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Random from "effect/Random"
import { validate as isUuid, version as uuidVersion } from "uuid"
import * as IdGenerator from "../src/IdGenerator.js"

const uuidOf = (key: string) => {
  assert.isTrue(key.startsWith("llm-gw-"), key)
  return key.slice("llm-gw-".length)
}

describe("IdGenerator", () => {
  it.effect("makes llm-gw-<uuid v4> keys from the platform's cryptographic generator", () =>
    Effect.gen(function*() {
      const ids = yield* IdGenerator.IdGenerator
      const keys = yield* Effect.all(Array.from({ length: 50 }, () => ids.next))
      for (const key of keys) {
        const uuid = uuidOf(key)
        assert.isTrue(isUuid(uuid), uuid)
        assert.strictEqual(uuidVersion(uuid), 4)
      }
      assert.strictEqual(new Set(keys).size, keys.length)
    }).pipe(Effect.provide(IdGenerator.layer)))

  it("gives different live keys and event ids in two runtimes whose Effect Random has the same seed", () => {
    // Each run stands for a process whose default Random drew the same seed: a live key must not follow it.
    const inProcess = (layer: typeof IdGenerator.layer) =>
      Effect.runSync(
        Effect.all([Effect.flatMap(IdGenerator.IdGenerator, (ids) => ids.next), IdGenerator.secureUuid]).pipe(
          Effect.provide(layer),
          (program) => Effect.suspend(() => Effect.withRandom(program, Random.make(42)))
        )
      )
    const [firstKey, firstEvent] = inProcess(IdGenerator.layer)
    const [secondKey, secondEvent] = inProcess(IdGenerator.layer)
    assert.notStrictEqual(firstKey, secondKey)
    assert.notStrictEqual(firstEvent, secondEvent)
    // The seeded layer, by contrast, repeats itself under the same seed: that is what tests rely on.
    assert.strictEqual(inProcess(IdGenerator.layerRandom)[0], inProcess(IdGenerator.layerRandom)[0])
  })

  it.effect("is deterministic under a seeded Random", () =>
    Effect.gen(function*() {
      const run = Effect.suspend(() =>
        Effect.all([IdGenerator.random, IdGenerator.random]).pipe(Effect.withRandom(Random.make("seed")))
      )
      const first = yield* run
      const second = yield* run
      assert.deepStrictEqual(first, second)
      assert.notStrictEqual(first[0], first[1])
      const zeros = yield* IdGenerator.random.pipe(Effect.withRandom(Random.fixed([0])))
      assert.strictEqual(zeros, "llm-gw-00000000-0000-4000-8000-000000000000")
    }))

  it.effect("derives the same uuid v5 key from the same conversation and turn", () =>
    Effect.gen(function*() {
      const a = yield* IdGenerator.derive("conv-42", 3)
      const b = yield* IdGenerator.derive("conv-42", 3)
      assert.strictEqual(a, b)
      assert.strictEqual(uuidVersion(uuidOf(a)), 5)
      assert.notStrictEqual(a, yield* IdGenerator.derive("conv-42", 4))
      assert.notStrictEqual(a, yield* IdGenerator.derive("conv-43", 3))
      // The separator cannot be forged: ("a:1", 2) is not ("a", 12).
      assert.notStrictEqual(yield* IdGenerator.derive("a:1", 2), yield* IdGenerator.derive("a", 12))
      // Pinned: changing the namespace or the name format would silently change every derived key.
      assert.strictEqual(a, "llm-gw-70e28b0e-b459-52bf-b6b4-cd1bd080eae2")
    }))

  it.effect("refuses an empty conversation id and a bad turn with a typed error", () =>
    Effect.gen(function*() {
      const empty = yield* Effect.flip(IdGenerator.derive("  ", 1))
      assert.strictEqual(empty._tag, "InvalidKeyInput")
      assert.strictEqual(empty.field, "conversationId")
      for (const turn of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        const error = yield* Effect.flip(IdGenerator.derive("c", turn))
        assert.strictEqual(error.field, "turn")
        assert.include(error.message, "non-negative integer")
      }
      const long = yield* Effect.flip(IdGenerator.derive("x".repeat(513), 0))
      assert.strictEqual(long.field, "conversationId")
    }))

  it.prop(
    "derived keys are stable and distinct for distinct inputs",
    [
      FastCheck.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim().length > 0),
      FastCheck.nat(),
      FastCheck.nat()
    ],
    ([conversation, t1, t2]) => {
      const k1 = Effect.runSync(IdGenerator.derive(conversation, t1))
      assert.strictEqual(k1, Effect.runSync(IdGenerator.derive(conversation, t1)))
      if (t1 !== t2) assert.notStrictEqual(k1, Effect.runSync(IdGenerator.derive(conversation, t2)))
    }
  )

  it.effect("layerTest hands out the given keys in order", () =>
    Effect.gen(function*() {
      const ids = yield* IdGenerator.IdGenerator
      assert.deepStrictEqual([yield* ids.next, yield* ids.next, yield* ids.next], ["k1", "k2", "k1"])
    }).pipe(Effect.provide(IdGenerator.layerTest(["k1", "k2"]))))
})
