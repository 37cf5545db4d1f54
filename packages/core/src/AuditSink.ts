/**
 * Where audit records go. Every call yields exactly one record; a sink writes it or fails with a typed error,
 * never drops it silently. Sinks: the hash-chained JSONL file (`AuditLog`), a fan-out over several sinks, a noop,
 * and a memory sink in `@genesys-llm/testing`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"
import * as AuditEntry from "./AuditEntry.js"
import * as Metrics from "./Metrics.js"

/**
 * Why a write failed: `no-space` (ENOSPC), `permission-denied` (EACCES, EPERM, a read-only file system),
 * `not-found`, `busy`, `corrupt` (a log whose body, not only its tail, is broken), `closed` (the sink's scope
 * has ended), or `io` for any other failure.
 *
 * @since 0.1.0
 * @category models
 */
export const WriteFailureReason = Schema.Literal(
  "no-space",
  "permission-denied",
  "not-found",
  "busy",
  "corrupt",
  "closed",
  "io"
)

/**
 * @since 0.1.0
 * @category models
 */
export type WriteFailureReason = typeof WriteFailureReason.Type

/**
 * The step that failed.
 *
 * @since 0.1.0
 * @category models
 */
export const WriteOperation = Schema.Literal("open", "read", "write", "sync", "truncate", "recover")

/**
 * @since 0.1.0
 * @category models
 */
export type WriteOperation = typeof WriteOperation.Type

/**
 * A sink could not write a record. It names the step, the reason and the sink's path; never the record.
 *
 * @since 0.1.0
 * @category errors
 */
export class AuditWriteError extends Schema.TaggedError<AuditWriteError>("@genesys-llm/core/AuditWriteError")(
  "AuditWriteError",
  {
    reason: WriteFailureReason,
    operation: WriteOperation,
    path: Schema.String,
    cause: Schema.optional(Schema.Defect)
  }
) {
  override get message(): string {
    return `audit ${this.operation} failed (${this.reason}) for ${this.path}`
  }
}

/**
 * One failed sink of a fan-out.
 *
 * @since 0.1.0
 * @category models
 */
export const SinkFailure = Schema.Struct({
  sink: Schema.String,
  error: Schema.Union(AuditWriteError, AuditEntry.InvalidAuditEntryError)
})

/**
 * @since 0.1.0
 * @category models
 */
export type SinkFailure = typeof SinkFailure.Type

/**
 * Some sinks of a fan-out failed (the others wrote the record). `failures` names each failed sink and its error.
 *
 * @since 0.1.0
 * @category errors
 */
export class AuditFanOutError extends Schema.TaggedError<AuditFanOutError>("@genesys-llm/core/AuditFanOutError")(
  "AuditFanOutError",
  {
    failures: Schema.Array(SinkFailure),
    sinks: Schema.Int
  }
) {
  override get message(): string {
    const names = this.failures.map((f) => `${f.sink} (${f.error.message})`).join(", ")
    return `${this.failures.length} of ${this.sinks} audit sinks failed: ${names}`
  }
}

/**
 * @since 0.1.0
 * @category errors
 */
export type AuditSinkError = AuditWriteError | AuditFanOutError | AuditEntry.InvalidAuditEntryError

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Writes one call's record. The sink validates it, places it in its chain (where it keeps one) and writes it;
   * an error means the record was not written by this sink.
   */
  readonly write: (record: AuditEntry.CallRecord) => Effect.Effect<void, AuditSinkError>
}

/**
 * @since 0.1.0
 * @category context
 */
export class AuditSink extends Context.Tag("@genesys-llm/core/AuditSink")<AuditSink, Service>() {}

/**
 * A sink that accepts every valid record and keeps nothing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const noop: Service = {
  write: (record) => Effect.asVoid(AuditEntry.validate(record))
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerNoop: Layer.Layer<AuditSink> = Layer.succeed(AuditSink, noop)

const flatten = (name: string, error: AuditSinkError): ReadonlyArray<SinkFailure> =>
  error._tag === "AuditFanOutError"
    ? error.failures.map((f) => ({ sink: `${name}/${f.sink}`, error: f.error }))
    : [{ sink: name, error }]

/**
 * Writes every record to all the given sinks at once. A failing sink does not stop the others: when any fails,
 * the write fails with `AuditFanOutError` naming the failed sinks (after all of them finished), and
 * `genesys_llm_audit_write_failures_total{sink=<name>}` counts each.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fanOut = (sinks: Readonly<Record<string, Service>>): Service => {
  const entries = Object.entries(sinks)
  return {
    write: Effect.fn("AuditSink.fanOut.write")(function*(record: AuditEntry.CallRecord) {
      const results = yield* Effect.forEach(
        entries,
        ([name, sink]) => Effect.map(Effect.either(sink.write(record)), (result) => [name, result] as const),
        { concurrency: "unbounded" }
      )
      const failures: Array<SinkFailure> = []
      for (const [name, result] of results) {
        if (result._tag === "Left") failures.push(...flatten(name, result.left))
      }
      if (failures.length === 0) return
      yield* Effect.forEach(
        failures,
        (f) => Metric.increment(Metric.tagged(Metrics.auditWriteFailures, "sink", f.sink)),
        { discard: true }
      )
      return yield* new AuditFanOutError({ failures, sinks: entries.length })
    })
  }
}

/**
 * A fan-out over sinks built from layers, one per name: `layerFanOut({ file: AuditLog.layer(...), memory })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFanOut = <const Layers extends Readonly<Record<string, Layer.Layer<AuditSink, unknown, unknown>>>>(
  layers: Layers
): Layer.Layer<AuditSink, Layer.Layer.Error<Layers[keyof Layers]>, Layer.Layer.Context<Layers[keyof Layers]>> =>
  Layer.scoped(
    AuditSink,
    Effect.gen(function*() {
      const sinks: Record<string, Service> = {}
      for (const [name, layer] of Object.entries(layers)) {
        const context = yield* Layer.build(layer)
        sinks[name] = Context.get(context, AuditSink)
      }
      return fanOut(sinks)
    })
  ) as never
