/**
 * The webhook outbox in a PostgreSQL table (`webhook_outbox`, see `PgMigrations`), shared by every instance: an
 * event stored by one is delivered by whichever is alive. It keeps the contract of `Outbox.Service`, so
 * `MetricsWebhook.layerDelivery` delivers from it unchanged.
 *
 * - `store` inserts the events (`ON CONFLICT (event_id) DO NOTHING`: one row per `event_id`) and returns once the
 *   insert committed, before any delivery is tried. When the database cannot be reached the events wait in this
 *   process's memory (counted in `genesys_llm_webhook_outbox_write_failures_total{operation=store}`; at most
 *   `maxPending`, the oldest dropped beyond it and counted) and are inserted at the next chance, every second.
 * - `claim` takes up to `max` due rows, oldest first, with `FOR UPDATE SKIP LOCKED`: two instances claiming at once
 *   never get the same row. A claimed row carries this instance's id and a lease (`claimed_until`, the server's
 *   clock): a row whose claimer died is due again once its lease ran out.
 * - `acknowledge` deletes the rows the receiver took, in one statement, as soon as its answer is seen: no instance
 *   can claim them afterwards. An acknowledgement the database did not take is kept in memory, retried every
 *   second, and those events are not handed out by this instance meanwhile.
 * - `release` gives back this instance's claims only (not a row another instance claimed after a lease ran out),
 *   counting an attempt and making them due after the backoff delay.
 *
 * So an event is sent twice only if its receiver took it and the deletion did not commit before the lease ran out
 * (the instance died between the answer and the delete, or the database was unreachable for longer than the
 * lease): `event_id` lets the receiver drop that duplicate.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import { IdGenerator, Metrics, Outbox } from "@genesys-llm/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The most events kept in memory while the database is unreachable (default 10,000). */
  readonly maxPending?: number | undefined
  /** How often what waits in memory is written again (default 1 second). */
  readonly retryInterval?: Duration.DurationInput | undefined
}

interface ClaimedRow {
  readonly id: string
  readonly event: string
  readonly attempts: number
}

const decodeEvent = Schema.decodeUnknownEither(Schema.parseJson(Outbox.Event))

const failed = (operation: string) => (error: SqlError.SqlError) =>
  Effect.zipRight(
    Metric.increment(Metric.tagged(Metrics.outboxWriteFailures, "operation", operation)),
    Effect.logWarning(`metrics webhook: outbox ${operation} failed in the database`).pipe(
      Effect.annotateLogs({ error: error.message })
    )
  )

const seconds = (duration: Duration.DurationInput) => Duration.toMillis(duration) / 1000

// The rows of a claim, oldest first; a row that is not an event (it cannot come from `store`) is skipped.
const entriesOf = (rows: ReadonlyArray<ClaimedRow>): Effect.Effect<ReadonlyArray<Outbox.Entry>> =>
  Effect.gen(function*() {
    const sorted = [...rows].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1))
    const entries: Array<Outbox.Entry> = []
    for (const row of sorted) {
      const event = decodeEvent(row.event)
      if (Either.isRight(event)) entries.push({ event: event.right, attempts: row.attempts })
      else {yield* Effect.logWarning("metrics webhook: an outbox row is not an event; skipped").pipe(
          Effect.annotateLogs({ id: row.id })
        )}
    }
    return entries
  })

