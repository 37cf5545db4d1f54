// Starting the shared layers from the environment, against the real Redis on 127.0.0.1:6379 and a closed port.
import * as RateLimiter from "@effect/experimental/RateLimiter"
import { assert, describe, it } from "@effect/vitest"
import { RateBlock, TokenStore } from "@genesys-llm/core"
import { RedisLayers } from "@genesys-llm/redis"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Net from "node:net"

const withEnv = (env: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const start = (env: Record<string, string>) =>
  Effect.scoped(Layer.build(RedisLayers.layerConfig({ connectTimeoutMillis: 2_000 }).pipe(Layer.provide(withEnv(env)))))

// A port nothing listens on: bound, then closed.
const closedPort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

describe("RedisLayers", () => {
  it.live("GENESYS_LLM_REDIS_URL set: the token store, the permit counters and the block store", () =>
    Effect.gen(function*() {
      const context = yield* start({
        GENESYS_LLM_REDIS_URL: "redis://127.0.0.1:6379",
        GENESYS_LLM_REDIS_PREFIX: "genesys-llm-test:layers:"
      })
      assert.isTrue(context.unsafeMap.has(TokenStore.TokenStore.key))
      assert.isTrue(context.unsafeMap.has(RateLimiter.RateLimiterStore.key))
      assert.isTrue(context.unsafeMap.has(RateBlock.RateBlock.key))
    }))

  it.live("Redis unreachable at start: RedisUnavailable naming the setting and the address, not the password", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const error = yield* Effect.flip(start({ GENESYS_LLM_REDIS_URL: `redis://app:hunter2@127.0.0.1:${port}/2` }))
      assert.strictEqual(error._tag, "RedisUnavailable")
      assert.include(error.message, "GENESYS_LLM_REDIS_URL")
      assert.include(error.message, `redis://127.0.0.1:${port}/2`)
      assert.include(error.message, "ECONNREFUSED")
      assert.notInclude(error.message, "hunter2")
      assert.notInclude(JSON.stringify(error), "hunter2")
    }))

  it.live("a URL that is not redis:// is InvalidRedisSetting naming the setting", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(start({ GENESYS_LLM_REDIS_URL: "http://127.0.0.1:6379" }))
      assert.strictEqual(error._tag, "InvalidRedisSetting")
      assert.include(error.message, "GENESYS_LLM_REDIS_URL")
      const bad = yield* Effect.flip(start({ GENESYS_LLM_REDIS_URL: "not a url" }))
      assert.strictEqual(bad._tag, "InvalidRedisSetting")
    }))

  it.live("GENESYS_LLM_REDIS_URL missing: a ConfigError naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(start({}))
      assert.include(String(error), "GENESYS_LLM_REDIS_URL")
    }))

  it.live("a malformed token key is InvalidRedisSetting naming GENESYS_LLM_REDIS_TOKEN_KEY, without its value", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        start({ GENESYS_LLM_REDIS_URL: "redis://127.0.0.1:6379", GENESYS_LLM_REDIS_TOKEN_KEY: "short-key-value" })
      )
      assert.include(error.message, "GENESYS_LLM_REDIS_TOKEN_KEY")
      assert.notInclude(error.message, "short-key-value")
    }))
})
