import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Ref from "effect/Ref"
import { AssertionFailed, eventually, failureOf, failureTagged } from "../src/TestHelpers.js"

class Oops extends Error {
  readonly _tag = "Oops"
}

describe("failureOf", () => {
  it("returns the typed error of a failure", () => {
    const error = new Oops("x")
    assert.strictEqual(failureOf(Exit.fail(error)), error)
    assert.strictEqual(failureTagged(Exit.fail(error), "Oops"), error)
  })

  it("refuses a success, a defect and an interruption, naming what it got", () => {
    assert.throws(() => failureOf(Exit.succeed(1)), AssertionFailed, "the effect succeeded")
    assert.throws(() => failureOf(Exit.die(new Error("boom"))), AssertionFailed, "boom")
    assert.throws(() => failureOf(Exit.failCause(Cause.interrupt(0 as never))), AssertionFailed, "typed failure")
    assert.throws(
      () => failureTagged(Exit.fail<{ readonly _tag: "A" | "B" }>({ _tag: "B" }), "A"),
      AssertionFailed,
      "got B"
    )
  })
})

describe("eventually", () => {
  it.effect("waits for other fibers until the condition holds", () =>
    Effect.gen(function*() {
      const ref = yield* Ref.make(0)
      yield* Effect.fork(Effect.forever(Effect.zipRight(Ref.update(ref, (n) => n + 1), Effect.yieldNow())))
      yield* eventually(Effect.map(Ref.get(ref), (n) => n >= 50))
      assert.isAtLeast(yield* Ref.get(ref), 50)
    }))

  it.effect("dies naming the condition when it never holds", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(eventually(Effect.succeed(false), { yields: 3, liveMillis: 10, what: "never" }))
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      assert.include(Cause.pretty((exit as Exit.Failure<void, never>).cause), "the condition never held: never")
    }))
})
