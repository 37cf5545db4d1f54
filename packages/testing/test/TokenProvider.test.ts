import { assert, describe, it } from "@effect/vitest"
import { TokenProvider, TokenStore } from "@genesys-llm/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as TestHttpClient from "../src/TestHttpClient.js"
import { secret, tokenPath, tokenReply } from "./gatewayHelpers.js"

const provider = (handler: TestHttpClient.Handler, options: Partial<TokenProvider.Options> = {}) =>
  TokenProvider.layer({
    loginUrl: "https://login.example.test/",
    clientId: "client id",
    clientSecret: Redacted.make(secret),
    ...options
  }).pipe(Layer.provideMerge(TestHttpClient.layer(TestHttpClient.byPath({ [tokenPath]: handler }))))

const missing = Symbol("missing")

// tok-1, tok-2, ... with the given expires_in (absent for `missing`).
const counting = (expiresIn: unknown = 3600, delayMillis = 0): TestHttpClient.Handler => {
  let n = 0
  return () =>
    Effect.sync(() =>
      TestHttpClient.response(
        200,
        [
          TestHttpClient.bytes(JSON.stringify({
            access_token: `tok-${++n}`,
            token_type: "bearer",
            ...(expiresIn === missing ? {} : { expires_in: expiresIn })
          }))
        ],
        { "content-type": "application/json" },
        delayMillis
      )
    )
}

const get = Effect.flatMap(TokenProvider.TokenProvider, (p) => p.get)
const value = Effect.map(get, Redacted.value)
const requests = Effect.flatMap(TestHttpClient.TestHttpClient, (r) => r.requests)

