/**
 * A memory `AuditSink` for tests: it validates and chains records exactly as the file sink does, keeps the lines
 * in a `Ref`, and can be made to fail.
 *
 * @since 0.1.0
 */
import { AuditEntry, AuditSink } from "@genesys-llm/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"

/**
 * @since 0.1.0
 * @category models
 */
export interface Control {
  /** The chained entries written so far, oldest first. */
  readonly entries: Ref.Ref<ReadonlyArray<AuditEntry.AuditEntry>>
  /** While a reason is set, every write fails with `AuditWriteError` of that reason and keeps nothing. */
  readonly failWith: (reason: AuditSink.WriteFailureReason | undefined) => Effect.Effect<void>
  /** The entries as the lines a file sink would write (each with its newline). */
  readonly text: Effect.Effect<string>
}

/**
 * @since 0.1.0
 * @category context
 */
export class TestAuditSink extends Context.Tag("@genesys-llm/testing/TestAuditSink")<TestAuditSink, Control>() {}

/**
 * Builds a memory sink and its control.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<{ readonly sink: AuditSink.Service; readonly control: Control }> = Effect.gen(
  function*() {
    const entries = yield* Ref.make<ReadonlyArray<AuditEntry.AuditEntry>>([])
    const failure = yield* Ref.make<AuditSink.WriteFailureReason | undefined>(undefined)
    const lock = yield* Effect.makeSemaphore(1)
    const sink: AuditSink.Service = {
      write: Effect.fn("TestAuditSink.write")(function*(record: AuditEntry.CallRecord) {
        yield* AuditEntry.validate(record)
        yield* lock.withPermits(1)(Effect.gen(function*() {
          const reason = yield* Ref.get(failure)
          if (reason !== undefined) {
            return yield* new AuditSink.AuditWriteError({ reason, operation: "write", path: "memory" })
          }
          const current = yield* Ref.get(entries)
          const last = current[current.length - 1]
          const entry = AuditEntry.seal(record, last === undefined ? AuditEntry.genesis : last)
          yield* Ref.set(entries, [...current, entry])
        }))
      })
    }
    const control: Control = {
      entries,
      failWith: (reason) => Ref.set(failure, reason),
      text: Effect.map(Ref.get(entries), (all) => all.map((e) => `${AuditEntry.encodeLine(e)}\n`).join(""))
    }
    return { sink, control }
  }
)

/**
 * The memory sink as the `AuditSink`, with its `TestAuditSink` control.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<AuditSink.AuditSink | TestAuditSink> = Layer.effectContext(
  Effect.map(
    make,
    ({ control, sink }) => Context.make(AuditSink.AuditSink, sink).pipe(Context.add(TestAuditSink, control))
  )
)
