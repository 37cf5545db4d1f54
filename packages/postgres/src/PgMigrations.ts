/**
 * The tables of `@genesys-llm/postgres`, created by `@effect/sql`'s `Migrator` (its record of applied migrations
 * is the table `genesys_llm_migrations`). `run` is idempotent: a migration already applied is skipped, so running
 * it twice, or from several instances starting at once, changes nothing the second time. The whole run holds a
 * transaction-scoped advisory lock, so instances that start together apply each migration once, one after
 * another, and none starts before the tables exist.
 *
 * - `audit_entries`: one row per audit line: `seq` (the chain's sequence, unique), `prev_hash`, `hash` and `line`
 *   (the line's canonical JSON, the text a file sink would write), `recorded_at` (the server's time). A trigger
 *   refuses `UPDATE`, `DELETE` and `TRUNCATE`.
 * - `webhook_outbox`: one row per event waiting for its receiver: `event_id` (unique), `event` (its JSON),
 *   `attempts`, `due_at`, `claimed_by` and `claimed_until` (the lease of the instance delivering it).
 *
 * @since 0.1.0
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { failOnSqlDefect } from "./internal/transaction.js"

/**
 * The key of the advisory lock the migrations take (`pg_advisory_xact_lock`); the audit sink's lock is another.
 *
 * @since 0.1.0
 * @category constructors
 */
export const lockKey = 0x67_6c_6d_31 // "glm1"

/**
 * The table where the `Migrator` records what it applied.
 *
 * @since 0.1.0
 * @category constructors
 */
export const migrationsTable = "genesys_llm_migrations"

const auditTable = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.all([
    sql`CREATE TABLE IF NOT EXISTS audit_entries (
      seq bigint PRIMARY KEY CHECK (seq >= 1),
      prev_hash text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
      hash text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
      line text NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT now()
    )`,
    sql`CREATE OR REPLACE FUNCTION audit_entries_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit_entries is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
    END
    $$`,
    sql`CREATE OR REPLACE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
      FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_change()`,
    sql`CREATE OR REPLACE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
      FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change()`
  ], { discard: true }))

const outboxTable = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.all([
    sql`CREATE TABLE IF NOT EXISTS webhook_outbox (
      id bigserial PRIMARY KEY,
      event_id text NOT NULL UNIQUE,
      event text NOT NULL,
      attempts integer NOT NULL DEFAULT 0,
      stored_at timestamptz NOT NULL DEFAULT now(),
      due_at timestamptz NOT NULL DEFAULT now(),
      claimed_by text,
      claimed_until timestamptz
    )`,
    sql`CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (due_at, id)`
  ], { discard: true }))

/**
 * The migrations, by id and name, as `Migrator.fromRecord` reads them. New ones are added at the end; an applied
 * one is never changed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const migrations: Record<string, Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient>> = {
  "1_audit_entries": auditTable,
  "2_webhook_outbox": outboxTable
}

const migrator = Migrator.make({})

/**
 * Applies the migrations not applied yet, under the advisory lock; returns those it applied (none the second
 * time).
 *
 * @since 0.1.0
 * @category constructors
 */
export const run: Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  Migrator.MigrationError | SqlError.SqlError,
  SqlClient.SqlClient
> = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.withTransaction(
    Effect.all([
      sql`SELECT pg_advisory_xact_lock(${lockKey})`,
      // The Migrator's own table, as it would make it: made here, under the lock, because its first look for the
      // table is a failing query, which would abort the transaction that holds the lock.
      sql`CREATE TABLE IF NOT EXISTS ${sql(migrationsTable)} (
        migration_id integer primary key,
        created_at timestamp with time zone not null default now(),
        name text not null
      )`
    ], { discard: true }).pipe(
      Effect.zipRight(migrator({ loader: Migrator.fromRecord(migrations), table: migrationsTable }))
    )
  )).pipe(failOnSqlDefect, Effect.withSpan("PgMigrations.run"))

/**
 * Runs the migrations when the layer is built.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<never, Migrator.MigrationError | SqlError.SqlError, SqlClient.SqlClient> = Layer
  .effectDiscard(run)
