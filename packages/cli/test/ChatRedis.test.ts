// `chat --redis-url`: processes of the command share one token through the real Redis on 127.0.0.1:6379 (keys
// under a prefix of this run, removed at the end); an unreachable Redis is a clear failure naming the setting.
import { afterAll, assert, describe, it } from "@effect/vitest"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { Redis } from "ioredis"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { cli } from "./utils.js"

const prefix = `genesys-llm-test:${Crypto.randomUUID()}:`
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "genesys-llm-chat-redis-"))

afterAll(async () => {
  const redis = new Redis("redis://127.0.0.1:6379")
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  await redis.quit()
  Fs.rmSync(dir, { recursive: true, force: true })
})

const closedPort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

const chat = (simulator: GatewaySimulator.Service, n: number, extra: ReadonlyArray<string>, env = {}) => {
  const audit = Path.join(dir, `audit-${n}.log`)
  return cli([
    "chat",
    "--model",
    "m",
    "--user",
    "hi",
    "--json",
    "--api-url",
    simulator.url,
    "--audit-log",
    audit,
    ...extra
  ], {
    env: {
      GENESYS_CLIENT_ID: simulator.credentials.clientId,
      GENESYS_CLIENT_SECRET: Redacted.value(simulator.credentials.clientSecret),
      GENESYS_LLM_REDIS_PREFIX: prefix,
      ...env
    }
  })
}

const tokenRequests = (simulator: GatewaySimulator.Service) =>
  Effect.map(simulator.control.requests, (records) => records.filter((r) => r.path === "/oauth/token").length)

describe("chat --redis-url", () => {
  it.scopedLive("three chat processes at once make one token request between them", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make({ replyText: "ok" })
      const runs = yield* Effect.all(
        [1, 2, 3].map((n) => chat(simulator, n, ["--redis-url", "redis://127.0.0.1:6379"])),
        { concurrency: 3 }
      )
      for (const ran of runs) {
        assert.strictEqual(ran.code, 0, ran.stderr)
        assert.strictEqual((JSON.parse(ran.stdout) as { status: string }).status, "success")
      }
      assert.strictEqual(yield* tokenRequests(simulator), 1)
      // The same from GENESYS_LLM_REDIS_URL: the token is still in Redis, so no request at all.
      const fromEnv = yield* chat(simulator, 4, [], { GENESYS_LLM_REDIS_URL: "redis://127.0.0.1:6379" })
      assert.strictEqual(fromEnv.code, 0, fromEnv.stderr)
      assert.strictEqual(yield* tokenRequests(simulator), 1)
    }))

  it.scopedLive("chat processes take their permits from one rate budget", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make({ replyText: "ok" })
      const env = { LLM_RATE_LIMIT_PER_MINUTE: "2", GENESYS_LLM_REDIS_PREFIX: `${prefix}budget:` }
      const statuses: Array<string> = []
      for (const n of [7, 8, 9]) {
        const ran = yield* chat(simulator, n, ["--redis-url", "redis://127.0.0.1:6379", "--max-latency", "1500"], env)
        assert.strictEqual(ran.code, 0, ran.stderr)
        const summary = JSON.parse(ran.stdout) as { status: string; fallbackReason?: string }
        statuses.push(
          summary.fallbackReason === undefined ? summary.status : `${summary.status} ${summary.fallbackReason}`
        )
      }
      // Each process alone would have had two permits; together they had two.
      assert.deepStrictEqual(statuses, ["success", "success", "fallback rate-limited"])
      const chats = yield* Effect.map(simulator.control.requests, (rs) => rs.filter((r) => r.path !== "/oauth/token"))
      assert.strictEqual(chats.length, 2)
    }))

  it.scopedLive("an unreachable Redis at start: exit 1 naming the flag or the variable, never the password", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make({ replyText: "ok" })
      const port = yield* closedPort
      const byFlag = yield* chat(simulator, 5, ["--redis-url", `redis://app:hunter2@127.0.0.1:${port}`])
      assert.strictEqual(byFlag.code, 1)
      const summary = JSON.parse(byFlag.stdout) as { error: { tag: string; message: string } }
      assert.strictEqual(summary.error.tag, "RedisUnavailable")
      assert.include(summary.error.message, "--redis-url")
      assert.include(summary.error.message, `127.0.0.1:${port}`)
      assert.notInclude(byFlag.stdout + byFlag.stderr, "hunter2")
      const byEnv = yield* chat(simulator, 6, [], { GENESYS_LLM_REDIS_URL: `redis://127.0.0.1:${port}` })
      assert.strictEqual(byEnv.code, 1)
      assert.include(byEnv.stdout, "GENESYS_LLM_REDIS_URL")
      assert.strictEqual(yield* tokenRequests(simulator), 0)
    }))
})
