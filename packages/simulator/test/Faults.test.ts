import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { TestHelpers } from "@genesys-llm/testing"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as GatewaySimulator from "../src/GatewaySimulator.js"
import { chat, chatRequest, clientLayer, payload, rawChat, replyOf, send, token, tokenRequest } from "./utils.js"

const simulatorWithToken = (options: GatewaySimulator.OptionsInput = {}) =>
  Effect.gen(function*() {
    const simulator = yield* GatewaySimulator.make(options)
    const bearer = yield* token(simulator)
    return { simulator, bearer } as const
  })

const lastRecord = (simulator: GatewaySimulator.Service) =>
  Effect.map(simulator.control.requests, (records) => records[records.length - 1])

const contentLines = (body: Buffer) => body.toString("utf8").split(/\r?\n/).filter((line) => line !== "")

/** Streams a chat through the plain HttpClient: what arrived, and whether the body ended in an error. */
const streamChat = (simulator: GatewaySimulator.Service, bearer: string, body: unknown, key: string) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(chatRequest(simulator, bearer, body, key))
    let received = ""
    const result = yield* response.stream.pipe(
      Stream.decodeText(),
      Stream.runForEach((text) => Effect.sync(() => (received += text))),
      Effect.either
    )
    return { status: response.status, received, failed: result._tag === "Left" }
  }).pipe(Effect.scoped)

const MULTIBYTE = "Héllo wörld 👋 日本語 çava ✓ done"

