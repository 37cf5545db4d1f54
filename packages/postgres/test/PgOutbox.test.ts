// The table outbox against the real PostgreSQL and a real receiver on 127.0.0.1 that counts event ids. Live
// clock with short delays; the tests wait for outcomes and assert no duration.
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { MetricsWebhook, Outbox } from "@genesys-llm/core"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import * as PgMigrations from "../src/PgMigrations.js"
import * as PgOutbox from "../src/PgOutbox.js"
import { clientOf, layerTestDatabase, TestDatabase } from "./utils.js"

interface Receiver {
  readonly url: string
  /** How many times each event id was received. */
  readonly counts: Map<string, number>
}

// Answers 204 to every POST after a short pause (so that deliveries overlap), counting each event id.
const receiver = Effect.acquireRelease(
  Effect.async<Receiver & { readonly server: Http.Server }>((resume) => {
    const counts = new Map<string, number>()
    const server = Http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const id = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { event_id: string }).event_id
        counts.set(id, (counts.get(id) ?? 0) + 1)
        setTimeout(() => res.writeHead(204).end(), 5)
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}/hook`, counts, server }))
    })
  }),
  ({ server }) =>
    Effect.async<void>((done) => {
      server.closeAllConnections()
      server.close(() => done(Effect.void))
    })
)

const event = (id: string, i: number): Outbox.Event => ({
  event: "llm_prompt_completed",
  event_id: id,
  timestamp: "2026-01-01T00:00:00.000Z",
  model: "gpt-4o-mini",
  latency_ms: i,
  tokens_used: i,
  cost_estimate_usd: 0
})

// One instance: its own pool, the table outbox, and (with a receiver) the webhook delivering from it.
const outboxOf = (url: string) =>
  PgOutbox.layer({ retryInterval: Duration.millis(50) }).pipe(
    Layer.provideMerge(PgMigrations.layer),
    Layer.provideMerge(clientOf(url, 3))
  )

// The outbox of an instance, for the current scope.
const openOutbox = (url: string) => Effect.map(Layer.build(outboxOf(url)), Context.get(Outbox.Outbox))

const deliverer = (url: string, hook: string) =>
  MetricsWebhook.layerDelivery({ url: hook, redelivery: { initialDelay: Duration.millis(20) }, concurrency: 4 }).pipe(
    Layer.provideMerge(outboxOf(url)),
    Layer.provide(NodeHttpClient.layerUndici)
  )

const rowsIn = (url: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ n: string }>`SELECT count(*)::text AS n FROM webhook_outbox`)
    .pipe(Effect.map((rows) => Number(rows[0].n)), Effect.provide(clientOf(url, 1)))

const untilEmpty = (url: string) =>
  rowsIn(url).pipe(
    Effect.repeat({ until: (n) => n === 0, schedule: Schedule.spaced("50 millis") }),
    Effect.timeout("30 seconds")
  )

const fixture = fileURLToPath(new URL("./fixtures/storeAndWait.ts", import.meta.url))

// Runs the fixture, waits for it to say "stored", then kills it with SIGKILL.
const storeInChildAndKill = (url: string, ids: ReadonlyArray<string>) =>
  Effect.async<number | null>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", fixture, url, ...ids], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString("utf8").includes("stored")) child.kill("SIGKILL")
    })
    child.on("exit", (code, signal) => resume(Effect.succeed(signal === "SIGKILL" ? null : code)))
  })

describe("PgOutbox", { timeout: 90_000 }, () => {
  it.live("events stored by a process killed with SIGKILL are delivered by another, once each", () =>
    Effect.gen(function*() {
      const { url } = yield* TestDatabase
      const ids = Array.from({ length: 20 }, () => randomUUID())
      const exit = yield* storeInChildAndKill(url, ids)
      assert.strictEqual(exit, null, "the writer was killed")
      assert.strictEqual(yield* rowsIn(url), 20)
      const hook = yield* receiver
      yield* Effect.scoped(Effect.zipRight(Layer.build(deliverer(url, hook.url)), untilEmpty(url)))
      assert.deepStrictEqual([...hook.counts.keys()].sort(), [...ids].sort())
      assert.deepStrictEqual([...new Set(hook.counts.values())], [1])
    }).pipe(Effect.scoped, Effect.provide(layerTestDatabase)))

  it.live("three deliverers on one table never send an event twice", () =>
    Effect.gen(function*() {
      const { url } = yield* TestDatabase
      const hook = yield* receiver
      const ids = Array.from({ length: 120 }, () => randomUUID())
      yield* Effect.scoped(Effect.gen(function*() {
        const outbox = yield* openOutbox(url)
        yield* outbox.store(ids.map(event))
      }))
      yield* Effect.scoped(
        Effect.zipRight(
          Effect.all([deliverer(url, hook.url), deliverer(url, hook.url), deliverer(url, hook.url)].map(Layer.build), {
            concurrency: "unbounded"
          }),
          untilEmpty(url)
        )
      )
      assert.strictEqual(hook.counts.size, 120)
      assert.deepStrictEqual([...new Set(hook.counts.values())], [1])
    }).pipe(Effect.scoped, Effect.provide(layerTestDatabase)))

  it.live("a claim whose lease ran out is due again; release gives back only the releaser's claims", () =>
    Effect.gen(function*() {
      const { url } = yield* TestDatabase
      const [a, b] = yield* Effect.all([openOutbox(url), openOutbox(url)])
      yield* a.store([event(randomUUID(), 1), event(randomUUID(), 2)])
      const claimedByA = yield* a.claim({ max: 10, lease: Duration.millis(300) })
      assert.strictEqual(claimedByA.length, 2)
      assert.strictEqual((yield* b.claim({ max: 10, lease: Duration.seconds(30) })).length, 0)
      // B cannot give back what A holds.
      yield* b.release(claimedByA.map((e) => e.event.event_id))
      assert.strictEqual((yield* b.claim({ max: 10, lease: Duration.seconds(30) })).length, 0)
      // A "dies": its lease runs out and B gets the events, oldest first, their attempts unchanged.
      yield* Effect.sleep("400 millis")
      const claimedByB = yield* b.claim({ max: 10, lease: Duration.seconds(30) })
      assert.deepStrictEqual(claimedByB.map((e) => e.event.event_id), claimedByA.map((e) => e.event.event_id))
      // A's late release of them changes nothing: they are B's now.
      yield* a.release(claimedByA.map((e) => e.event.event_id))
      assert.strictEqual((yield* a.claim({ max: 10, lease: Duration.seconds(30) })).length, 0)
      yield* b.release([claimedByB[0].event.event_id], { delay: Duration.seconds(60) })
      assert.strictEqual((yield* a.claim({ max: 10, lease: Duration.seconds(30) })).length, 0)
      assert.deepStrictEqual((yield* a.list()).map((e) => e.attempts), [1, 0])
      yield* b.acknowledge(claimedByB.map((e) => e.event.event_id))
      assert.strictEqual(yield* a.count, 0)
    }).pipe(Effect.scoped, Effect.provide(layerTestDatabase)))

  it.live("a store the database refuses waits in memory and is written once the table is back", () =>
    Effect.gen(function*() {
      const { url } = yield* TestDatabase
      const outbox = yield* openOutbox(url)
      const admin = (statement: string) =>
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)).pipe(Effect.provide(clientOf(url, 1)))
      yield* admin("ALTER TABLE webhook_outbox RENAME TO webhook_outbox_away")
      const id = randomUUID()
      yield* outbox.store([event(id, 1)])
      assert.strictEqual(yield* outbox.count, 1, "kept in memory")
      yield* admin("ALTER TABLE webhook_outbox_away RENAME TO webhook_outbox")
      yield* rowsIn(url).pipe(
        Effect.repeat({ until: (n) => n === 1, schedule: Schedule.spaced("50 millis") }),
        Effect.timeout("10 seconds")
      )
      assert.deepStrictEqual((yield* outbox.claim({ max: 5, lease: "30 seconds" })).map((e) => e.event.event_id), [id])
    }).pipe(Effect.scoped, Effect.provide(layerTestDatabase)))
})
