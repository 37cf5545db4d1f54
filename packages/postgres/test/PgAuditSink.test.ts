import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { AuditEntry, AuditLog, AuditSink } from "@genesys-llm/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as PgAuditSink from "../src/PgAuditSink.js"
import * as PgMigrations from "../src/PgMigrations.js"
import { clientOf, layerTestDatabase, TestDatabase } from "./utils.js"

const record = (i: number): AuditEntry.CallRecord => ({
  kind: "call",
  timestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
  idempotencyKey: `llm-gw-${i}`,
  modelId: "gpt-4o-mini",
  latencyMs: 100 + i,
  tokensUsed: i,
  status: "success",
  systemInstructionCount: 1,
  contextMessageCount: 1,
  attempts: 1,
  droppedContextMessages: 0,
  safetyRuleIds: []
})

// A sink with a pool of its own, as another instance would have.
const instance = (url: string) =>
  Layer.provideMerge(PgAuditSink.layer, Layer.provideMerge(PgMigrations.layer, clientOf(url, 3)))

const withClient = <A, E>(url: string, effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  Effect.provide(effect, clientOf(url, 1))

const appendAll = (url: string, n: number) =>
  Effect.flatMap(
    AuditSink.AuditSink,
    (sink) => Effect.forEach(Array.from({ length: n }, (_, i) => record(i)), (r) => sink.write(r), { discard: true })
  ).pipe(
    Effect.provide(instance(url))
  )

describe("PgAuditSink", { timeout: 60_000 }, () => {
  it.live("migrations run twice: the second applies nothing and changes nothing", () =>
    Effect.gen(function*() {
      const { url } = yield* TestDatabase
      const first = yield* withClient(url, PgMigrations.run)
      assert.deepStrictEqual(first.map(([id]) => id), [1, 2])
      const [second, third] = yield* Effect.all([
        withClient(url, PgMigrations.run),
        withClient(url, PgMigrations.run)
      ], { concurrency: "unbounded" })
      assert.deepStrictEqual([...second, ...third], [])
    }).pipe(Effect.provide(layerTestDatabase)))

  it.live("four instances appending at once make one valid chain", () =>
    Effect.gen(function*() {
      const { url } = yield* TestDatabase
      const perInstance = 15
      yield* Effect.forEach([0, 1, 2, 3], (n) =>
        Effect.flatMap(AuditSink.AuditSink, (sink) =>
          Effect.forEach(
            Array.from({ length: perInstance }, (_, i) => record(n * 100 + i)),
            (r) => sink.write(r),
            { concurrency: 5, discard: true }
          )).pipe(Effect.provide(instance(url))), { concurrency: "unbounded", discard: true })
      const result = yield* withClient(url, PgAuditSink.verify)
      assert.strictEqual(result._tag, "Intact")
      if (result._tag === "Intact") {
        assert.strictEqual(result.entries, 4 * perInstance)
        assert.strictEqual(result.head.seq, 4 * perInstance)
      }
      // The rows hold the very lines a file sink would write: the file verifier agrees.
      const lines = yield* withClient(
        url,
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ line: string }>`SELECT line FROM audit_entries ORDER BY seq`)
      )
      assert.strictEqual(AuditLog.verifyBytes(lines.map((r) => `${r.line}\n`).join(""))._tag, "Intact")
    }).pipe(Effect.provide(layerTestDatabase)))

  it.live("the trigger refuses UPDATE, DELETE and TRUNCATE", () =>
    Effect.gen(function*() {
      const { url } = yield* TestDatabase
      yield* appendAll(url, 3)
      const attempts = [
        "UPDATE audit_entries SET line = line WHERE seq = 1",
        "DELETE FROM audit_entries WHERE seq = 1",
        "TRUNCATE audit_entries"
      ]
      for (const statement of attempts) {
        const error = yield* Effect.flip(
          withClient(url, Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)))
        )
        assert.match(String((error.cause as Error).message), /audit_entries is append-only/, statement)
      }
      assert.strictEqual((yield* withClient(url, PgAuditSink.verify))._tag, "Intact")
    }).pipe(Effect.provide(layerTestDatabase)))

  it.live("a row edited by a superuser (trigger disabled) is named by verify", () =>
    Effect.gen(function*() {
      const { url } = yield* TestDatabase
      yield* appendAll(url, 12)
      const tamper = (statement: string) =>
        withClient(
          url,
          Effect.flatMap(SqlClient.SqlClient, (sql) =>
            sql.withTransaction(Effect.all([
              sql`ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only`,
              sql.unsafe(statement),
              sql`ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only`
            ])))
        )
      yield* tamper(`UPDATE audit_entries SET line = replace(line, '"tokensUsed":7', '"tokensUsed":0') WHERE seq = 8`)
      const edited = yield* withClient(url, PgAuditSink.verify)
      assert.strictEqual(edited._tag, "Broken")
      if (edited._tag === "Broken") {
        assert.strictEqual(edited.line, 8)
        assert.strictEqual(edited.seq, "8")
        assert.strictEqual(edited.reason, "edited")
      }
    }).pipe(Effect.provide(layerTestDatabase)))

  it.live("verify pages through a long chain and names a deleted row and an edited row past the first page", () =>
    Effect.gen(function*() {
      const { url } = yield* TestDatabase
      const count = PgAuditSink.pageSize * 2 + 200
      const lines: Array<AuditEntry.AuditEntry> = []
      let head = AuditEntry.genesis
      for (let i = 0; i < count; i++) {
        const line = AuditEntry.seal(record(i), head)
        lines.push(line)
        head = line
      }
      yield* withClient(
        url,
        Effect.flatMap(SqlClient.SqlClient, (sql) =>
          Effect.zipRight(
            PgMigrations.run,
            Effect.forEach(
              Array.from({ length: Math.ceil(count / 400) }, (_, i) => lines.slice(i * 400, i * 400 + 400)),
              (batch) =>
                sql`INSERT INTO audit_entries ${
                  sql.insert(batch.map((line) => ({
                    seq: line.seq,
                    prev_hash: line.prevHash,
                    hash: line.hash,
                    line: AuditEntry.encodeLine(line)
                  })))
                }`,
              { discard: true }
            )
          ))
      )
      const intact = yield* withClient(url, PgAuditSink.verify)
      assert.strictEqual(intact._tag, "Intact")
      if (intact._tag === "Intact") assert.strictEqual(intact.head.seq, count)

      const tamper = (statement: string) =>
        withClient(
          url,
          Effect.flatMap(SqlClient.SqlClient, (sql) =>
            sql.withTransaction(Effect.all([
              sql`ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only`,
              sql.unsafe(statement),
              sql`ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only`
            ])))
        )
      yield* tamper("UPDATE audit_entries SET hash = repeat('a', 64) WHERE seq = 1150")
      const edited = yield* withClient(url, PgAuditSink.verify)
      assert.strictEqual(edited._tag, "Broken")
      if (edited._tag === "Broken") {
        assert.deepStrictEqual([edited.line, edited.seq, edited.reason], [1150, "1150", "edited"])
      }
      yield* tamper("DELETE FROM audit_entries WHERE seq = 1001")
      const removed = yield* withClient(url, PgAuditSink.verify)
      assert.strictEqual(removed._tag, "Broken")
      if (removed._tag === "Broken") {
        assert.deepStrictEqual([removed.line, removed.seq, removed.reason], [1001, "1002", "removed-or-reordered"])
      }
    }).pipe(Effect.provide(layerTestDatabase)))

  it.live("a write whose connection is killed mid-transaction is retried on a new one, the record in the chain once", () =>
    Effect.gen(function*() {
      const { url } = yield* TestDatabase
      yield* appendAll(url, 2)
      const locked = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      // Another appender holds the chain's lock, so the write below waits inside its transaction.
      const holder = yield* withClient(
        url,
        Effect.flatMap(SqlClient.SqlClient, (sql) =>
          sql.withTransaction(
            sql`SELECT pg_advisory_xact_lock(${PgAuditSink.auditLockKey})`.pipe(
              Effect.zipRight(Deferred.succeed(locked, undefined)),
              Effect.zipRight(Deferred.await(release))
            )
          ))
      ).pipe(Effect.fork)
      yield* Deferred.await(locked)
      const writer = yield* Effect.flatMap(AuditSink.AuditSink, (sink) => sink.write(record(99))).pipe(
        Effect.provide(instance(url)),
        Effect.fork
      )
      const admin = <A>(query: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
        withClient(url, Effect.flatMap(SqlClient.SqlClient, query))
      const waiting = (sql: SqlClient.SqlClient) =>
        sql<{ pid: number }>`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`
      const [victim] = yield* admin(waiting).pipe(
        Effect.filterOrFail((rows) => rows.length === 1),
        Effect.retry(Schedule.spaced("20 millis")),
        Effect.timeout("10 seconds")
      )
      yield* admin((sql) => sql`SELECT pg_terminate_backend(${victim.pid})`)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      yield* Fiber.join(writer)
      const result = yield* withClient(url, PgAuditSink.verify)
      assert.strictEqual(result._tag, "Intact")
      if (result._tag === "Intact") assert.strictEqual(result.entries, 3)
    }).pipe(Effect.provide(layerTestDatabase)))
})
