// Three `genesys-llm serve` processes behind one address book, sharing one Redis (the token, the rate budget and
// its 429 block) and one PostgreSQL database (the audit chain and the webhook outbox), against a simulator that
// allows 60 chat requests a minute and paces its frames (an answer takes about 2 s). One instance is killed with
// SIGKILL halfway through its own calls. What the fleet must keep
// together: one token request in all, at most 3 of the simulator's 429s, no call ending in error on the instances
// that stay up, one intact audit chain with exactly one entry per answered call, and every accepted entry's
// webhook event delivered exactly once, even the killed instance's.
import { assert, describe, it } from "@effect/vitest"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import type * as Net from "node:net"
import { cli, liveSleep, start, type Started, stop } from "./utils.js"

const CALLS = 90
const INSTANCES = 3
const KILLED = 2
const API_KEY = "fleet-test-key-0123456789"
const clientId = "fleet-client"
const clientSecret = "fleet-secret"

const runId = Crypto.randomBytes(6).toString("hex")
const database = `genesys_llm_fleet_${runId}`
const databaseUrl = `postgres://root@127.0.0.1:5432/${database}`
const redisPrefix = `genesys-llm-fleet-${runId}:`

// The test's own setup and teardown of the two servers, with their own command-line clients.
const psql = (sql: string, db = "postgres"): string =>
  ChildProcess.execFileSync("psql", [
    "-h",
    "127.0.0.1",
    "-U",
    "root",
    "-d",
    db,
    "-tAq",
    "-v",
    "ON_ERROR_STOP=1",
    "-c",
    sql
  ], {
    encoding: "utf8"
  }).trim()

const dropRedisKeys = (): void => {
  const keys = ChildProcess.execFileSync("redis-cli", ["-h", "127.0.0.1", "--scan", "--pattern", `${redisPrefix}*`], {
    encoding: "utf8"
  }).split("\n").filter((key) => key.length > 0)
  if (keys.length > 0) ChildProcess.execFileSync("redis-cli", ["-h", "127.0.0.1", "del", ...keys])
}

const scratch = Effect.acquireRelease(
  Effect.sync(() => psql(`CREATE DATABASE ${database}`)),
  () =>
    Effect.sync(() => {
      psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
      dropRedisKeys()
    })
)

interface Receiver {
  readonly url: string
  /** Deliveries by event_id. */
  readonly seen: Map<string, number>
  /** The ids first delivered before the kill was marked. */
  readonly beforeKill: Set<string>
  readonly markKilled: () => void
  readonly server: Http.Server
}

