// Against the real Redis on 127.0.0.1:6379 and the simulator's real token endpoint. Every "instance" has its own
// ioredis connection and its own TokenProvider, as separate processes would. Keys live under a prefix of this run,
// removed at the end.
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { TokenProvider, TokenStore } from "@genesys-llm/core"
import { RedisClient, RedisTokenStore } from "@genesys-llm/redis"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { Redis } from "ioredis"
import * as Crypto from "node:crypto"

const url = "redis://127.0.0.1:6379"
const runPrefix = `genesys-llm-test:${Crypto.randomUUID()}:`
let testCount = 0
const freshPrefix = () => `${runPrefix}${++testCount}:`

afterAll(async () => {
  const redis = new Redis(url)
  const keys = await redis.keys(`${runPrefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  await redis.quit()
})

const env = Layer.merge(NodeHttpClient.layerUndici, GatewaySimulator.layer({ tokenLifetimeSeconds: 120 }))

const tokenRequests = Effect.flatMap(
  GatewaySimulator.GatewaySimulator,
  (sim) => Effect.map(sim.control.requests, (rs) => rs.filter((r) => r.path === "/oauth/token").length)
)

// One instance: its own connection, store and provider.
const instance = (options: RedisTokenStore.Options) =>
  Effect.gen(function*() {
    const sim = yield* GatewaySimulator.GatewaySimulator
    const redis = yield* RedisClient.make({ url })
    const store = yield* RedisTokenStore.make(options).pipe(Effect.provideService(RedisClient.RedisClient, redis))
    const provider = yield* TokenProvider.make({
      loginUrl: sim.url,
      clientId: sim.credentials.clientId,
      clientSecret: sim.credentials.clientSecret
    }).pipe(Effect.provideService(TokenStore.TokenStore, store))
    return { redis, store, provider }
  })

const tokenKeyOf = (prefix: string) =>
  Effect.map(
    GatewaySimulator.GatewaySimulator,
    (sim) => RedisTokenStore.tokenKey(prefix, { loginUrl: sim.url, clientId: sim.credentials.clientId })
  )

describe("RedisTokenStore", () => {
  it.scopedLive("five instances asking at once make one token request between them", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const instances = yield* Effect.all(Array.from({ length: 5 }, () => instance({ prefix })))
      const tokens = yield* Effect.all(
        instances.flatMap((i) => [i.provider.get, i.provider.get]),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(new Set(tokens.map(Redacted.value)).size, 1)
      assert.strictEqual(yield* tokenRequests, 1)
    }).pipe(Effect.provide(env)))

  it.scopedLive("the token expires in Redis at its refresh time, before the token does", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const a = yield* instance({ prefix })
      yield* a.provider.get
      const key = yield* tokenKeyOf(prefix)
      const pttl = yield* Effect.promise(() => a.redis.pttl(key))
      // 120 s lifetime, 60 s default skew.
      assert.isTrue(pttl > 50_000 && pttl <= 60_000, `PTTL ${pttl}`)
    }).pipe(Effect.provide(env)))

  it.scopedLive("a 401 seen by one instance drops the token for all; a late 401 for the old token keeps the new", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const a = yield* instance({ prefix })
      const b = yield* instance({ prefix })
      const t1 = yield* a.provider.get
      const bt1 = yield* b.provider.get
      assert.strictEqual(Redacted.value(bt1), Redacted.value(t1))
      yield* a.provider.invalidate(t1)
      const t2 = yield* a.provider.get
      assert.notStrictEqual(Redacted.value(t2), Redacted.value(t1))
      assert.strictEqual(yield* tokenRequests, 2)
      // b is refused with its copy of t1 after a replaced it: b takes t2 from Redis and t2 stays.
      yield* b.provider.invalidate(bt1)
      assert.strictEqual(Redacted.value(yield* b.provider.get), Redacted.value(t2))
      const c = yield* instance({ prefix })
      assert.strictEqual(Redacted.value(yield* c.provider.get), Redacted.value(t2))
      assert.strictEqual(yield* tokenRequests, 2)
    }).pipe(Effect.provide(env)))

  it.scopedLive("a lock left by a dead holder expires, and a waiting instance then fetches", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const key = yield* tokenKeyOf(prefix)
      const a = yield* instance({ prefix, lockTtlMillis: 400, pollMillis: 10 })
      // The lock as an instance that took it and was killed leaves it: owned by someone else, never released.
      yield* Effect.promise(() => a.redis.set(`${key}:lock`, "a dead instance", "PX", 400))
      const token = yield* a.provider.get
      assert.isTrue(Redacted.value(token).length > 0)
      assert.strictEqual(yield* tokenRequests, 1)
      assert.strictEqual(yield* Effect.promise(() => a.redis.exists(`${key}:lock`)), 0)
    }).pipe(Effect.provide(env)))

  it.scopedLive("a lock that outlives maxWaitMillis ends the wait with TokenRequestFailed (timeout)", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const key = yield* tokenKeyOf(prefix)
      const a = yield* instance({ prefix, maxWaitMillis: 200, pollMillis: 10 })
      yield* Effect.promise(() => a.redis.set(`${key}:lock`, "a slow instance", "PX", 10_000))
      const exit = yield* Effect.exit(a.provider.get)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.include(String(exit.cause), "TokenRequestFailed")
      assert.strictEqual(yield* tokenRequests, 0)
    }).pipe(Effect.provide(env)))

  it.scopedLive("with an encryption key, Redis holds no trace of the token, and another key cannot read it", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const key = yield* tokenKeyOf(prefix)
      const encryptionKey = Redacted.make(Crypto.randomBytes(32).toString("base64"))
      const a = yield* instance({ prefix, encryptionKey })
      const b = yield* instance({ prefix, encryptionKey })
      const token = Redacted.value(yield* a.provider.get)
      const raw = (yield* Effect.promise(() => a.redis.get(key))) ?? ""
      assert.isTrue(raw.length > token.length)
      assert.notInclude(raw, token)
      assert.notInclude(raw, Buffer.from(token).toString("base64"))
      assert.strictEqual(Redacted.value(yield* b.provider.get), token)
      assert.strictEqual(yield* tokenRequests, 1)
      // A key of its own: the value is unreadable, so this instance fetches and replaces it.
      const other = yield* instance({ prefix, encryptionKey: Redacted.make(Crypto.randomBytes(32).toString("hex")) })
      yield* other.provider.get
      assert.strictEqual(yield* tokenRequests, 2)
      // And a 401 to the encrypted token still drops it, by its fingerprint.
      const c = yield* instance({ prefix, encryptionKey: Redacted.make("00".repeat(32)) })
      const t = yield* c.provider.get
      yield* c.provider.invalidate(t)
      assert.strictEqual(yield* Effect.promise(() => a.redis.exists(key)), 0)
    }).pipe(Effect.provide(env)))

  it.scopedLive("without an encryption key the value holds the token in the clear (what the key protects)", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const a = yield* instance({ prefix })
      const token = Redacted.value(yield* a.provider.get)
      const key = yield* tokenKeyOf(prefix)
      assert.include((yield* Effect.promise(() => a.redis.get(key))) ?? "", token)
      // Neither the client id nor the secret appears in the key.
      const sim = yield* GatewaySimulator.GatewaySimulator
      assert.notInclude(key, sim.credentials.clientId)
      assert.notInclude(key, Redacted.value(sim.credentials.clientSecret))
    }).pipe(Effect.provide(env)))

  it.effect("an encryption key that is not 32 bytes is InvalidRedisSetting naming the setting", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        RedisTokenStore.make({ encryptionKey: Redacted.make("too short") }).pipe(
          Effect.provideService(RedisClient.RedisClient, new Redis({ lazyConnect: true }))
        )
      )
      assert.strictEqual(error._tag, "InvalidRedisSetting")
      assert.include(error.message, "GENESYS_LLM_REDIS_TOKEN_KEY")
      assert.notInclude(error.message, "too short")
    }))

  it.scopedLive("Redis lost while running: the provider fetches the token itself and the call still gets one", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const a = yield* instance({ prefix })
      a.redis.disconnect()
      const token = yield* a.provider.get
      assert.isTrue(Redacted.value(token).length > 0)
      yield* a.provider.invalidate(token)
      assert.isTrue(Redacted.value(yield* a.provider.get).length > 0)
      assert.strictEqual(yield* tokenRequests, 2)
    }).pipe(Effect.provide(env)))
})
