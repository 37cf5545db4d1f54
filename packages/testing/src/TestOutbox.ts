/**
 * An `Outbox` for tests: the memory outbox, with a journal of every operation made on it (store, claim,
 * acknowledge, release, with the event ids concerned), so that a test can check the order a deliverer keeps (each
 * event stored before it is claimed, acknowledged only after its receiver answered).
 *
 * ```ts
 * const journal = yield* TestOutbox.journal
 * assert.deepStrictEqual(journal.map((op) => op.op), ["store", "claim", "acknowledge"])
 * ```
 *
 * @since 0.1.0
 */
import { Outbox } from "@genesys-llm/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"

/**
 * One operation on the outbox: which, and the event ids it concerned (for `claim`, those it handed out).
 *
 * @since 0.1.0
 * @category models
 */
export interface Operation {
  readonly op: "store" | "claim" | "acknowledge" | "release"
  readonly eventIds: ReadonlyArray<string>
}

/**
 * The journal of the double.
 *
 * @since 0.1.0
 * @category context
 */
export class Journal extends Context.Tag("@genesys-llm/testing/TestOutbox/Journal")<
  Journal,
  Effect.Effect<ReadonlyArray<Operation>>
>() {}

/**
 * Builds the double over a memory outbox, and its journal.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Outbox.MemoryOptions = {}
): Effect.Effect<{ readonly outbox: Outbox.Service; readonly journal: Effect.Effect<ReadonlyArray<Operation>> }> =>
  Effect.gen(function*() {
    const inner = yield* Outbox.makeMemory(options)
    const log = yield* Ref.make<ReadonlyArray<Operation>>([])
    // Operations on nothing (a claim that found nothing due) are left out.
    const note = (op: Operation["op"], eventIds: ReadonlyArray<string>) =>
      eventIds.length === 0 ? Effect.void : Ref.update(log, (all) => [...all, { op, eventIds }])
    const outbox: Outbox.Service = {
      ...inner,
      store: (events) => Effect.zipLeft(inner.store(events), note("store", events.map((e) => e.event_id))),
      claim: (claim) =>
        Effect.tap(inner.claim(claim), (entries) => note("claim", entries.map((e) => e.event.event_id))),
      acknowledge: (ids) => Effect.zipLeft(inner.acknowledge(ids), note("acknowledge", ids)),
      release: (ids, release) => Effect.zipLeft(inner.release(ids, release), note("release", ids))
    }
    return { outbox, journal: Ref.get(log) }
  })

/**
 * The double as the `Outbox`, with its `Journal`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Outbox.MemoryOptions = {}): Layer.Layer<Outbox.Outbox | Journal> =>
  Layer.effectContext(
    Effect.map(
      make(options),
      ({ journal, outbox }) => Context.make(Outbox.Outbox, outbox).pipe(Context.add(Journal, journal))
    )
  )

/**
 * The operations made so far, oldest first.
 *
 * @since 0.1.0
 * @category utils
 */
export const journal: Effect.Effect<ReadonlyArray<Operation>, never, Journal> = Effect.flatten(Journal)