// A webhook receiver on loopback that acknowledges every event and counts them by event_id.
const receiver = Effect.acquireRelease(
  Effect.async<Receiver>((resume) => {
    const seen = new Map<string, number>()
    const beforeKill = new Set<string>()
    let killed = false
    const server = Http.createServer((request, response) => {
      let body = ""
      request.setEncoding("utf8")
      request.on("data", (data: string) => (body += data))
      request.on("end", () => {
        let id: string
        try {
          id = (JSON.parse(body) as { readonly event_id: string }).event_id
        } catch {
          return void response.writeHead(400).end()
        }
        seen.set(id, (seen.get(id) ?? 0) + 1)
        if (!killed) beforeKill.add(id)
        response.writeHead(200).end()
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as Net.AddressInfo).port
      const markKilled = () => {
        killed = true
      }
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}/events`, seen, beforeKill, markKilled, server }))
    })
  }),
  ({ server }) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
)

interface Answer {
  readonly instance: number
  readonly status: number | "refused"
  readonly body: { readonly status?: string; readonly idempotencyKey?: string } | undefined
}

// One Data Action call to an instance; a connection the killed instance breaks is `refused`.
const reply = (url: string, instance: number, i: number) =>
  Effect.tryPromise(async (): Promise<Answer> => {
    const response = await fetch(`${url}/data-action/reply`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": API_KEY },
      body: JSON.stringify({ conversationId: `fleet-${runId}-${i}`, turn: 0, customerMessage: `Where is parcel ${i}?` })
    })
    const text = await response.text()
    return { instance, status: response.status, body: text.length > 0 ? JSON.parse(text) : undefined }
  }).pipe(Effect.orElseSucceed((): Answer => ({ instance, status: "refused", body: undefined })))

describe("a fleet of serve processes on one Redis and one PostgreSQL", () => {
  it.live(
    "90 calls over three instances keep one token, one budget, one chain and one outbox",
    () =>
      Effect.gen(function*() {
        yield* scratch
        const webhook = yield* receiver
        const simulator = yield* GatewaySimulator.make({ clientId, clientSecret, requestsPerMinute: 60, paceMs: 100 })
        const env = {
          GENESYS_CLIENT_ID: clientId,
          GENESYS_CLIENT_SECRET: clientSecret,
          GENESYS_LLM_REDIS_PREFIX: redisPrefix,
          // The whole call may last as long as the wait for the next minute's permits and an answer.
          LLM_CALL_TIMEOUT_MS: "180000"
        }
        const instances: Array<Started> = []
        for (let n = 0; n < INSTANCES; n++) {
          instances.push(
            yield* start([
              "serve",
              "--port",
              "0",
              "--api-key",
              API_KEY,
              "--api-url",
              simulator.url,
              "--login-url",
              simulator.url,
              "--webhook",
              webhook.url,
              "--max-latency",
              "120000",
              "--redis-url",
              "redis://127.0.0.1:6379",
              "--database-url",
              databaseUrl
            ], { env, timeout: Duration.seconds(60) })
          )
        }
        const urls = instances.map((instance) => instance.stdout.split("\n")[0]!.trim())

        let killedAfter = -1
        const done: Array<number> = []
        const answersOf = (instance: number) => done.filter((n) => n === instance).length
        const answers = yield* Effect.forEach(
          Array.from({ length: CALLS }, (_, i) => i),
          (i) =>
            Effect.tap(reply(urls[i % INSTANCES]!, i % INSTANCES, i), (answer) =>
              Effect.suspend(() => {
                done.push(answer.instance)
                // Halfway through its own calls, one instance dies with the rest in flight (waiting for a permit or
                // streaming), without a chance to flush anything.
                if (answer.instance !== KILLED || answersOf(KILLED) !== CALLS / INSTANCES / 2) return Effect.void
                killedAfter = answersOf(KILLED)
                return Effect.asVoid(stop(instances[KILLED]!.child, "SIGKILL")).pipe(Effect.tap(webhook.markKilled))
              })),
          { concurrency: "unbounded" }
        )

        const survivors = answers.filter((answer) => answer.instance !== KILLED)
        const bad = survivors.filter((answer) => answer.status !== 200 || answer.body?.status !== "success")
        assert.deepStrictEqual(bad, [], "every call to an instance that stayed up succeeds")
        const answered = answers.filter((answer) => answer.status === 200)
        assert.strictEqual(killedAfter, CALLS / INSTANCES / 2, "one instance was killed halfway through its calls")
        assert.isTrue(
          answers.some((answer) => answer.instance === KILLED && answer.status === "refused"),
          "the killed instance had calls in flight"
        )

        const requests = yield* simulator.control.requests
        const tokenRequests = requests.filter((r) => r.path.startsWith("/oauth/token")).length
        const throttled = requests.filter((r) => r.status === 429).length
        assert.strictEqual(tokenRequests, 1, "one token for the whole fleet")
        assert.isAtMost(throttled, 3, "the fleet keeps to the gateway's limit together")

        // The chain: intact, and one entry per answered call (a killed call may have left one too).
        const verified = yield* cli(["audit", "verify", "--database-url", databaseUrl])
        assert.strictEqual(verified.code, 0, verified.stdout + verified.stderr)
        const rows = Number(psql("SELECT count(*) FROM audit_entries", database))
        const keys = psql("SELECT count(DISTINCT line::jsonb->>'idempotencyKey') FROM audit_entries", database)
        assert.strictEqual(Number(keys), rows, "no call has two entries")
        assert.isAtMost(rows, CALLS)
        const audited = new Set(psql("SELECT line::jsonb->>'idempotencyKey' FROM audit_entries", database).split("\n"))
        const unaudited = answered.filter((answer) => !audited.has(answer.body?.idempotencyKey ?? ""))
        assert.deepStrictEqual(unaudited, [], "every answered call is in the chain")

        // Every accepted entry's event reaches the receiver once, delivered by the instances still up.
        for (let waited = 0; webhook.seen.size < rows && waited < 60_000; waited += 250) yield* liveSleep(250)
        const twice = [...webhook.seen].filter(([, count]) => count > 1).map(([id]) => id)
        assert.strictEqual(webhook.seen.size, rows, "an event for every audit entry")
        // Delivery is at least once: an event the receiver took just as its instance died (before the outbox row
        // was deleted) comes again from another instance once the lease runs out. Any other event comes once.
        const duplicates = twice.filter((id) => !webhook.beforeKill.has(id)).length
        assert.strictEqual(duplicates, 0, "no event sent twice but one taken as its instance died")

        yield* Effect.logInfo("fleet figures").pipe(Effect.annotateLogs({
          tokenRequests,
          chatRequests: requests.filter((r) => r.path.includes("/chat")).length,
          throttled,
          answered: answered.length,
          refused: answers.filter((answer) => answer.status === "refused").length,
          auditRows: rows,
          events: webhook.seen.size,
          duplicates,
          redeliveredAfterKill: twice.length - duplicates,
          killedInstanceAnsweredBeforeKill: killedAfter,
          killedInstanceCalls: answers.filter((answer) => answer.instance === KILLED).map((a) => a.status).join(" ")
        }))
      }).pipe(Effect.scoped),
    { timeout: 300_000 }
  )
})