/**
 * The outbox over the `SqlClient` in context (its table made by `PgMigrations.run`). What waits in memory is
 * written again when the scope closes; what still cannot be written then is logged as lost.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<Outbox.Service, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const claimer = yield* IdGenerator.secureUuid
    const maxPending = Math.max(1, Math.floor(options.maxPending ?? Outbox.defaultMaxEntries))
    const work = yield* Queue.sliding<void>(1)
    // Owned by this instance: events not yet inserted, acknowledgements not yet deleted.
    let pending: Array<Outbox.Event> = []
    // Taken out of `pending` by a flush whose insert has not answered yet.
    let inFlight: ReadonlyArray<Outbox.Event> = []
    const unacknowledged = new Set<string>()

    const insert = (events: ReadonlyArray<Outbox.Event>) =>
      sql`INSERT INTO webhook_outbox ${
        sql.insert(events.map((event) => ({ event_id: event.event_id, event: JSON.stringify(event) })))
      } ON CONFLICT (event_id) DO NOTHING`

    const keep = (events: ReadonlyArray<Outbox.Event>) =>
      Effect.suspend(() => {
        pending = [...pending, ...events]
        const dropped = pending.length - maxPending
        if (dropped <= 0) return Effect.void
        pending = pending.slice(dropped)
        return Effect.zipRight(
          Metric.incrementBy(Metric.tagged(Metrics.outboxDropped, "reason", "full"), dropped),
          Effect.logWarning("metrics webhook: database unreachable, oldest waiting events dropped").pipe(
            Effect.annotateLogs({ dropped, maxPending })
          )
        )
      })

    const remove = (ids: ReadonlyArray<string>) => sql`DELETE FROM webhook_outbox WHERE event_id IN ${sql.in(ids)}`

    // Writes again what waits in memory; true when nothing is left waiting.
    const flush = Effect.gen(function*() {
      if (pending.length > 0) {
        inFlight = pending
        pending = []
        const inserted = yield* Effect.either(insert(inFlight))
        if (Either.isLeft(inserted)) pending = [...inFlight, ...pending]
        else yield* Queue.offer(work, undefined)
        inFlight = []
      }
      if (unacknowledged.size > 0) {
        const ids = [...unacknowledged]
        const removed = yield* Effect.either(remove(ids))
        if (Either.isRight(removed)) { for (const id of ids) unacknowledged.delete(id) }
      }
      return pending.length === 0 && unacknowledged.size === 0
    })

    const flusher = yield* flush.pipe(
      Effect.delay(options.retryInterval ?? Duration.seconds(1)),
      Effect.forever,
      Effect.forkScoped
    )
    // The flusher is stopped first, so that a batch it was inserting is not taken for written: it goes back to
    // `pending` (inserting it twice keeps one row per event_id).
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Fiber.interrupt(flusher)
        pending = [...inFlight, ...pending]
        inFlight = []
        if (yield* flush) return
        yield* Effect.logError("metrics webhook: events could not be written to the database").pipe(
          Effect.annotateLogs({ events: pending.length, acknowledgements: unacknowledged.size })
        )
      })
    )

    const claimRows = (max: number, lease: Duration.DurationInput) =>
      sql<ClaimedRow>`UPDATE webhook_outbox AS o
        SET claimed_by = ${claimer}, claimed_until = now() + make_interval(secs => ${seconds(lease)})
        FROM (
          SELECT id FROM webhook_outbox
          WHERE due_at <= now() AND (claimed_until IS NULL OR claimed_until <= now())
          ORDER BY id LIMIT ${max}
          FOR UPDATE SKIP LOCKED
        ) AS due
        WHERE o.id = due.id
        RETURNING o.id::text AS id, o.event, o.attempts`

    return {
      store: (events) =>
        events.length === 0 ? Effect.void : insert(events).pipe(
          Effect.zipRight(Queue.offer(work, undefined)),
          Effect.catchAll((error) => Effect.zipRight(failed("store")(error), keep(events))),
          Effect.asVoid,
          Effect.withSpan("PgOutbox.store")
        ),
      claim: ({ lease, max }) =>
        Math.floor(max) <= 0 ? Effect.succeed([]) : claimRows(Math.floor(max), lease).pipe(
          Effect.flatMap(entriesOf),
          Effect.map((entries) => entries.filter((entry) => !unacknowledged.has(entry.event.event_id))),
          Effect.catchAll((error) => Effect.as(failed("claim")(error), [])),
          Effect.withSpan("PgOutbox.claim")
        ),
      acknowledge: (eventIds) =>
        eventIds.length === 0 ? Effect.void : remove(eventIds).pipe(
          Effect.asVoid,
          Effect.catchAll((error) =>
            Effect.zipRight(
              failed("acknowledge")(error),
              Effect.sync(() => eventIds.forEach((id) => unacknowledged.add(id)))
            )
          ),
          Effect.withSpan("PgOutbox.acknowledge")
        ),
      release: (eventIds, releaseOptions) =>
        eventIds.length === 0 ? Effect.void : sql`UPDATE webhook_outbox
          SET claimed_by = NULL, claimed_until = NULL, attempts = attempts + 1,
            due_at = now() + make_interval(secs => ${seconds(releaseOptions?.delay ?? Duration.zero)})
          WHERE event_id IN ${sql.in(eventIds)} AND claimed_by = ${claimer}`.pipe(
          Effect.zipRight(Queue.offer(work, undefined)),
          // A claim not given back runs out with its lease: the event is due again then.
          Effect.catchAll(failed("release")),
          Effect.asVoid,
          Effect.withSpan("PgOutbox.release")
        ),
      count: sql<{ readonly n: string }>`SELECT count(*)::text AS n FROM webhook_outbox`.pipe(
        Effect.map((rows) => Number(rows[0]?.n ?? 0)),
        Effect.orElseSucceed(() => 0),
        Effect.map((kept) => kept + pending.length + inFlight.length),
        Effect.tap((size) => Metric.set(Metrics.outboxSize, size))
      ),
      list: (listOptions) => {
        const limit = Math.max(0, Math.floor(listOptions?.limit ?? Number.MAX_SAFE_INTEGER))
        return sql<ClaimedRow>`SELECT id::text AS id, event, attempts FROM webhook_outbox
          ORDER BY webhook_outbox.id LIMIT ${limit}`.pipe(
          Effect.flatMap(entriesOf),
          Effect.orElseSucceed(() => []),
          Effect.map((kept) =>
            [...kept, ...[...inFlight, ...pending].map((event) => ({ event, attempts: 0 }))].slice(0, limit)
          )
        )
      },
      awaitWork: (timeout) => Effect.asVoid(Effect.timeoutOption(Queue.take(work), timeout))
    }
  })

/**
 * The table outbox as the `Outbox`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Outbox.Outbox, never, SqlClient.SqlClient> =>
  Layer.scoped(Outbox.Outbox, make(options))
