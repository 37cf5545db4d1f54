// The rate budget's stores against the real Redis on 127.0.0.1:6379: two "instances", each with its own
// connections and its own RateBudget, share one budget and one 429 block. Keys under a prefix of this run, removed.
import * as RateLimiter from "@effect/experimental/RateLimiter"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { RateBlock, RateBudget } from "@genesys-llm/core"
import { RedisClient, RedisRateBlock, RedisRateLimiterStore } from "@genesys-llm/redis"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { Redis } from "ioredis"
import * as Crypto from "node:crypto"
import * as Net from "node:net"

const url = "redis://127.0.0.1:6379"
const prefix = `genesys-llm-test:${Crypto.randomUUID()}:`

afterAll(async () => {
  const redis = new Redis(url)
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  await redis.quit()
})

// One instance's budget and block store, over connections of its own.
const instance = (rateLimitPerMinute: number) =>
  Effect.gen(function*() {
    const redis = yield* RedisClient.make({ url })
    const context = yield* Layer.build(
      // The store is what is tested here, not the wait for a first answer (RateBudget.test.ts).
      RateBudget.layer({ rateLimitPerMinute, learnBeforeBurst: false }).pipe(
        Layer.provideMerge(Layer.merge(
          RedisRateLimiterStore.layer({ url, prefix }),
          RedisRateBlock.layer({ prefix }).pipe(Layer.provide(Layer.succeed(RedisClient.RedisClient, redis)))
        )),
        Layer.orDie
      )
    )
    return {
      redis,
      budget: Context.get(context, RateBudget.RateBudget),
      blocks: Context.get(context, RateBlock.RateBlock)
    }
  })

const takeNow = (budget: RateBudget.Service, key: string) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => budget.take(key, now))

const quiet = Logger.minimumLogLevel(LogLevel.Error)

describe("RedisRateLimiterStore and RedisRateBlock", () => {
  it.scopedLive("two instances take their permits from one budget", () =>
    Effect.gen(function*() {
      const key = Crypto.randomUUID()
      const a = yield* Effect.map(instance(5), (i) => i.budget)
      const b = yield* Effect.map(instance(5), (i) => i.budget)
      const taken = yield* Effect.all([
        takeNow(a, key),
        takeNow(b, key),
        takeNow(a, key),
        takeNow(b, key),
        takeNow(a, key)
      ])
      assert.deepStrictEqual(taken, [true, true, true, true, true])
      // The sixth permit of the minute is refused to both (each alone would have had five).
      assert.isFalse(yield* takeNow(a, key))
      assert.isFalse(yield* takeNow(b, key))
      // Another client's budget is its own.
      assert.isTrue(yield* takeNow(b, Crypto.randomUUID()))
    }))

  it.scopedLive("a Retry-After seen by one instance blocks the other", () =>
    Effect.gen(function*() {
      const key = Crypto.randomUUID()
      const a = yield* instance(300)
      const b = yield* instance(300)
      const budgetA = a.budget
      const budgetB = b.budget
      assert.isTrue(yield* takeNow(budgetB, key))
      yield* budgetA.learn(key, { status: 429, retryAfterMillis: 5_000 })
      const blocksB = b.blocks
      const left = yield* blocksB.remaining(key)
      assert.isTrue(left > 4_000 && left <= 5_000, `remaining ${left}`)
      // b's call whose deadline ends within the block is refused without waiting.
      const now = yield* Clock.currentTimeMillis
      assert.isFalse(yield* budgetB.take(key, now + 1_000))
    }))

  it.scopedLive("a block only grows: a shorter block does not shorten a longer one", () =>
    Effect.gen(function*() {
      const key = Crypto.randomUUID()
      const a = yield* Effect.map(instance(300), (i) => i.blocks)
      const b = yield* Effect.map(instance(300), (i) => i.blocks)
      yield* a.block(key, 20_000)
      yield* b.block(key, 1_000)
      assert.isTrue((yield* a.remaining(key)) > 15_000)
      yield* b.block(key, 40_000)
      assert.isTrue((yield* a.remaining(key)) > 30_000)
      yield* a.block(key, 0)
      assert.strictEqual(yield* a.remaining(Crypto.randomUUID()), 0)
    }))

  it.scopedLive("the client id is hashed into the Redis keys", () =>
    Effect.gen(function*() {
      const key = `client-${Crypto.randomUUID()}`
      const a = yield* instance(300)
      yield* takeNow(a.budget, key)
      yield* a.blocks.block(key, 5_000)
      const keys = yield* Effect.promise(() => a.redis.keys(`${prefix}*`))
      assert.isTrue(keys.some((k) => k.startsWith(`${prefix}ratelimit:`)))
      assert.isTrue(keys.includes(RedisRateBlock.blockKey(prefix, key)))
      assert.isFalse(keys.some((k) => k.includes(key)))
    }))

  it.scopedLive("Redis lost while running: the block store keeps this instance's blocks and answers", () =>
    Effect.gen(function*() {
      const key = Crypto.randomUUID()
      const a = yield* instance(300)
      const blocks = a.blocks
      yield* blocks.block(key, 5_000)
      a.redis.disconnect()
      assert.isTrue((yield* blocks.remaining(key)) > 4_000)
      yield* blocks.block(key, 10_000)
      assert.isTrue((yield* blocks.remaining(key)) > 9_000)
      assert.strictEqual(yield* blocks.remaining(Crypto.randomUUID()), 0)
    }).pipe(Effect.provide(quiet)))

  it.scopedLive("Redis unreachable: the permit counters fall back to this instance's own budget", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const store = yield* RedisRateLimiterStore.make({ url: `redis://127.0.0.1:${port}`, commandTimeoutMillis: 200 })
      const limiter = yield* RateLimiter.make.pipe(Effect.provideService(RateLimiter.RateLimiterStore, store))
      const consume = limiter.consume({
        algorithm: "fixed-window",
        onExceeded: "fail",
        window: "1 minute",
        limit: 2,
        key: "client"
      })
      yield* consume
      yield* consume
      const third = yield* Effect.flip(consume)
      assert.strictEqual(third.reason, "Exceeded")
    }).pipe(Effect.provide(quiet)))
})

// A port nothing listens on: bound, then closed.
const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})