describe("TokenProvider", () => {
  it.effect("POSTs client credentials with Basic auth of the form-url-encoded id and secret", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* value, "tok-1")
      const [sent] = yield* requests
      assert.strictEqual(sent.method, "POST")
      assert.strictEqual(sent.url, "https://login.example.test/oauth/token")
      assert.strictEqual(sent.bodyText, "grant_type=client_credentials")
      assert.strictEqual(sent.headers["content-type"], "application/x-www-form-urlencoded")
      const basic = sent.headers["authorization"]
      assert.isTrue(basic.startsWith("Basic "))
      const decoded = Either.getOrThrow(Encoding.decodeBase64String(basic.slice(6)))
      // RFC 6749 2.3.1: space is "+", and "+", "%", ":", "/" and non-ASCII are percent-encoded.
      assert.strictEqual(decoded, "client+id:s3cret%2B%25%3A%2F+%C3%A9")
    }).pipe(Effect.provide(provider(counting()))))

  it("form-url-encodes like application/x-www-form-urlencoded", () => {
    assert.strictEqual(TokenProvider.formUrlEncode("a b+c%d:e~!*()'.-_"), "a+b%2Bc%25d%3Ae%7E%21*%28%29%27.-_")
    const header = Redacted.value(TokenProvider.basicAuthorization("id", Redacted.make("p:w")))
    assert.strictEqual(header, `Basic ${Encoding.encodeBase64("id:p%3Aw")}`)
  })

  it.effect("caches the token until expires_in minus the skew", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* value, "tok-1")
      yield* TestClock.adjust("59999 millis")
      assert.strictEqual(yield* value, "tok-1")
      assert.strictEqual((yield* requests).length, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* value, "tok-2")
      assert.deepStrictEqual((yield* requests).map((r) => r.at), [0, 60_000])
    }).pipe(Effect.provide(provider(counting(120), { refreshSkewMillis: 60_000 }))))

  it.effect("a token shorter-lived than twice the skew is reused for half its lifetime", () =>
    Effect.gen(function*() {
      yield* value
      yield* TestClock.adjust("4999 millis")
      assert.strictEqual(yield* value, "tok-1")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* value, "tok-2")
    }).pipe(Effect.provide(provider(counting(10)))))

  it.effect("accepts expires_in as a numeric string", () =>
    Effect.gen(function*() {
      yield* value
      yield* value
      assert.strictEqual((yield* requests).length, 1)
    }).pipe(Effect.provide(provider(counting("3600")))))

  for (const expiresIn of [missing, 0, -5, "soon", null, Number.NaN]) {
    it.effect(`does not cache a token whose expires_in is ${String(expiresIn)}`, () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* value, "tok-1")
        assert.strictEqual(yield* value, "tok-2")
        assert.strictEqual((yield* requests).length, 2)
      }).pipe(Effect.provide(provider(counting(expiresIn)))))
  }

  it.effect("50 concurrent callers on an empty cache share exactly one token request", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(
        Effect.all(Array.from({ length: 50 }, () => value), { concurrency: "unbounded" })
      )
      yield* TestClock.adjust("1 second")
      const tokens = yield* Fiber.join(fiber)
      assert.deepStrictEqual(new Set(tokens), new Set(["tok-1"]))
      assert.strictEqual((yield* requests).length, 1)
    }).pipe(Effect.provide(provider(counting(3600, 200)))))

  it.effect("a caller interrupted while waiting does not cancel the fetch for the others", () =>
    Effect.gen(function*() {
      const first = yield* Effect.fork(value)
      const second = yield* Effect.fork(value)
      yield* TestClock.adjust("100 millis")
      yield* Fiber.interrupt(first)
      yield* TestClock.adjust("200 millis")
      assert.strictEqual(yield* Fiber.join(second), "tok-1")
      assert.strictEqual((yield* requests).length, 1)
    }).pipe(Effect.provide(provider(counting(3600, 200)))))

  it.effect("a failed fetch is not cached: its waiters get the error, the next caller fetches again", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.fork(Effect.all([Effect.either(get), Effect.either(get)], { concurrency: 2 }))
      yield* TestClock.adjust("1 second")
      const [a, b] = yield* Fiber.join(failed)
      assert.isTrue(Either.isLeft(a) && Either.isLeft(b))
      if (Either.isLeft(a)) {
        assert.strictEqual(a.left._tag, "TokenRequestFailed")
        assert.include(a.left.message, "HTTP 503")
      }
      assert.strictEqual((yield* requests).length, 1)
      assert.strictEqual(yield* value, "tok-ok")
      assert.strictEqual((yield* requests).length, 2)
    }).pipe(Effect.provide(provider(TestHttpClient.sequence(
      TestHttpClient.response(503, [TestHttpClient.bytes("{\"message\":\"down\"}")], {}, 100),
      tokenReply("tok-ok")
    )))))

  it.effect("invalidate drops the token it is given, and only that one", () =>
    Effect.gen(function*() {
      const p = yield* TokenProvider.TokenProvider
      const t1 = yield* p.get
      yield* p.invalidate(t1)
      const t2 = yield* p.get
      assert.strictEqual(Redacted.value(t2), "tok-2")
      // A late invalidation of the old token leaves the newer one in place.
      yield* p.invalidate(t1)
      assert.strictEqual(yield* p.get, t2)
      // Even an equal string in another Redacted is not the cached token.
      yield* p.invalidate(Redacted.make("tok-2"))
      assert.strictEqual(yield* p.get, t2)
      assert.strictEqual((yield* requests).length, 2)
    }).pipe(Effect.provide(provider(counting()))))

  it.effect("an invalidation during a fetch does not cancel or overwrite that fetch", () =>
    Effect.gen(function*() {
      const p = yield* TokenProvider.TokenProvider
      const initial = yield* Effect.fork(p.get)
      yield* TestClock.adjust("100 millis")
      const t1 = yield* Fiber.join(initial)
      yield* TestClock.adjust("3600 seconds")
      // t1 is past its refresh time: a new fetch starts, and a caller that saw t1 invalidates it meanwhile.
      const fiber = yield* Effect.fork(p.get)
      yield* TestClock.adjust("50 millis")
      yield* p.invalidate(t1)
      yield* TestClock.adjust("200 millis")
      const t2 = yield* Fiber.join(fiber)
      assert.strictEqual(Redacted.value(t2), "tok-2")
      assert.strictEqual(yield* p.get, t2)
      assert.strictEqual((yield* requests).length, 2)
    }).pipe(Effect.provide(provider(counting(3600, 100)))))

  it.effect("wrong credentials give AuthenticationFailed without the secret", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(get)
      assert.strictEqual(error._tag, "AuthenticationFailed")
      if (error._tag !== "AuthenticationFailed") return
      assert.strictEqual(error.code, "invalid_client")
      assert.strictEqual(error.status, 401)
      assert.notInclude(error.message, secret)
      assert.notInclude(JSON.stringify(error), secret)
    }).pipe(Effect.provide(provider(TestHttpClient.always(
      TestHttpClient.json(401, { error: "invalid_client", error_description: `bad secret ${secret}` })
    )))))

  it.effect("a hanging login server fails with TokenRequestFailed after requestTimeoutMillis", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.exit(get))
      yield* TestClock.adjust("9999 millis")
      assert.isNull(yield* Fiber.poll(fiber).pipe(Effect.map((o) => o._tag === "Some" ? "done" : null)))
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.join(fiber)
      assert.isTrue(Exit.isFailure(exit))
      const [sent] = yield* requests
      assert.isTrue(sent.aborted)
    }).pipe(Effect.provide(provider(TestHttpClient.always(TestHttpClient.hangReply)))))

  it.effect("a token answer without access_token is TokenRequestFailed (malformed)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(get)
      assert.strictEqual(error._tag, "TokenRequestFailed")
      if (error._tag === "TokenRequestFailed") assert.strictEqual(error.reason, "malformed")
    }).pipe(Effect.provide(provider(TestHttpClient.always(TestHttpClient.json(200, { token: "x" }))))))

  it.effect("a static provider always gives the same token", () =>
    Effect.gen(function*() {
      const p = yield* TokenProvider.TokenProvider
      const t = yield* p.get
      yield* p.invalidate(t)
      assert.strictEqual(yield* p.get, t)
    }).pipe(Effect.provide(TokenProvider.layerStatic(Redacted.make("static")))))

  it("lifetimeMillis and refreshAt state the policy", () => {
    assert.strictEqual(TokenProvider.lifetimeMillis(3600), 3_600_000)
    assert.strictEqual(TokenProvider.lifetimeMillis("7"), 7000)
    for (const bad of [undefined, null, 0, -1, Number.NaN, Number.POSITIVE_INFINITY, "", "x", {}]) {
      assert.isUndefined(TokenProvider.lifetimeMillis(bad))
    }
    assert.strictEqual(TokenProvider.refreshAt(1000, 3_600_000, 60_000), 1000 + 3_540_000)
    assert.strictEqual(TokenProvider.refreshAt(0, 10_000, 60_000), 5000)
  })

  describe("with a TokenStore", () => {
    // Two providers of one client (as two gateway layers, or two processes over a shared store) over one store.
    const twoProviders = Effect.gen(function*() {
      const options = {
        loginUrl: "https://login.example.test",
        clientId: "client id",
        clientSecret: Redacted.make(secret)
      }
      const a = yield* TokenProvider.make(options)
      const b = yield* TokenProvider.make({ ...options, loginUrl: "https://login.example.test/" })
      return { a, b }
    })

    it.scoped("providers sharing a store make one token request between them", () =>
      Effect.gen(function*() {
        const { a, b } = yield* twoProviders
        const fiber = yield* Effect.fork(Effect.all([a.get, b.get, a.get, b.get], { concurrency: "unbounded" }))
        yield* TestClock.adjust("1 second")
        const tokens = (yield* Fiber.join(fiber)).map(Redacted.value)
        assert.deepStrictEqual(tokens, ["tok-1", "tok-1", "tok-1", "tok-1"])
        assert.strictEqual((yield* requests).length, 1)
      }).pipe(Effect.provide(Layer.merge(
        TokenStore.layerMemory,
        TestHttpClient.layer(TestHttpClient.byPath({ [tokenPath]: counting(3600, 200) }))
      ))))

    it.scoped("a 401 seen by one provider drops the token from the store; the other gets the new one after its own", () =>
      Effect.gen(function*() {
        const { a, b } = yield* twoProviders
        const t1 = yield* a.get
        assert.strictEqual(Redacted.value(yield* b.get), "tok-1")
        yield* a.invalidate(t1)
        const t2 = yield* a.get
        assert.strictEqual(Redacted.value(t2), "tok-2")
        // b still holds tok-1 in its own cache; once it is refused, b takes tok-2 from the store, not from login.
        const b1 = yield* b.get
        yield* b.invalidate(b1)
        assert.strictEqual(Redacted.value(yield* b.get), "tok-2")
        assert.strictEqual((yield* requests).length, 2)
      }).pipe(Effect.provide(Layer.merge(
        TokenStore.layerMemory,
        TestHttpClient.layer(TestHttpClient.byPath({ [tokenPath]: counting() }))
      ))))

    it.scoped("a token from the store keeps its refresh time in the provider that did not fetch it", () =>
      Effect.gen(function*() {
        const { a, b } = yield* twoProviders
        assert.strictEqual(Redacted.value(yield* a.get), "tok-1")
        yield* TestClock.adjust("30 seconds")
        assert.strictEqual(Redacted.value(yield* b.get), "tok-1")
        yield* TestClock.adjust("30 seconds")
        // 120 s lifetime, 60 s skew: both replace it at 60 s, with one request.
        assert.strictEqual(Redacted.value(yield* b.get), "tok-2")
        assert.strictEqual(Redacted.value(yield* a.get), "tok-2")
        assert.strictEqual((yield* requests).length, 2)
      }).pipe(Effect.provide(Layer.merge(
        TokenStore.layerMemory,
        TestHttpClient.layer(TestHttpClient.byPath({ [tokenPath]: counting(120) }))
      ))))
  })
})
