/**
 * The audit chain in a PostgreSQL table (`audit_entries`, see `PgMigrations`): the same lines as the file sink
 * (`AuditLog`), sealed by the same code (`AuditEntry.seal`), in one linear chain however many instances append.
 *
 * - One chain: each `write` is a transaction that takes the transaction-scoped advisory lock `auditLockKey`,
 *   reads the last row's `seq` and `hash`, seals the record after it and inserts it. The lock serialises every
 *   appender on the database, in this process or another; `seq` is the table's primary key, so even an appender
 *   that ignored the lock could not insert a second line at one place of the chain.
 * - An error means the line is not in the table: the transaction rolled back (or never committed). A `write` that
 *   returned has committed: nothing accepted is lost with the instance. A write whose connection is lost is tried
 *   again (`retrySchedule`); the retry first looks for the line the lost attempt inserted, so a record is never in
 *   the chain twice.
 * - Append-only: a trigger refuses `UPDATE`, `DELETE` and `TRUNCATE`. A superuser (or the table's owner) can still
 *   disable the trigger, or drop the table; `verify` then names the first row that was changed. Rows cut off the
 *   end of the chain are not visible to the chain alone: compare the head with a copy kept elsewhere.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import { AuditEntry, AuditLog, AuditSink } from "@genesys-llm/core"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { failOnSqlDefect } from "./internal/transaction.js"

/**
 * The key of the advisory lock every appender of the chain takes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const auditLockKey = 0x67_6c_6d_32 // "glm2"

/**
 * How errors name this sink (in place of a file's path): never the database URL, which may carry a password.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sinkName = "postgresql:audit_entries"

interface HeadRow {
  readonly seq: string
  readonly hash: string
}

const readHead = (sql: SqlClient.SqlClient): Effect.Effect<AuditEntry.ChainHead, SqlError.SqlError> =>
  Effect.map(
    sql<HeadRow>`SELECT seq::text AS seq, hash FROM audit_entries ORDER BY audit_entries.seq DESC LIMIT 1`,
    (rows) => rows.length === 0 ? AuditEntry.genesis : { seq: Number(rows[0].seq), hash: rows[0].hash }
  )

const lineExists = (sql: SqlClient.SqlClient, hash: string) =>
  Effect.map(sql`SELECT 1 FROM audit_entries WHERE hash = ${hash}`, (rows) => rows.length > 0)

// One transaction: the lock, the head, the sealed line. `tried` holds the hash of the line an earlier attempt of
// this write inserted: if that attempt committed after all (its answer was lost with its connection), the line is
// there and nothing is added, so a retried write never puts a record in the chain twice.
const append = (
  sql: SqlClient.SqlClient,
  record: AuditEntry.CallRecord | AuditEntry.RecoveryRecord,
  tried: { hash: string | undefined }
) =>
  sql.withTransaction(Effect.gen(function*() {
    yield* sql`SELECT pg_advisory_xact_lock(${auditLockKey})`
    if (tried.hash !== undefined && (yield* lineExists(sql, tried.hash))) return
    const head = yield* readHead(sql)
    const line = AuditEntry.seal(record, head)
    tried.hash = line.hash
    yield* sql`INSERT INTO audit_entries (seq, prev_hash, hash, line)
      VALUES (${line.seq}, ${line.prevHash}, ${line.hash}, ${AuditEntry.encodeLine(line)})`
  }))

/**
 * How a write that failed is tried again: 3 more times, 100 ms apart and doubling (a connection lost in the middle
 * of a transaction, a database failing over). The pipeline's audit timeout bounds the whole.
 *
 * @since 0.1.0
 * @category constructors
 */
export const retrySchedule: Schedule.Schedule<unknown, unknown> = Schedule.exponential(Duration.millis(100)).pipe(
  Schedule.intersect(Schedule.recurs(3))
)

const writeError = (cause: SqlError.SqlError) =>
  new AuditSink.AuditWriteError({ reason: "io", operation: "write", path: sinkName, cause })

