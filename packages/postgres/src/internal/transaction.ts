import * as SqlError from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/**
 * `@effect/sql`'s `withTransaction` turns a failed `COMMIT` or `ROLLBACK` (a connection lost mid-transaction) into
 * a defect. Here it is an `SqlError` again: a lost database is a failure to report and retry, not a crash.
 * @internal
 */
export const failOnSqlDefect = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError.SqlError, R> =>
  Effect.catchSomeDefect(
    effect,
    (defect) => defect instanceof SqlError.SqlError ? Option.some(Effect.fail(defect)) : Option.none()
  )
