// The commands with a PostgreSQL database (the machine's server, 127.0.0.1:5432, a database of this run's own):
// `db migrate`, `chat --database-url` (the audit chain and the outbox in tables), `audit verify --database-url`.
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { randomBytes } from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { cli } from "./utils.js"

const serverUrl = (database: string) => `postgres://root@127.0.0.1:5432/${database}`

const sql = (url: string, statement: string) =>
  Effect.flatMap(SqlClient.SqlClient, (client) => client.unsafe(statement)).pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })),
    Effect.orDie
  )

// A database of this test's own, dropped (its connections closed) at the end of the scope.
const testDatabase = Effect.gen(function*() {
  const name = `genesys_llm_test_${randomBytes(6).toString("hex")}`
  yield* Effect.acquireRelease(
    sql(serverUrl("postgres"), `CREATE DATABASE ${name}`),
    () => sql(serverUrl("postgres"), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  )
  return serverUrl(name)
})

// Counts the event ids it receives.
const receiver = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly counts: Map<string, number>; readonly server: Http.Server }>(
    (resume) => {
      const counts = new Map<string, number>()
      const server = Http.createServer((req, res) => {
        let body = ""
        req.setEncoding("utf8")
        req.on("data", (chunk: string) => (body += chunk))
        req.on("end", () => {
          const id = (JSON.parse(body) as { event_id: string }).event_id
          counts.set(id, (counts.get(id) ?? 0) + 1)
          res.writeHead(204).end()
        })
      })
      server.listen(
        0,
        "127.0.0.1",
        () =>
          resume(Effect.succeed({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, counts, server }))
      )
    }
  ),
  ({ server }) => Effect.sync(() => server.close())
)

describe("genesys-llm with a PostgreSQL database", { timeout: 120_000 }, () => {
  it.live("db migrate is idempotent; chat writes one chain and one event per call; verify names an edited row", () =>
    Effect.gen(function*() {
      const url = yield* testDatabase
      const first = yield* cli(["db", "migrate", "--database-url", url])
      assert.strictEqual(first.code, 0, first.stderr)
      assert.strictEqual(first.stdout, "applied 2 migrations: 1_audit_entries, 2_webhook_outbox\n")
      const second = yield* cli(["db", "migrate"], { env: { GENESYS_LLM_DATABASE_URL: url } })
      assert.strictEqual(second.code, 0, second.stderr)
      assert.strictEqual(second.stdout, "database schema up to date: no migration applied\n")

      const simulator = yield* GatewaySimulator.make({ replyText: "Shipped on Monday." })
      const hook = yield* receiver
      const env = {
        GENESYS_CLIENT_ID: simulator.credentials.clientId,
        GENESYS_CLIENT_SECRET: Redacted.value(simulator.credentials.clientSecret),
        GENESYS_LLM_DATABASE_URL: url
      }
      const chats = yield* Effect.all(
        [1, 2, 3].map((i) =>
          cli([
            "chat",
            "--model",
            "m-1",
            "--user",
            `where is order ${i}?`,
            "--api-url",
            simulator.url,
            "--webhook",
            hook.url
          ], {
            env
          })
        ),
        { concurrency: 3 }
      )
      for (const ran of chats) assert.strictEqual(ran.code, 0, ran.stderr)
      const verified = yield* cli(["audit", "verify"], { env: { GENESYS_LLM_DATABASE_URL: url } })
      assert.strictEqual(verified.code, 0, verified.stderr)
      assert.match(verified.stdout, /^audit_entries: intact, 3 rows \(3 entries, 0 recoveries\), head seq 3 /)
      yield* Effect.sync(() => hook.counts.size).pipe(
        Effect.repeat({ until: (n) => n === 3, schedule: Schedule.spaced("50 millis") }),
        Effect.timeout("20 seconds")
      )
      assert.deepStrictEqual([...hook.counts.values()], [1, 1, 1])

      yield* sql(
        url,
        `BEGIN; ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only;
         UPDATE audit_entries SET line = replace(line, '"status":"success"', '"status":"error"') WHERE seq = 2;
         ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only; COMMIT`
      )
      const broken = yield* cli(["audit", "verify", "--database-url", url])
      assert.strictEqual(broken.code, 1)
      assert.strictEqual(broken.stdout, "")
      assert.include(broken.stderr, "audit_entries: broken at row 2 (seq 2): edited")
    }).pipe(Effect.scoped))

  it.live("an unreachable database at start is exit 1 naming the setting, never the URL", () =>
    Effect.gen(function*() {
      // Port 1 on loopback: nothing listens there.
      const closed = "postgres://root:hunter2-secret@127.0.0.1:1/genesys"
      const env = { GENESYS_CLIENT_ID: "id", GENESYS_CLIENT_SECRET: "secret" }
      const args = ["chat", "--model", "m-1", "--user", "hi", "--api-url", "http://127.0.0.1:1"]
      const byFlag = yield* cli([...args, "--database-url", closed], { env })
      const byVariable = yield* cli(args, { env: { ...env, GENESYS_LLM_DATABASE_URL: closed } })
      const migrate = yield* cli(["db", "migrate", "--database-url", closed])
      const bad = yield* cli([...args, "--database-url", "mysql://root:hunter2-secret@127.0.0.1/x"], { env })
      assert.strictEqual(byFlag.code, 1)
      assert.include(byFlag.stderr, "cannot reach the PostgreSQL database given by --database-url")
      assert.strictEqual(byVariable.code, 1)
      assert.include(byVariable.stderr, "cannot reach the PostgreSQL database given by GENESYS_LLM_DATABASE_URL")
      assert.strictEqual(migrate.code, 1)
      assert.strictEqual(bad.code, 2)
      assert.include(bad.stderr, "--database-url must be a postgres:// or postgresql:// URL")
      for (const ran of [byFlag, byVariable, migrate, bad]) {
        assert.notInclude(ran.stderr + ran.stdout, "hunter2")
      }
    }))
})