/**
 * The sink over the `SqlClient` in context (its tables made by `PgMigrations.run`). In one process, writes go one
 * at a time (they would queue on the lock anyway, each holding a connection of the pool).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<AuditSink.Service, never, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const one = yield* Effect.makeSemaphore(1)
  return {
    write: Effect.fn("PgAuditSink.write")(function*(record: AuditEntry.CallRecord) {
      yield* AuditEntry.validate(record)
      const tried = { hash: undefined as string | undefined }
      yield* one.withPermits(1)(append(sql, record, tried).pipe(failOnSqlDefect, Effect.retry(retrySchedule))).pipe(
        Effect.mapError(writeError)
      )
    })
  }
})

/**
 * The table sink as the `AuditSink`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<AuditSink.AuditSink, never, SqlClient.SqlClient> = Layer.effect(
  AuditSink.AuditSink,
  make
)

// -----------------------------------------------------------------------------
// Verification
// -----------------------------------------------------------------------------

interface Row {
  readonly seq: string
  readonly prev_hash: string
  readonly hash: string
  readonly line: string
}

/**
 * Rows read per query while verifying.
 *
 * @since 0.1.0
 * @category constructors
 */
export const pageSize = 500

const page = (sql: SqlClient.SqlClient, after: string) =>
  sql<Row>`SELECT seq::text AS seq, prev_hash, hash, line FROM audit_entries
    WHERE seq > ${after}::bigint ORDER BY audit_entries.seq LIMIT ${pageSize}`

// The rows in `seq` order, one page at a time (keyset pagination: memory bounded by a page).
const rows = (sql: SqlClient.SqlClient): Stream.Stream<Row, SqlError.SqlError> =>
  Stream.paginateChunkEffect("0", (after) =>
    Effect.map(page(sql, after), (found) => [
      Chunk.fromIterable(found),
      found.length < pageSize ? Option.none() : Option.some(found[found.length - 1].seq)
    ]))

// The columns are copies of fields of the line, kept for the index and the lock: they must agree with it.
const columnsAgree = (row: Row): boolean => {
  try {
    const parsed = JSON.parse(row.line) as Record<string, unknown>
    return String(parsed.seq) === row.seq && parsed.prevHash === row.prev_hash && parsed.hash === row.hash
  } catch {
    // Not JSON: the line's own check names it.
    return true
  }
}

/**
 * The outcome of verifying the table: `AuditLog.VerifyResult`, whose `line` is the position of the bad row in `seq`
 * order (1-based), with that row's `seq` column.
 *
 * @since 0.1.0
 * @category models
 */
export type VerifyResult =
  | Extract<AuditLog.VerifyResult, { readonly _tag: "Intact" }>
  | (Extract<AuditLog.VerifyResult, { readonly _tag: "Broken" }> & { readonly seq: string | undefined })

const seqAt = (sql: SqlClient.SqlClient, position: number) =>
  Effect.map(
    sql<{ readonly seq: string }>`SELECT seq::text AS seq FROM audit_entries ORDER BY audit_entries.seq OFFSET ${
      position - 1
    } LIMIT 1`,
    (found) => found[0]?.seq
  )

/**
 * Checks the chain in the table row by row, in `seq` order, with `AuditLog.verifyLines` (the checks of a file's
 * `verify`: each line's form and hash, each link), plus each row's columns against its line. Streams the rows a
 * page at a time, so memory stays bounded.
 *
 * @since 0.1.0
 * @category utils
 */
export const verify: Effect.Effect<VerifyResult, SqlError.SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  let position = 0
  let disagreeing: number | undefined
  const lines = rows(sql).pipe(
    Stream.takeWhile((row) => {
      position++
      if (columnsAgree(row)) return true
      disagreeing = position
      return false
    }),
    Stream.map((row) => row.line)
  )
  const result = yield* AuditLog.verifyLines(lines)
  if (result._tag === "Broken") return { ...result, seq: yield* seqAt(sql, result.line) }
  if (disagreeing === undefined) return result
  return {
    ...AuditLog.VerifyResult.Broken({
      line: disagreeing,
      reason: "edited",
      detail: "the row's seq, prev_hash or hash column does not match its line"
    }),
    seq: yield* seqAt(sql, disagreeing)
  }
}).pipe(Effect.withSpan("PgAuditSink.verify"))
