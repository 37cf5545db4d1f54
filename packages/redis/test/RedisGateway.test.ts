// The token cache through the real gateway path: two instances (own Redis connection, own TokenProvider, own
// Gateway) against the simulator, whose `expireToken` fault makes the token of a request unusable and answers 401.
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Gateway, type Prompt, TokenProvider, TokenStore } from "@genesys-llm/core"
import { RedisClient, RedisTokenStore } from "@genesys-llm/redis"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Redis } from "ioredis"
import * as Crypto from "node:crypto"

const url = "redis://127.0.0.1:6379"
const prefix = `genesys-llm-test:${Crypto.randomUUID()}:`

afterAll(async () => {
  const redis = new Redis(url)
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  await redis.quit()
})

const payload: Prompt.PromptPayload = {
  systemInstructions: [],
  context: [{ role: "user", content: "Where is my parcel?" }],
  temperature: 0.2,
  maxTokens: 64,
  modelId: "m"
}

const instance = Effect.gen(function*() {
  const sim = yield* GatewaySimulator.GatewaySimulator
  const redis = yield* RedisClient.make({ url })
  const store = yield* RedisTokenStore.make({ prefix }).pipe(Effect.provideService(RedisClient.RedisClient, redis))
  const tokens = yield* TokenProvider.make({
    loginUrl: sim.url,
    clientId: sim.credentials.clientId,
    clientSecret: sim.credentials.clientSecret
  }).pipe(Effect.provideService(TokenStore.TokenStore, store))
  const gateway = yield* Gateway.make({ apiUrl: sim.url, maxLatencyMillis: 10_000 }).pipe(
    Effect.provideService(TokenProvider.TokenProvider, tokens)
  )
  // One logical call per run: a key of its own each time.
  return Effect.suspend(() => Gateway.complete({ payload, idempotencyKey: `llm-gw-${Crypto.randomUUID()}` })).pipe(
    Effect.provideService(Gateway.Gateway, gateway)
  )
})

const tokenRequests = Effect.flatMap(
  GatewaySimulator.GatewaySimulator,
  (sim) => Effect.map(sim.control.requests, (rs) => rs.filter((r) => r.path === "/oauth/token").length)
)

describe("RedisTokenStore through the gateway", () => {
  it.scopedLive("a token expired by the server is replaced once for both instances", () =>
    Effect.gen(function*() {
      const sim = yield* GatewaySimulator.GatewaySimulator
      const a = yield* instance
      const b = yield* instance
      yield* a
      yield* b
      assert.strictEqual(yield* tokenRequests, 1)
      // The next request's token is expired by the server: a gets a 401, drops it from Redis, fetches a new one.
      yield* sim.control.enqueue({ kind: "expireToken" })
      const retried = yield* a
      assert.strictEqual(retried.attempts, 2)
      assert.strictEqual(yield* tokenRequests, 2)
      // b still holds the expired token: its 401 leaves a's new token in Redis, and b takes it from there.
      const fromRedis = yield* b
      assert.strictEqual(fromRedis.attempts, 2)
      assert.strictEqual(yield* tokenRequests, 2)
      const statuses = yield* Effect.map(sim.control.requests, (rs) => rs.filter((r) => r.status === 401).length)
      assert.strictEqual(statuses, 2)
    }).pipe(Effect.provide(Layer.merge(NodeHttpClient.layerUndici, GatewaySimulator.layer({ replyText: "ok" })))))
})
