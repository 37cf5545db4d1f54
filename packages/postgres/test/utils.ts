import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { randomBytes } from "node:crypto"

/** The real server of the machine (trust authentication, user root). */
export const serverUrl = (database: string) => `postgres://root@127.0.0.1:5432/${database}`

/** A database of this test run's own: its URL. */
export class TestDatabase extends Context.Tag("test/TestDatabase")<TestDatabase, { readonly url: string }>() {}

const admin = PgClient.layer({ url: Redacted.make(serverUrl("postgres")), maxConnections: 1 })

/** Creates `genesys_llm_test_<random>` and drops it (closing its connections) when the layer is released. */
export const layerTestDatabase: Layer.Layer<TestDatabase> = Layer.scoped(
  TestDatabase,
  Effect.gen(function*() {
    const name = `genesys_llm_test_${randomBytes(6).toString("hex")}`
    const run = (statement: string) =>
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)).pipe(Effect.provide(admin), Effect.orDie)
    yield* Effect.acquireRelease(
      run(`CREATE DATABASE ${name}`),
      () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    )
    return { url: serverUrl(name) }
  })
)

/** A client (its own pool) on the test database. */
export const clientOf = (url: string, maxConnections = 4) => PgClient.layer({ url: Redacted.make(url), maxConnections })
