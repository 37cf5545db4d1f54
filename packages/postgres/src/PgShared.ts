/**
 * What instances share through PostgreSQL, as one layer: a connection pool on the database URL, the migrations
 * run at start, the audit chain (`PgAuditSink`) and the webhook outbox (`PgOutbox`). A program that is given a
 * database URL (`GENESYS_LLM_DATABASE_URL`, `--database-url`) provides `layer(url)` in place of the file sink and
 * the file outbox.
 *
 * At start, a database that cannot be reached (or refuses the migrations) fails the layer with
 * `DatabaseUnavailableError`, naming the setting the URL came from and never the URL (it may carry a password).
 * While running, see `PgAuditSink` and `PgOutbox`: an audit write fails with `AuditWriteError` while the database
 * is unreachable (the line is not in the table, and the call's audit failure is reported as for a file); events
 * wait in memory and are written once it is back.
 *
 * @since 0.1.0
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import { AuditSink, Outbox } from "@genesys-llm/core"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as PgAuditSink from "./PgAuditSink.js"
import * as PgMigrations from "./PgMigrations.js"
import * as PgOutbox from "./PgOutbox.js"
import { variable } from "./PgUrl.js"

/**
 * The database could not be used at start: not reached (`unreachable`: refused, timed out, authentication or an
 * unknown database) or its migrations failed (`migration`). `setting` names where the URL came from
 * (`GENESYS_LLM_DATABASE_URL`, `--database-url`); the URL itself is never in the error.
 *
 * @since 0.1.0
 * @category errors
 */
export class DatabaseUnavailableError extends Schema.TaggedError<DatabaseUnavailableError>(
  "@genesys-llm/postgres/DatabaseUnavailableError"
)("DatabaseUnavailableError", {
  setting: Schema.String,
  reason: Schema.Literal("unreachable", "migration"),
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return this.reason === "unreachable"
      ? `cannot reach the PostgreSQL database given by ${this.setting}`
      : `the PostgreSQL database given by ${this.setting} refused the migrations`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Where the URL came from, for errors (default `GENESYS_LLM_DATABASE_URL`). */
  readonly setting?: string | undefined
  /** Connections of this instance's pool (default 5). */
  readonly maxConnections?: number | undefined
  /** How long to wait for the database at start (default 5 seconds). */
  readonly connectTimeout?: Duration.DurationInput | undefined
  readonly outbox?: PgOutbox.Options | undefined
}

/**
 * A pool on the database at `url`, checked at start (a query answered): the `SqlClient` the other layers use.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConnection = (
  url: Redacted.Redacted<string>,
  options: Options = {}
): Layer.Layer<SqlClient.SqlClient | PgClient.PgClient, DatabaseUnavailableError> =>
  PgClient.layer({
    url,
    maxConnections: options.maxConnections ?? 5,
    connectTimeout: options.connectTimeout ?? Duration.seconds(5),
    applicationName: "genesys-llm"
  }).pipe(
    Layer.mapError((cause) =>
      new DatabaseUnavailableError({ setting: options.setting ?? variable, reason: "unreachable", cause })
    )
  )

/**
 * `layerConnection` with the migrations run at start (`PgMigrations.run`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (
  url: Redacted.Redacted<string>,
  options: Options = {}
): Layer.Layer<SqlClient.SqlClient | PgClient.PgClient, DatabaseUnavailableError> => {
  const migrated = PgMigrations.layer.pipe(
    Layer.mapError((cause) =>
      new DatabaseUnavailableError({ setting: options.setting ?? variable, reason: "migration", cause })
    )
  )
  return Layer.provideMerge(migrated, layerConnection(url, options))
}

/**
 * The audit sink and the outbox on the database at `url`, over one pool, the migrations run at start.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  url: Redacted.Redacted<string>,
  options: Options = {}
): Layer.Layer<AuditSink.AuditSink | Outbox.Outbox, DatabaseUnavailableError> =>
  Layer.mergeAll(PgAuditSink.layer, PgOutbox.layer(options.outbox)).pipe(
    Layer.provide(layerClient(url, options))
  )

/**
 * The services of `layer`, built in the current scope: for a program that passes them on as values (the Node
 * pipeline's `auditSink` and `outbox` options).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  url: Redacted.Redacted<string>,
  options: Options = {}
): Effect.Effect<
  { readonly auditSink: AuditSink.Service; readonly outbox: Outbox.Service },
  DatabaseUnavailableError,
  Scope.Scope
> =>
  Effect.map(Layer.build(layer(url, options)), (context) => ({
    auditSink: Context.get(context, AuditSink.AuditSink),
    outbox: Context.get(context, Outbox.Outbox)
  }))
