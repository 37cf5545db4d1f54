import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as Crypto from "node:crypto"
import * as GatewaySimulator from "../src/GatewaySimulator.js"
import * as Reply from "../src/internal/reply.js"
import { type Answer, chat, chatRequest, clientLayer, payload, rawChat, replyOf, send, token } from "./utils.js"

const sha256 = (text: string) => Crypto.createHash("sha256").update(text).digest("hex")

const expectedText = (body: unknown, maxTokens: number) => {
  const json = JSON.stringify(body)
  const messages = (body as { context: ReadonlyArray<unknown> }).context.length
  return Reply.truncateToTokens(Reply.composeText(Reply.seedOf(sha256(json)), messages), maxTokens)
}

const assertGenesysError = (answer: Answer, status: number) => {
  assert.strictEqual(answer.status, status)
  const body = JSON.parse(answer.text)
  assert.strictEqual(body.status, status)
  assert.isString(body.message)
  assert.isString(body.code)
  assert.strictEqual(body.contextId, answer.headers["inin-correlation-id"])
  return body as { message: string; code: string; details?: ReadonlyArray<{ path: string; message: string }> }
}

describe("POST /api/v2/ai/llm-gateway/chat", () => {
  it.scoped("streams a deterministic reply derived from the prompt, then a consistent usage frame", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make()
      const bearer = yield* token(simulator)
      const body = payload("my password is hunter2, where is order 123?")
      const answer = yield* chat(simulator, bearer, body, "k1")
      assert.strictEqual(answer.status, 200)
      assert.strictEqual(answer.headers["content-type"], "application/x-ndjson")
      assert.strictEqual(answer.headers["inin-ratelimit-allowed"], "300")
      assert.strictEqual(answer.headers["inin-ratelimit-count"], "1")
      assert.isString(answer.headers["inin-correlation-id"])

      const reply = replyOf(answer.text)
      assert.strictEqual(reply.text, expectedText(body, 512))
      assert.match(reply.text, /^Simulated reply to 1 message: /)
      assert.notInclude(reply.text, "hunter2")
      assert.isAbove(reply.content.length, 2)
      for (const content of reply.content) assert.isAtMost(content.length, 16)
      // Content frames first, the usage frame last, alone.
      assert.strictEqual(reply.usageFrames, 1)
      assert.isDefined(reply.frames[reply.frames.length - 1].usage)
      assert.strictEqual(reply.usage, Math.ceil(reply.text.length / 4))

      // The same prompt under another key gets the same reply; another prompt gets another one.
      assert.strictEqual(replyOf((yield* chat(simulator, bearer, body, "k2")).text).text, reply.text)
      const other = replyOf((yield* chat(simulator, bearer, payload("something else"), "k3")).text)
      assert.notStrictEqual(other.text, reply.text)
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("bounds the reply by maxTokens: completion_tokens never exceeds it", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make({ requestsPerMinute: 1000 })
      const bearer = yield* token(simulator)
      for (const maxTokens of [1, 2, 3, 5, 8, 13, 4096]) {
        const body = payload("Can I change my delivery address?", { maxTokens })
        const reply = replyOf((yield* chat(simulator, bearer, body, `k-${maxTokens}`)).text)
        assert.isAbove(reply.text.length, 0)
        assert.isAtMost(reply.usage, maxTokens)
        assert.strictEqual(reply.usage, Math.ceil(reply.text.length / 4))
        assert.strictEqual(reply.text, expectedText(body, maxTokens))
        assert.isTrue(expectedText(body, 4096).startsWith(reply.text))
      }
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("replyText fixes the reply; frameChars sets the frame size without splitting a character", () =>
    Effect.gen(function*() {
      const text = "Héllo wörld 👋 日本語 ok"
      const simulator = yield* GatewaySimulator.make({ replyText: text, frameChars: 3 })
      const bearer = yield* token(simulator)
      const reply = replyOf((yield* chat(simulator, bearer, payload(), "k")).text)
      assert.strictEqual(reply.text, text)
      for (const content of reply.content) {
        assert.isAtMost(content.length, 3)
        assert.isFalse(/[\ud800-\udbff]$/.test(content), "a frame ends inside a surrogate pair")
      }
      assert.strictEqual(reply.usage, Math.ceil(text.length / 4))
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("replyBytes streams a generated reply of exactly that many bytes", () =>
    Effect.gen(function*() {
      const bytes = 3_000_001
      const simulator = yield* GatewaySimulator.make({ replyBytes: bytes, frameChars: 65_536 })
      const bearer = yield* token(simulator)
      const reply = replyOf((yield* chat(simulator, bearer, payload(), "k")).text)
      assert.strictEqual(Buffer.byteLength(reply.text), bytes)
      assert.strictEqual(reply.content.length, Math.ceil(bytes / 65_536))
      assert.strictEqual(reply.usage, Math.ceil(bytes / 4))
      assert.match(reply.text.slice(0, 100), /^[a-z ]+$/)
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("rejects a missing, unknown or non-bearer token with 401", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make()
      const request = HttpClientRequest.post(simulator.chatUrl).pipe(
        HttpClientRequest.setHeader("Idempotency-Key", "k"),
        HttpClientRequest.bodyUnsafeJson(payload())
      )
      const missing = assertGenesysError(yield* send(request), 401)
      assert.strictEqual(missing.code, "bad.credentials")
      assertGenesysError(yield* send(request.pipe(HttpClientRequest.bearerToken("sim-made-up"))), 401)
      assertGenesysError(
        yield* send(request.pipe(HttpClientRequest.basicAuth("simulator-client", "simulator-secret"))),
        401
      )
      const outcomes = (yield* simulator.control.requests).map((r) => r.outcome)
      assert.deepStrictEqual(outcomes, ["missing token", "unknown token", "missing token"])
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("rejects bad requests: media type, idempotency key, JSON, schema, size, route", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make({ maxBodyBytes: 2000 })
      const bearer = yield* token(simulator)
      const base = chatRequest(simulator, bearer, payload(), "k")

      const media = assertGenesysError(
        yield* send(base.pipe(HttpClientRequest.bodyText(JSON.stringify(payload()), "text/plain"))),
        415
      )
      assert.include(media.message, "application/json")

      const withoutKey = HttpClientRequest.post(simulator.chatUrl).pipe(
        HttpClientRequest.bearerToken(bearer),
        HttpClientRequest.bodyUnsafeJson(payload())
      )
      const noKey = assertGenesysError(yield* send(withoutKey), 400)
      assert.include(noKey.message, "Idempotency-Key")
      assertGenesysError(yield* send(base.pipe(HttpClientRequest.setHeader("Idempotency-Key", "x".repeat(256)))), 400)

      const json = assertGenesysError(yield* chat(simulator, bearer, "{\"systemInstructions\": [", "k"), 400)
      assert.include(json.message, "JSON")

      const invalid = assertGenesysError(
        yield* chat(simulator, bearer, {
          systemInstructions: ["ok", 7],
          context: [{ role: "bot", content: "hi" }],
          temperature: 3,
          maxTokens: 0
        }, "k"),
        400
      )
      assert.strictEqual(invalid.code, "invalid.prompt")
      assert.deepStrictEqual(invalid.details!.map((d) => d.path).sort(), [
        "context[0].role",
        "maxTokens",
        "modelId",
        "systemInstructions[1]",
        "temperature"
      ])
      for (const detail of invalid.details!) assert.include(invalid.message, `${detail.path}: ${detail.message}`)

      assertGenesysError(yield* chat(simulator, bearer, payload("x".repeat(3000)), "k"), 413)

      const notFound = assertGenesysError(
        yield* send(HttpClientRequest.post(`${simulator.url}/api/v2/ai/llm-gateway/chatt`)),
        404
      )
      assert.strictEqual(notFound.code, "not.found")
      assertGenesysError(yield* send(HttpClientRequest.get(simulator.chatUrl)), 404)

      const outcomes = (yield* simulator.control.requests).slice(1).map((r) => `${r.status} ${r.outcome}`)
      assert.deepStrictEqual(outcomes, [
        "415 unsupported media type",
        "400 missing idempotency key",
        "400 invalid idempotency key",
        "400 invalid json",
        "400 invalid payload",
        "413 body too large",
        "404 not found",
        "404 not found"
      ])
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("the chat path is configurable", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make({ chatPath: "/llm/chat" })
      assert.strictEqual(simulator.chatUrl, `${simulator.url}/llm/chat`)
      const bearer = yield* token(simulator)
      assert.strictEqual((yield* chat(simulator, bearer, payload(), "k")).status, 200)
    }).pipe(Effect.provide(clientLayer)))
})

describe("idempotency", () => {
  it.scoped("the same key and body replay the first answer; another body under the key is 422", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make()
      const bearer = yield* token(simulator)
      const first = yield* chat(simulator, bearer, payload("first"), "key-1")
      const again = yield* chat(simulator, bearer, payload("first"), "key-1")
      assert.strictEqual(first.status, 200)
      assert.strictEqual(again.text, first.text)

      const conflict = assertGenesysError(yield* chat(simulator, bearer, payload("second"), "key-1"), 422)
      assert.strictEqual(conflict.code, "idempotency.key.reused")
      // The key still replays its first answer.
      assert.strictEqual((yield* chat(simulator, bearer, payload("first"), "key-1")).text, first.text)

      const records = yield* simulator.control.requests
      const chats = records.filter((r) => r.path === "/api/v2/ai/llm-gateway/chat")
      assert.deepStrictEqual(chats.map((r) => [r.status, r.replayed]), [
        [200, false],
        [200, true],
        [422, false],
        [200, true]
      ])
      assert.strictEqual(chats[0].bodySha256, sha256(JSON.stringify(payload("first"))))
      assert.strictEqual(chats[0].idempotencyKey, "key-1")
      assert.strictEqual(chats[0].outcome, "completed")
      assert.strictEqual(chats[0].frames, replyOf(first.text).content.length)
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("a failed answer (5xx, 429, a reset stream) does not poison the key", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make({ requestsPerMinute: 2 })
      const bearer = yield* token(simulator)
      const body = payload("retry me")
      yield* simulator.control.enqueue({ kind: "status", status: 503 })
      assert.strictEqual((yield* chat(simulator, bearer, body, "key")).status, 503)
      const ok = yield* chat(simulator, bearer, body, "key")
      assert.strictEqual(ok.status, 200)
      // Rate limited: no record either.
      yield* chat(simulator, bearer, body, "key")
      assert.strictEqual((yield* chat(simulator, bearer, body, "key")).status, 429)

      const fresh = yield* GatewaySimulator.make()
      const bearer2 = yield* token(fresh)
      yield* fresh.control.enqueue({ kind: "status", status: 429, retryAfterSeconds: 2 })
      assert.strictEqual((yield* chat(fresh, bearer2, body, "key")).status, 429)
      const after429 = yield* chat(fresh, bearer2, body, "key")
      assert.strictEqual(after429.status, 200)
      assert.strictEqual(after429.text, ok.text)
      // A stream cut by a reset was answered: the retry replays the whole answer.
      yield* fresh.control.enqueue({ kind: "reset", afterFrames: 1 })
      const cut = yield* rawChat(fresh, bearer2, payload("cut"), "key-2")
      assert.isFalse(cut.complete)
      assert.strictEqual(replyOf(cut.body.toString()).content.length, 1)
      const retried = yield* chat(fresh, bearer2, payload("cut"), "key-2")
      assert.strictEqual(retried.status, 200)
      assert.strictEqual(replyOf(retried.text).text, expectedText(payload("cut"), 512))
      const records = (yield* fresh.control.requests).filter((r) => r.status === 200 && r.path !== "/oauth/token")
      assert.deepStrictEqual(records.map((r) => [r.replayed, r.outcome]), [
        [false, "completed"],
        [false, "reset"],
        [true, "completed"]
      ])
    }).pipe(Effect.provide(clientLayer)))
})

describe("rate limiting", () => {
  it.scoped("counts per token in a 60 s window and answers 429 with Retry-After and inin-ratelimit-*", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make({ requestsPerMinute: 2 })
      const bearer = yield* token(simulator)
      const one = yield* chat(simulator, bearer, payload(), "a")
      const two = yield* chat(simulator, bearer, payload(), "b")
      assert.deepStrictEqual(
        [one, two].map((a) => [
          a.status,
          a.headers["inin-ratelimit-allowed"],
          a.headers["inin-ratelimit-count"],
          a.headers["inin-ratelimit-reset"]
        ]),
        [[200, "2", "1", "60"], [200, "2", "2", "60"]]
      )
      const limited = yield* chat(simulator, bearer, payload(), "c")
      const body = assertGenesysError(limited, 429)
      assert.strictEqual(body.code, "too.many.requests")
      assert.strictEqual(limited.headers["retry-after"], "60")
      assert.strictEqual(limited.headers["inin-ratelimit-allowed"], "2")
      assert.strictEqual(limited.headers["inin-ratelimit-count"], "2")
      assert.strictEqual(limited.headers["inin-ratelimit-reset"], "60")

      // Another token has its own window.
      const other = yield* token(simulator)
      assert.strictEqual((yield* chat(simulator, other, payload(), "d")).status, 200)

      yield* TestClock.adjust("30 seconds")
      const stillLimited = yield* chat(simulator, bearer, payload(), "c")
      assert.strictEqual(stillLimited.status, 429)
      assert.strictEqual(stillLimited.headers["retry-after"], "30")

      yield* TestClock.adjust("30 seconds")
      const open = yield* chat(simulator, bearer, payload(), "c")
      assert.strictEqual(open.status, 200)
      assert.strictEqual(open.headers["inin-ratelimit-count"], "1")
    }).pipe(Effect.provide(clientLayer)))
})

describe("correlation ids", () => {
  it.scoped("every response carries its own ININ-Correlation-Id, the control routes too", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make()
      const bearer = yield* token(simulator)
      const answers = [
        yield* chat(simulator, bearer, payload(), "k"),
        yield* chat(simulator, "nope", payload(), "k"),
        yield* send(HttpClientRequest.get(`${simulator.url}/nowhere`)),
        yield* send(HttpClientRequest.get(`${simulator.url}/__simulator/requests`)),
        yield* send(HttpClientRequest.post(`${simulator.url}/__simulator/reset`))
      ]
      const ids = answers.map((a) => a.headers["inin-correlation-id"])
      for (const id of ids) assert.match(id, /^[0-9a-f-]{36}$/)
      assert.strictEqual(new Set(ids).size, ids.length)
    }).pipe(Effect.provide(clientLayer)))
})