describe("arrival faults", () => {
  it.scoped("status 429 with Retry-After in seconds, and as an HTTP date on the server's clock", () =>
    Effect.gen(function*() {
      const { bearer, simulator } = yield* simulatorWithToken()
      yield* simulator.control.enqueue(
        { kind: "status", status: 429, retryAfterSeconds: 7 },
        { kind: "status", status: 429, retryAfterSeconds: 5, retryAfterFormat: "http-date" }
      )
      const seconds = yield* chat(simulator, bearer, payload(), "k")
      assert.strictEqual(seconds.status, 429)
      assert.strictEqual(seconds.headers["retry-after"], "7")
      assert.strictEqual(seconds.headers["inin-ratelimit-reset"], "7")
      assert.strictEqual(seconds.headers["inin-ratelimit-allowed"], "300")
      assert.strictEqual(seconds.headers["inin-ratelimit-count"], "300")
      const body = JSON.parse(seconds.text)
      assert.deepStrictEqual([body.status, body.code], [429, "too.many.requests"])

      yield* TestClock.adjust("1500 millis")
      const date = yield* chat(simulator, bearer, payload(), "k")
      assert.strictEqual(date.status, 429)
      // now = 1.5 s, + 5 s, rounded up to a whole second.
      assert.strictEqual(date.headers["retry-after"], "Thu, 01 Jan 1970 00:00:07 GMT")
      assert.deepStrictEqual((yield* simulator.control.faults).queue, [])
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("status 5xx/4xx with a verbatim body and extra headers", () =>
    Effect.gen(function*() {
      const { bearer, simulator } = yield* simulatorWithToken()
      yield* simulator.control.enqueue(
        { kind: "status", status: 502, body: "<html>bad gateway</html>", contentType: "text/html" },
        { kind: "status", status: 403, message: "no access to this model", code: "model.forbidden" },
        { kind: "status", status: 500, headers: { "x-upstream": "lb-1" } }
      )
      const html = yield* chat(simulator, bearer, payload(), "k")
      assert.strictEqual(html.status, 502)
      assert.strictEqual(html.text, "<html>bad gateway</html>")
      assert.strictEqual(html.headers["content-type"], "text/html")
      const forbidden = yield* chat(simulator, bearer, payload(), "k")
      assert.strictEqual(forbidden.status, 403)
      assert.deepStrictEqual(JSON.parse(forbidden.text), {
        message: "no access to this model",
        code: "model.forbidden",
        status: 403,
        contextId: forbidden.headers["inin-correlation-id"]
      })
      const server = yield* chat(simulator, bearer, payload(), "k")
      assert.strictEqual(server.status, 500)
      assert.strictEqual(server.headers["x-upstream"], "lb-1")
      assert.strictEqual(JSON.parse(server.text).code, "internal.server.error")
      assert.strictEqual((yield* chat(simulator, bearer, payload(), "k")).status, 200)
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("a fault with route token applies to the token route only", () =>
    Effect.gen(function*() {
      const { bearer, simulator } = yield* simulatorWithToken()
      yield* simulator.control.enqueue({ kind: "status", status: 503, route: "token" })
      assert.strictEqual((yield* chat(simulator, bearer, payload(), "k")).status, 200)
      assert.strictEqual((yield* send(tokenRequest(simulator))).status, 503)
      assert.strictEqual((yield* send(tokenRequest(simulator))).status, 200)
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("expireToken answers 401 and the token stays expired; a new one works", () =>
    Effect.gen(function*() {
      const { bearer, simulator } = yield* simulatorWithToken()
      yield* simulator.control.enqueue({ kind: "expireToken" })
      const expired = yield* chat(simulator, bearer, payload(), "k")
      assert.strictEqual(expired.status, 401)
      assert.include(JSON.parse(expired.text).message, "expired")
      const still = yield* chat(simulator, bearer, payload(), "k")
      assert.strictEqual(still.status, 401)
      assert.strictEqual((yield* lastRecord(simulator)).outcome, "expired token")
      assert.strictEqual((yield* chat(simulator, yield* token(simulator), payload(), "k")).status, 200)
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("delay holds the answer back on the server's clock", () =>
    Effect.gen(function*() {
      const { bearer, simulator } = yield* simulatorWithToken()
      yield* simulator.control.enqueue({ kind: "delay", ms: 4000 })
      const fiber = yield* Effect.fork(chat(simulator, bearer, payload(), "k"))
      yield* TestHelpers.eventually(Effect.map(TestClock.sleeps(), (sleeps) => sleeps.length === 1))
      assert.strictEqual((yield* lastRecord(simulator)).outcome, "delayed")
      yield* TestClock.adjust("3999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      const answer = yield* Fiber.join(fiber)
      assert.strictEqual(answer.status, 200)
      const record = yield* lastRecord(simulator)
      assert.deepStrictEqual([record.fault, record.outcome], ["delay", "completed"])
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("hangup resets the connection before any byte of the answer", () =>
    Effect.gen(function*() {
      const { bearer, simulator } = yield* simulatorWithToken()
      yield* simulator.control.enqueue({ kind: "hangup" }, { kind: "hangup" })
      const seen = yield* rawChat(simulator, bearer, payload(), "k")
      assert.strictEqual(seen.bytes.length, 0)
      assert.include(["ECONNRESET", "end", "close"], seen.ending)
      const failed = yield* Effect.either(chat(simulator, bearer, payload(), "k"))
      assert.strictEqual(failed._tag, "Left")
      const record = yield* lastRecord(simulator)
      assert.deepStrictEqual([record.status, record.fault, record.outcome], [null, "hangup", "hung up"])
      // The server carries on.
      assert.strictEqual((yield* chat(simulator, bearer, payload(), "k")).status, 200)
    }).pipe(Effect.provide(clientLayer)))
})

describe("stream faults", () => {
  it.scoped("stall for a time: frames stop after N, then resume on the server's clock", () =>
    Effect.gen(function*() {
      const { bearer, simulator } = yield* simulatorWithToken()
      const full = replyOf((yield* chat(simulator, bearer, payload(), "k0")).text)
      yield* simulator.control.enqueue({ kind: "stall", afterFrames: 2, ms: 10_000 })
      const fiber = yield* Effect.fork(streamChat(simulator, bearer, payload(), "k1"))
      yield* TestHelpers.eventually(Effect.map(TestClock.sleeps(), (sleeps) => sleeps.length === 1))
      const during = yield* lastRecord(simulator)
      assert.deepStrictEqual([during.outcome, during.frames], ["stalled", 2])
      yield* TestClock.adjust("10 seconds")
      const answer = yield* Fiber.join(fiber)
      assert.isFalse(answer.failed)
      assert.deepStrictEqual(replyOf(answer.received), full)
      assert.strictEqual((yield* lastRecord(simulator)).outcome, "completed")
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("stall forever: exactly N frames arrive, until the server stops and cuts the stream", () =>
    Effect.gen(function*() {
      const { bearer, simulator } = yield* simulatorWithToken()
      yield* simulator.control.enqueue({ kind: "stall", afterFrames: 3 })
      const fiber = yield* Effect.fork(rawChat(simulator, bearer, payload(), "k"))
      yield* TestHelpers.eventually(Effect.map(lastRecord(simulator), (r) => r.outcome === "stalled"))
      assert.isTrue(Chunk.isEmpty(yield* TestClock.sleeps()))
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      return fiber
    }).pipe(
      Effect.scoped, // stops the simulator, stalled stream and all
      Effect.flatMap(Fiber.join),
      Effect.map((seen) => {
        assert.strictEqual(seen.status, 200)
        assert.isFalse(seen.complete)
        assert.strictEqual(replyOf(seen.body.toString()).content.length, 3)
        assert.strictEqual(replyOf(seen.body.toString()).usageFrames, 0)
      }),
      Effect.provide(clientLayer)
    ))

  it.scoped("reset after N frames: the client gets the N frames, then a broken connection", () =>
    Effect.gen(function*() {
      const { bearer, simulator } = yield* simulatorWithToken()
      const full = replyOf((yield* chat(simulator, bearer, payload(), "k0")).text)
      yield* simulator.control.enqueue({ kind: "reset", afterFrames: 2 }, { kind: "reset", afterFrames: 0 })
      const seen = yield* rawChat(simulator, bearer, payload(), "k1")
      assert.strictEqual(seen.status, 200)
      assert.isFalse(seen.complete)
      // Linux reports an RST that arrives with the data either as ECONNRESET or as an end of stream; either
      // way the chunked body never ends.
      assert.include(["ECONNRESET", "end"], seen.ending)
      assert.deepStrictEqual(replyOf(seen.body.toString()).content, full.content.slice(0, 2))
      assert.deepStrictEqual(
        [(yield* lastRecord(simulator)).outcome, (yield* lastRecord(simulator)).frames],
        ["reset", 2]
      )

      const viaClient = yield* streamChat(simulator, bearer, payload(), "k2")
      assert.strictEqual(viaClient.status, 200)
      assert.isTrue(viaClient.failed)
      assert.strictEqual(viaClient.received, "")
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("closeWithoutUsage ends the body cleanly without the usage frame", () =>
    Effect.gen(function*() {
      const { bearer, simulator } = yield* simulatorWithToken()
      const full = replyOf((yield* chat(simulator, bearer, payload(), "k0")).text)
      yield* simulator.control.enqueue({ kind: "closeWithoutUsage", afterFrames: 2 }, { kind: "closeWithoutUsage" })
      const two = yield* rawChat(simulator, bearer, payload(), "k1")
      assert.isTrue(two.complete)
      assert.deepStrictEqual(replyOf(two.body.toString()).content, full.content.slice(0, 2))
      assert.strictEqual(replyOf(two.body.toString()).usageFrames, 0)
      const all = yield* rawChat(simulator, bearer, payload(), "k2")
      assert.isTrue(all.complete)
      assert.deepStrictEqual(replyOf(all.body.toString()).content, full.content)
      assert.strictEqual(replyOf(all.body.toString()).usageFrames, 0)
      assert.strictEqual((yield* lastRecord(simulator)).outcome, "closed without usage")
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("malformedFrame puts one invalid line after N frames and carries on", () =>
    Effect.gen(function*() {
      const { bearer, simulator } = yield* simulatorWithToken()
      const full = replyOf((yield* chat(simulator, bearer, payload(), "k0")).text)
      yield* simulator.control.enqueue(
        { kind: "malformedFrame", afterFrames: 1 },
        { kind: "malformedFrame", line: "data: {\"content\": 1}" }
      )
      const lines = contentLines((yield* rawChat(simulator, bearer, payload(), "k1")).body)
      assert.strictEqual(lines.length, full.frames.length + 1)
      assert.strictEqual(lines[1], "{\"content\":\"unterminated")
      assert.throws(() => JSON.parse(lines[1]))
      const rest = [lines[0], ...lines.slice(2)].join("\n")
      assert.deepStrictEqual(replyOf(rest), full)
      const custom = contentLines((yield* rawChat(simulator, bearer, payload(), "k2")).body)
      assert.strictEqual(custom[0], "data: {\"content\": 1}")
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("slice cuts the body into K-byte pieces, inside UTF-8 characters and between \\r and \\n", () =>
    Effect.gen(function*() {
      const { bearer, simulator } = yield* simulatorWithToken({ replyText: MULTIBYTE, frameChars: 5 })
      const plain = yield* rawChat(simulator, bearer, payload(), "k0")
      let insideCharacter = 0
      let insideCrlf = 0
      for (const bytes of [1, 2, 3, 5, 7]) {
        for (const lineEnding of ["lf", "crlf"] as const) {
          yield* simulator.control.enqueue({ kind: "slice", bytes, lineEnding })
          const seen = yield* rawChat(simulator, bearer, payload(), "k0")
          assert.isTrue(seen.complete)
          const sizes = seen.chunks.map((c) => c.length)
          assert.isTrue(sizes.slice(0, -1).every((size) => size === bytes), `pieces of ${bytes}: ${sizes}`)
          assert.isAtMost(sizes[sizes.length - 1], bytes)
          for (let i = 1; i < seen.chunks.length; i++) {
            const previous = seen.chunks[i - 1]
            if ((seen.chunks[i][0] & 0xc0) === 0x80) insideCharacter++
            if (previous[previous.length - 1] === 0x0d && seen.chunks[i][0] === 0x0a) insideCrlf++
          }
          // Same frames as the unsliced answer (a replay of the same key), whatever the cuts.
          const expected = lineEnding === "crlf" ? plain.body.toString().replace(/\n/g, "\r\n") : plain.body.toString()
          assert.strictEqual(seen.body.toString(), expected)
        }
      }
      assert.isAbove(insideCharacter, 0)
      assert.isAbove(insideCrlf, 0)
      assert.strictEqual(replyOf(plain.body.toString()).text, MULTIBYTE)
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("crlf ends every line with \\r\\n; blankLines adds blank lines; frames are unchanged", () =>
    Effect.gen(function*() {
      const { bearer, simulator } = yield* simulatorWithToken()
      const full = replyOf((yield* chat(simulator, bearer, payload(), "k0")).text)
      yield* simulator.control.enqueue(
        { kind: "crlf" },
        { kind: "blankLines", count: 2 },
        { kind: "blankLines", lineEnding: "crlf" }
      )
      const crlf = (yield* rawChat(simulator, bearer, payload(), "k0")).body.toString()
      assert.isTrue(crlf.endsWith("\r\n"))
      assert.notMatch(crlf, /[^\r]\n/)
      assert.strictEqual(crlf.split("\r\n").length - 1, full.frames.length)
      assert.deepStrictEqual(replyOf(crlf), full)

      const blank = (yield* rawChat(simulator, bearer, payload(), "k0")).body.toString()
      assert.isTrue(blank.startsWith("\n\n{"))
      assert.isTrue(blank.endsWith("}\n\n\n"))
      assert.strictEqual(blank.split("\n").filter((l) => l === "").length, 2 * (full.frames.length + 1) + 1)
      assert.deepStrictEqual(replyOf(blank), full)

      const blankCrlf = (yield* rawChat(simulator, bearer, payload(), "k0")).body.toString()
      assert.isTrue(blankCrlf.startsWith("\r\n{"))
      assert.deepStrictEqual(replyOf(blankCrlf), full)
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("oversizedFrame sends one line of exactly the given size after N frames", () =>
    Effect.gen(function*() {
      const { bearer, simulator } = yield* simulatorWithToken()
      const full = replyOf((yield* chat(simulator, bearer, payload(), "k0")).text)
      yield* simulator.control.enqueue({ kind: "oversizedFrame", bytes: 300_000, afterFrames: 1 })
      const lines = contentLines((yield* rawChat(simulator, bearer, payload(), "k0")).body)
      assert.strictEqual(lines.length, full.frames.length + 1)
      assert.strictEqual(Buffer.byteLength(lines[1]), 300_000)
      assert.match(JSON.parse(lines[1]).content, /^x+$/)
      assert.deepStrictEqual(replyOf([lines[0], ...lines.slice(2)].join("\n")), full)
    }).pipe(Effect.provide(clientLayer)))
})

describe("fault selection", () => {
  it.scoped("stream faults wait for a stream: a request rejected earlier does not use them up", () =>
    Effect.gen(function*() {
      const { bearer, simulator } = yield* simulatorWithToken()
      yield* simulator.control.enqueue({ kind: "crlf" }, { kind: "status", status: 500 })
      // The status is the first fault taken on arrival, though queued second.
      assert.strictEqual((yield* chat(simulator, bearer, payload(), "k")).status, 500)
      assert.strictEqual((yield* chat(simulator, "wrong", payload(), "k")).status, 401)
      assert.strictEqual((yield* chat(simulator, bearer, { bad: true }, "k")).status, 400)
      const answer = yield* chat(simulator, bearer, payload(), "k")
      assert.include(answer.text, "\r\n")
      assert.strictEqual((yield* lastRecord(simulator)).fault, "crlf")
      assert.notInclude((yield* chat(simulator, bearer, payload(), "k")).text, "\r\n")
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("options.faults are queued at start and again after a reset", () =>
    Effect.gen(function*() {
      const { bearer, simulator } = yield* simulatorWithToken({ faults: [{ kind: "status", status: 504 }] })
      assert.strictEqual((yield* chat(simulator, bearer, payload(), "k")).status, 504)
      assert.strictEqual((yield* chat(simulator, bearer, payload(), "k")).status, 200)
      yield* simulator.control.reset
      assert.strictEqual((yield* simulator.control.requests).length, 0)
      assert.strictEqual((yield* chat(simulator, bearer, payload(), "k")).status, 504)
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("a fault rate draws from the pool with a seeded random source: same seed, same faults", () =>
    Effect.gen(function*() {
      const statuses = (simulator: GatewaySimulator.Service, bearer: string) =>
        Effect.forEach(
          Array.from({ length: 30 }, (_, i) => i),
          (i) => Effect.map(chat(simulator, bearer, payload(), `k${i}`), (a) => a.status)
        )
      const options = { faultRate: 0.5, seed: 42, requestsPerMinute: 1000 }
      const a = yield* simulatorWithToken(options)
      const b = yield* simulatorWithToken(options)
      const first = yield* statuses(a.simulator, a.bearer)
      assert.deepStrictEqual(yield* statuses(b.simulator, b.bearer), first)
      assert.include(first, 200)
      assert.isTrue(first.some((s) => s !== 200))
      for (const status of first) assert.include([200, 429, 500, 503], status)
      // A reset restarts the sequence.
      yield* a.simulator.control.reset
      assert.deepStrictEqual(yield* statuses(a.simulator, a.bearer), first)
      // Another seed, another sequence.
      yield* a.simulator.control.setRate({ rate: 0.5, seed: 7 })
      assert.notDeepEqual(yield* statuses(a.simulator, a.bearer), first)
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("a rate may draw stream faults, applied when the stream starts", () =>
    Effect.gen(function*() {
      const { bearer, simulator } = yield* simulatorWithToken({ faultRate: 1, faultPool: [{ kind: "crlf" }] })
      for (const key of ["a", "b", "c"]) {
        assert.include((yield* chat(simulator, bearer, payload(), key)).text, "}\r\n")
      }
      assert.deepStrictEqual((yield* simulator.control.requests).slice(1).map((r) => r.fault), [
        "crlf",
        "crlf",
        "crlf"
      ])
    }).pipe(Effect.provide(clientLayer)))
})
