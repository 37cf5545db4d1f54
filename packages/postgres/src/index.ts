/**
 * @since 0.1.0
 */
export * as PgMigrations from "./PgMigrations.js"

/**
 * @since 0.1.0
 */
export * as PgAuditSink from "./PgAuditSink.js"

/**
 * @since 0.1.0
 */
export * as PgOutbox from "./PgOutbox.js"

/**
 * @since 0.1.0
 */
export * as PgShared from "./PgShared.js"

/**
 * @since 0.1.0
 */
export * as PgUrl from "./PgUrl.js"
