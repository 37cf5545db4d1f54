import { assert, describe, it } from "@effect/vitest"
import { Gateway, Prompt } from "@genesys-llm/core"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Supervisor from "effect/Supervisor"
import * as TestClock from "effect/TestClock"
import { failureOf, failureTagged } from "../src/TestHelpers.js"
import * as TestHttpClient from "../src/TestHttpClient.js"
import {
  chatRequests,
  frames,
  key,
  layer,
  payload,
  request,
  runTimed,
  type Timed,
  tokenRequests
} from "./gatewayHelpers.js"

// Runs one call on the TestClock: the events with the virtual time each arrived, the exit and when it ended.
const run = (req: Gateway.Request = request(), advance: Duration.DurationInput = "10 minutes") =>
  Effect.flatMap(Gateway.Gateway, (gateway) => runTimed(gateway.stream(req), advance))

const doneOf = (events: ReadonlyArray<Timed>): Gateway.Done => {
  const last = events[events.length - 1]?.event
  assert.strictEqual(last?._tag, "Done")
  return last as Gateway.Done
}

// Errors compared by their fields: a failed Effect's error carries a span-annotated stack that deep equality
// should not walk.
const plain = (error: object) => ({ ...error })

const deltas = (events: ReadonlyArray<Timed>) =>
  events.flatMap(({ event }) => event._tag === "Delta" ? [event.text] : [])

const ok = TestHttpClient.ndjson([...frames("Hello", ", ", "world"), { usage: { completion_tokens: 3 } }], {
  headers: { "inin-correlation-id": "corr-1" }
})

// Full jitter draws 0.5: the backoff after the n-th failure is exactly min(cap, 250 * 2^(n-1)) / 2.
const halfJitter = Effect.withRandom(Random.fixed([0.5]))

describe("Gateway", () => {
  describe("the request", () => {
    it.effect("sends the payload with the contract's headers and streams the deltas, then Done", () =>
      Effect.gen(function*() {
        const { events, exit } = yield* run()
        assert.isTrue(Exit.isSuccess(exit))
        assert.deepStrictEqual(deltas(events), ["Hello", ", ", "world"])
        assert.deepStrictEqual(doneOf(events), {
          _tag: "Done",
          outcome: "complete",
          text: "Hello, world",
          completionTokens: 3,
          usageReported: true,
          attempts: 1,
          skippedFrames: 0,
          correlationId: "corr-1"
        })
        const [sent] = yield* chatRequests
        assert.strictEqual(sent.method, "POST")
        assert.strictEqual(sent.url, "https://api.example.test/api/v2/ai/llm-gateway/chat")
        assert.strictEqual(sent.headers["authorization"], "Bearer tok-1")
        assert.strictEqual(sent.headers["content-type"], "application/json")
        assert.strictEqual(sent.headers["accept"], "application/x-ndjson")
        assert.strictEqual(sent.headers["idempotency-key"], key)
        assert.strictEqual(sent.bodyText, Prompt.toJson(payload))
        assert.strictEqual(sent.bodyOutcome, "complete")
      }).pipe(Effect.provide(layer(TestHttpClient.always(ok)))))

    it.effect("delivers each delta when its frame arrives, not at the end", () =>
      Effect.gen(function*() {
        const { events } = yield* run()
        assert.deepStrictEqual(events.map(({ at, event }) => [event._tag, at]), [
          ["Delta", 100],
          ["Delta", 200],
          ["Done", 300]
        ])
      }).pipe(
        Effect.provide(layer(TestHttpClient.always(
          TestHttpClient.ndjson([...frames("a", "b"), { usage: { completion_tokens: 2 } }], { delayMillis: 100 })
        )))
      ))

    it.effect("refuses an unusable idempotency key or option before anything goes on the wire", () =>
      Effect.gen(function*() {
        for (const idempotencyKey of ["", "has space", "x".repeat(256), "line\nbreak"]) {
          const { exit } = yield* run({ payload, idempotencyKey })
          const error = failureOf(exit)
          assert.strictEqual(error._tag, "GatewayRequestInvalid")
          assert.include(error.message, "idempotencyKey")
        }
        for (const options of [{ maxAttempts: 0 }, { maxLatencyMillis: -1 }, { frameGapMillis: Number.NaN }]) {
          const error = failureOf((yield* run(request(options))).exit)
          assert.strictEqual(error._tag, "GatewayRequestInvalid")
          assert.include(error.message, Object.keys(options)[0])
        }
        assert.strictEqual((yield* chatRequests).length, 0)
        assert.strictEqual((yield* tokenRequests).length, 0)
      }).pipe(Effect.provide(layer(TestHttpClient.always(ok)))))
  })

  describe("retries before the first frame", () => {
    it.effect("429 then success: the same key and the same body bytes, after exactly Retry-After", () =>
      Effect.gen(function*() {
        const { events } = yield* run()
        const sent = yield* chatRequests
        assert.deepStrictEqual(sent.map((r) => r.at), [0, 1000])
        assert.deepStrictEqual(sent.map((r) => r.headers["idempotency-key"]), [key, key])
        assert.deepStrictEqual(sent[0].body, sent[1].body)
        assert.strictEqual(doneOf(events).attempts, 2)
        assert.strictEqual(doneOf(events).text, "Hello, world")
        // The token is cached across attempts.
        assert.strictEqual((yield* tokenRequests).length, 1)
      }).pipe(Effect.provide(layer(TestHttpClient.sequence(
        TestHttpClient.json(429, { message: "slow down", code: "too.many.requests", status: 429 }, {
          "retry-after": "1"
        }),
        ok
      )))))

    it.effect("honours Retry-After as an HTTP date against the Clock, and retry-after-ms first", () =>
      Effect.gen(function*() {
        yield* run()
        assert.deepStrictEqual((yield* chatRequests).map((r) => r.at), [0, 2000, 2250])
      }).pipe(Effect.provide(layer(TestHttpClient.sequence(
        TestHttpClient.json(429, {}, { "retry-after": new Date(2000).toUTCString() }),
        TestHttpClient.json(503, {}, { "retry-after": "3", "retry-after-ms": "250" }),
        ok
      )))))

    it.effect("caps a long Retry-After at retryAfterCapMillis", () =>
      Effect.gen(function*() {
        yield* run(request({ maxLatencyMillis: 60_000 }))
        assert.deepStrictEqual((yield* chatRequests).map((r) => r.at), [0, 5000])
      }).pipe(Effect.provide(layer(
        TestHttpClient.sequence(TestHttpClient.json(429, {}, { "retry-after": "40" }), ok),
        { retryAfterCapMillis: 5000 }
      ))))

    it.effect("429 forever: exactly 3 attempts, then RetriesExhausted naming the last status", () =>
      Effect.gen(function*() {
        const { endedAt, exit } = yield* run()
        const error = failureOf(exit)
        assert.strictEqual(error._tag, "RetriesExhausted")
        if (error._tag !== "RetriesExhausted") return
        assert.strictEqual(error.attempts, 3)
        assert.strictEqual(error.lastStatus, 429)
        assert.include(error.message, "3 attempts")
        assert.include(error.message, "HTTP 429")
        assert.deepStrictEqual((yield* chatRequests).map((r) => r.at), [0, 1000, 2000])
        assert.strictEqual(endedAt, 2000)
      }).pipe(Effect.provide(layer(TestHttpClient.always(
        TestHttpClient.json(429, { message: "slow down", code: "too.many.requests" }, { "retry-after": "1" })
      )))))

    it.effect("5xx then success: full-jitter backoff of exactly 125 then 250 ms with a 0.5 draw", () =>
      Effect.gen(function*() {
        const { events } = yield* run()
        assert.deepStrictEqual((yield* chatRequests).map((r) => r.at), [0, 125, 375])
        assert.strictEqual(doneOf(events).attempts, 3)
      }).pipe(
        Effect.provide(layer(TestHttpClient.sequence(
          TestHttpClient.json(503, { message: "unavailable" }),
          TestHttpClient.json(502, { message: "bad gateway" }),
          ok
        ))),
        halfJitter
      ))

    it.effect("retries 408, 500 and 504 too, and as many times as maxAttempts says", () =>
      Effect.gen(function*() {
        const { events } = yield* run(request({ maxAttempts: 4, maxLatencyMillis: 60_000 }))
        assert.deepStrictEqual((yield* chatRequests).map((r) => r.at), [0, 125, 375, 875])
        assert.strictEqual(doneOf(events).attempts, 4)
      }).pipe(
        Effect.provide(layer(TestHttpClient.sequence(
          TestHttpClient.json(408, {}),
          TestHttpClient.json(500, {}),
          TestHttpClient.json(504, {}),
          ok
        ))),
        halfJitter
      ))

    it.effect("a transport error is retried", () =>
      Effect.gen(function*() {
        const { events } = yield* run()
        assert.deepStrictEqual((yield* chatRequests).map((r) => r.at), [0, 125])
        assert.strictEqual(doneOf(events).text, "Hello, world")
      }).pipe(
        Effect.provide(layer(TestHttpClient.sequence(TestHttpClient.transportError("connect ECONNREFUSED"), ok))),
        halfJitter
      ))

    it.effect("a body that breaks or ends mid-line before the first frame is retried", () =>
      Effect.gen(function*() {
        const { events } = yield* run()
        const sent = yield* chatRequests
        assert.strictEqual(sent.length, 3)
        assert.deepStrictEqual(deltas(events), ["Hello", ", ", "world"])
        assert.strictEqual(doneOf(events).attempts, 3)
      }).pipe(
        Effect.provide(layer(TestHttpClient.sequence(
          TestHttpClient.response(200, [TestHttpClient.reset("ECONNRESET")]),
          TestHttpClient.response(200, [TestHttpClient.bytes("{\"content\":\"Hel")]),
          ok
        ))),
        halfJitter
      ))

    it.effect("a failed token request counts as an attempt and is retried", () =>
      Effect.gen(function*() {
        const { events } = yield* run()
        assert.strictEqual(doneOf(events).attempts, 2)
        assert.deepStrictEqual((yield* tokenRequests).map((r) => r.at), [0, 125])
        assert.strictEqual((yield* chatRequests).length, 1)
      }).pipe(
        Effect.provide(layer(
          TestHttpClient.always(ok),
          {},
          TestHttpClient.sequence(
            TestHttpClient.json(503, { message: "login down" }),
            TestHttpClient.json(200, { access_token: "tok-x", expires_in: 3600 })
          )
        )),
        halfJitter
      ))
  })

  describe("errors that are not retried", () => {
    it.effect("400 is GatewayRejected with status, code and correlation id, the body kept redacted", () =>
      Effect.gen(function*() {
        const error = failureOf((yield* run()).exit)
        assert.strictEqual(error._tag, "GatewayRejected")
        if (error._tag !== "GatewayRejected") return
        const { responseBody, ...fields } = plain(error) as Record<string, unknown>
        assert.deepStrictEqual(fields, {
          _tag: "GatewayRejected",
          status: 400,
          code: "bad.request",
          correlationId: "corr-400",
          attempts: 1
        })
        assert.isTrue(Redacted.isRedacted(responseBody))
        assert.strictEqual(
          Redacted.value(responseBody as Redacted.Redacted<string>),
          JSON.stringify({ message: "maxTokens must be at most 4096", code: "bad.request", status: 400 })
        )
        assert.include(error.message, "HTTP 400 bad.request")
        assert.include(error.message, "corr-400")
        // The gateway's own words stay out of the message.
        assert.notInclude(error.message, "maxTokens")
        assert.strictEqual((yield* chatRequests).length, 1)
      }).pipe(Effect.provide(layer(TestHttpClient.always(
        TestHttpClient.json(400, { message: "maxTokens must be at most 4096", code: "bad.request", status: 400 }, {
          "inin-correlation-id": "corr-400"
        })
      )))))

    it.effect("the correlation id falls back to the body's contextId; 422 is not retried either", () =>
      Effect.gen(function*() {
        const error = failureOf((yield* run()).exit)
        assert.strictEqual(error._tag, "GatewayRejected")
        if (error._tag !== "GatewayRejected") return
        assert.strictEqual(error.status, 422)
        assert.strictEqual(error.correlationId, "ctx-9")
        assert.strictEqual((yield* chatRequests).length, 1)
      }).pipe(Effect.provide(layer(TestHttpClient.always(
        TestHttpClient.json(422, {
          message: "key reused with another body",
          code: "idempotency.mismatch",
          contextId: "ctx-9"
        })
      )))))

    it.effect("403 is AuthorizationFailed naming the scope ai:llm-gateway:write", () =>
      Effect.gen(function*() {
        const error = failureOf((yield* run()).exit)
        assert.strictEqual(error._tag, "AuthorizationFailed")
        assert.include(error.message, "ai:llm-gateway:write")
        assert.strictEqual((yield* chatRequests).length, 1)
        assert.strictEqual((yield* tokenRequests).length, 1)
      }).pipe(Effect.provide(layer(TestHttpClient.always(
        TestHttpClient.json(403, { message: "missing permission", code: "missing.permissions" })
      )))))

    it.effect("refused client credentials are AuthenticationFailed and no chat request is sent", () =>
      Effect.gen(function*() {
        const error = failureOf((yield* run()).exit)
        assert.deepStrictEqual(
          plain(error),
          plain(new Gateway.AuthenticationFailed({ source: "login", status: 401, code: "invalid_client", attempts: 1 }))
        )
        assert.strictEqual((yield* chatRequests).length, 0)
      }).pipe(Effect.provide(layer(
        TestHttpClient.always(ok),
        {},
        TestHttpClient.always(TestHttpClient.json(401, { error: "invalid_client", error_description: "bad secret" }))
      ))))
  })

  describe("401", () => {
    it.effect("invalidates the token, fetches one new token and retries at once", () =>
      Effect.gen(function*() {
        const { events } = yield* run()
        const sent = yield* chatRequests
        assert.deepStrictEqual(sent.map((r) => [r.at, r.headers["authorization"]]), [
          [0, "Bearer tok-1"],
          [0, "Bearer tok-2"]
        ])
        assert.strictEqual((yield* tokenRequests).length, 2)
        assert.strictEqual(doneOf(events).attempts, 2)
      }).pipe(Effect.provide(layer(TestHttpClient.sequence(TestHttpClient.json(401, { message: "expired" }), ok)))))

    it.effect("a second 401 is AuthenticationFailed from the gateway", () =>
      Effect.gen(function*() {
        const error = failureOf((yield* run()).exit)
        assert.strictEqual(error._tag, "AuthenticationFailed")
        if (error._tag !== "AuthenticationFailed") return
        assert.strictEqual(error.source, "gateway")
        assert.strictEqual(error.attempts, 2)
        assert.strictEqual((yield* chatRequests).length, 2)
        assert.strictEqual((yield* tokenRequests).length, 2)
      }).pipe(Effect.provide(layer(TestHttpClient.always(TestHttpClient.json(401, { message: "nope" }))))))

    it.effect("the refresh retry does not use up the attempt budget", () =>
      Effect.gen(function*() {
        const error = failureOf((yield* run()).exit)
        assert.strictEqual(error._tag, "RetriesExhausted")
        if (error._tag !== "RetriesExhausted") return
        assert.strictEqual(error.attempts, 4)
        assert.deepStrictEqual((yield* chatRequests).map((r) => r.at), [0, 0, 1000, 2000])
      }).pipe(Effect.provide(layer(TestHttpClient.sequence(
        TestHttpClient.json(401, {}),
        TestHttpClient.json(429, {}, { "retry-after": "1" })
      )))))
  })

  describe("the first-frame deadline", () => {
    it.effect("a first frame later than maxLatencyMillis gives the fallback at exactly the deadline", () =>
      Effect.gen(function*() {
        const { events, exit } = yield* run()
        assert.isTrue(Exit.isSuccess(exit))
        assert.deepStrictEqual(events, [
          {
            at: 5000,
            event: {
              _tag: "Fallback",
              text: Gateway.defaults.fallbackText,
              reason: "first-frame-timeout",
              lastStatus: undefined,
              lastError: undefined
            }
          },
          {
            at: 5000,
            event: {
              _tag: "Done",
              outcome: "fallback",
              text: Gateway.defaults.fallbackText,
              completionTokens: 0,
              usageReported: false,
              attempts: 1,
              skippedFrames: 0,
              correlationId: undefined
            }
          }
        ])
        const [sent] = yield* chatRequests
        assert.isTrue(sent.aborted, "the late request is aborted")
      }).pipe(Effect.provide(layer(TestHttpClient.always(TestHttpClient.response(200, [], {}, 6000)))))) // headers at 6 s

    it.effect("a stream that stalls before its first frame falls back with the configured text", () =>
      Effect.gen(function*() {
        const { events } = yield* run(request({ maxLatencyMillis: 2500, fallbackText: "One moment please." }))
        assert.deepStrictEqual(events.map(({ at, event }) => [at, event._tag, "text" in event ? event.text : ""]), [
          [2500, "Fallback", "One moment please."],
          [2500, "Done", "One moment please."]
        ])
        const [sent] = yield* chatRequests
        assert.strictEqual(sent.bodyOutcome, "interrupted")
      }).pipe(Effect.provide(layer(TestHttpClient.always(
        TestHttpClient.response(200, [TestHttpClient.bytes("\n", 100), TestHttpClient.hang])
      )))))

    it.effect("a retry whose sleep would reach the deadline is not attempted: fallback at once", () =>
      Effect.gen(function*() {
        const { events } = yield* run()
        assert.deepStrictEqual(events.map(({ at, event }) => [at, event._tag]), [[0, "Fallback"], [0, "Done"]])
        const fallback = events[0].event as Gateway.Fallback
        assert.strictEqual(fallback.reason, "retry-past-deadline")
        assert.strictEqual(fallback.lastStatus, 429)
        assert.strictEqual((yield* chatRequests).length, 1)
      }).pipe(Effect.provide(layer(TestHttpClient.always(TestHttpClient.json(429, {}, { "retry-after": "10" }))))))

    it.effect("jittered backoffs never sleep past the deadline", () =>
      Effect.gen(function*() {
        // Draws of 1: sleeps of 250 then 500; the second would end at 750 > 400.
        const { events } = yield* run(request({ maxLatencyMillis: 400, maxAttempts: 10 }))
        assert.deepStrictEqual((yield* chatRequests).map((r) => r.at), [0, 250])
        assert.deepStrictEqual(events.map(({ at, event }) => [at, event._tag]), [[250, "Fallback"], [250, "Done"]])
        assert.strictEqual(doneOf(events).attempts, 2)
      }).pipe(
        Effect.provide(layer(TestHttpClient.always(TestHttpClient.json(503, {})))),
        Effect.withRandom(Random.fixed([1]))
      ))

    it.effect("the deadline counts the token request too", () =>
      Effect.gen(function*() {
        const { events } = yield* run()
        assert.deepStrictEqual(events.map(({ at, event }) => [at, event._tag]), [[5000, "Fallback"], [5000, "Done"]])
        assert.strictEqual((yield* chatRequests).length, 0)
      }).pipe(Effect.provide(layer(TestHttpClient.always(ok), {}, TestHttpClient.always(TestHttpClient.hangReply)))))

    it.effect("a call timeout shorter than the first-frame deadline is CallTimeout", () =>
      Effect.gen(function*() {
        const { endedAt, exit } = yield* run(request({ callTimeoutMillis: 3000 }))
        const error = failureOf(exit)
        assert.strictEqual(error._tag, "CallTimeout")
        assert.strictEqual(endedAt, 3000)
      }).pipe(Effect.provide(layer(TestHttpClient.always(TestHttpClient.hangReply)))))
  })

  describe("after the first frame", () => {
    it.effect("a stall is StreamInterrupted after frameGapMillis, carrying the delivered text; no retry", () =>
      Effect.gen(function*() {
        const { endedAt, events, exit } = yield* run()
        assert.deepStrictEqual(deltas(events), ["Hello", ", "])
        const error = failureOf(exit)
        assert.strictEqual(error._tag, "StreamInterrupted")
        if (error._tag !== "StreamInterrupted") return
        assert.strictEqual(error.reason, "stall")
        assert.strictEqual(error.deliveredText, "Hello, ")
        assert.strictEqual(endedAt, 10_200)
        const sent = yield* chatRequests
        assert.strictEqual(sent.length, 1)
        assert.strictEqual(sent[0].bodyOutcome, "interrupted")
      }).pipe(Effect.provide(layer(TestHttpClient.always(
        TestHttpClient.ndjson(frames("Hello", ", "), { delayMillis: 100, then: [TestHttpClient.hang] })
      )))))

    it.effect("a reset is StreamInterrupted with the text delivered, never a retry", () =>
      Effect.gen(function*() {
        const { events, exit } = yield* run()
        const error = failureOf(exit)
        assert.strictEqual(error._tag, "StreamInterrupted")
        if (error._tag !== "StreamInterrupted") return
        assert.strictEqual(error.reason, "reset")
        assert.strictEqual(error.deliveredText, "Hello")
        assert.strictEqual(error.completionTokens, 1)
        assert.deepStrictEqual(deltas(events), ["Hello"])
        assert.strictEqual((yield* chatRequests).length, 1)
      }).pipe(Effect.provide(layer(TestHttpClient.always(
        TestHttpClient.ndjson([{ content: "Hello", usage: { completion_tokens: 1 } }], {
          then: [TestHttpClient.reset("ECONNRESET", 50)]
        })
      )))))

    it.effect("a stream that ends inside a line is StreamInterrupted (truncated); the partial line is dropped", () =>
      Effect.gen(function*() {
        const { events, exit } = yield* run()
        const error = failureOf(exit)
        assert.strictEqual(error._tag, "StreamInterrupted")
        if (error._tag !== "StreamInterrupted") return
        assert.strictEqual(error.reason, "truncated")
        assert.deepStrictEqual(deltas(events), ["Hello"])
      }).pipe(Effect.provide(layer(TestHttpClient.always(
        TestHttpClient.ndjson(frames("Hello"), { then: [TestHttpClient.bytes("{\"content\":\"wor")] })
      )))))

    it.effect("the whole call is bounded by callTimeoutMillis even when frames keep coming", () =>
      Effect.gen(function*() {
        const { endedAt, exit } = yield* run(request({ callTimeoutMillis: 20_000 }))
        const error = failureOf(exit)
        assert.strictEqual(error._tag, "StreamInterrupted")
        if (error._tag !== "StreamInterrupted") return
        assert.strictEqual(error.reason, "call-timeout")
        assert.strictEqual(error.deliveredText, "xxxx")
        assert.strictEqual(endedAt, 20_000)
      }).pipe(Effect.provide(layer(TestHttpClient.always(
        TestHttpClient.ndjson(frames(...Array.from({ length: 10 }, () => "x")), { delayMillis: 4500 })
      )))))
  })

  describe("frames", () => {
    it.effect("malformed frames are skipped and counted", () =>
      Effect.gen(function*() {
        const { events } = yield* run()
        assert.deepStrictEqual(deltas(events), ["a", "b"])
        assert.strictEqual(doneOf(events).skippedFrames, 3)
      }).pipe(Effect.provide(layer(TestHttpClient.always(
        TestHttpClient.ndjson(["oops", { content: "a" }, "{\"content\":\"unterminated", { content: 5 }, {
          content: "b"
        }])
      )))))

    it.effect("with strictFrames a malformed frame fails: MalformedFrame before the first frame", () =>
      Effect.gen(function*() {
        const error = failureOf((yield* run(request({ strictFrames: true }))).exit)
        assert.deepStrictEqual(
          plain(error),
          plain(new Gateway.MalformedFrame({ reason: "not-json", line: 1, attempts: 1 }))
        )
        assert.strictEqual((yield* chatRequests).length, 1)
      }).pipe(Effect.provide(layer(TestHttpClient.always(TestHttpClient.ndjson(["oops", { content: "a" }]))))))

    it.effect("with strictFrames a malformed frame after the first is StreamInterrupted", () =>
      Effect.gen(function*() {
        const error = failureOf((yield* run(request({ strictFrames: true }))).exit)
        assert.strictEqual(error._tag, "StreamInterrupted")
        if (error._tag !== "StreamInterrupted") return
        assert.strictEqual(error.reason, "malformed-frame")
        assert.strictEqual(error.deliveredText, "a")
      }).pipe(Effect.provide(layer(TestHttpClient.always(TestHttpClient.ndjson([{ content: "a" }, { content: 1 }]))))))

    it.effect("an oversized frame fails with FrameTooLarge before the first frame, without a retry", () =>
      Effect.gen(function*() {
        const error = failureOf((yield* run()).exit)
        assert.deepStrictEqual(plain(error), plain(new Gateway.FrameTooLarge({ limit: 64, line: 1, attempts: 1 })))
        assert.strictEqual((yield* chatRequests).length, 1)
      }).pipe(Effect.provide(layer(
        TestHttpClient.always(TestHttpClient.ndjson([{ content: "x".repeat(100) }])),
        { maxFrameBytes: 64 }
      ))))

    it.effect("an oversized frame after the first is StreamInterrupted (frame-too-large)", () =>
      Effect.gen(function*() {
        const error = failureOf((yield* run()).exit)
        assert.strictEqual(error._tag, "StreamInterrupted")
        if (error._tag !== "StreamInterrupted") return
        assert.strictEqual(error.reason, "frame-too-large")
        assert.strictEqual(error.deliveredText, "ok")
      }).pipe(Effect.provide(layer(
        TestHttpClient.always(
          TestHttpClient.ndjson([{ content: "ok" }], {
            then: [TestHttpClient.bytes("x".repeat(1000), 10), TestHttpClient.hang]
          })
        ),
        { maxFrameBytes: 64 }
      ))))

    it.effect("1-byte slices, CRLF, blank lines and a BOM give the same deltas", () =>
      Effect.gen(function*() {
        const { events } = yield* run()
        assert.deepStrictEqual(deltas(events), ["h\u00e9", "\u20ac\ud83d\ude00"])
        assert.strictEqual(doneOf(events).completionTokens, 2)
      }).pipe(Effect.provide(layer(TestHttpClient.always(
        TestHttpClient.response(
          200,
          Array.from(
            new TextEncoder().encode(
              "\uFEFF{\"content\":\"h\u00e9\"}\r\n\r\n{\"content\":\"\u20ac\ud83d\ude00\"}\r\n{\"usage\":{\"completion_tokens\":2}}\r\n"
            ),
            (b) => TestHttpClient.bytes(Uint8Array.of(b), 1)
          )
        )
      )))))

    it.effect("a stream that closes without usage completes with usageReported false", () =>
      Effect.gen(function*() {
        const { events } = yield* run()
        const done = doneOf(events)
        assert.strictEqual(done.text, "ab")
        assert.strictEqual(done.completionTokens, 0)
        assert.isFalse(done.usageReported)
      }).pipe(Effect.provide(layer(TestHttpClient.always(TestHttpClient.ndjson(frames("a", "b")))))))

    it.effect("a complete last frame without its newline, on a clean close, is a frame", () =>
      Effect.gen(function*() {
        const { events, exit } = yield* run()
        assert.isTrue(Exit.isSuccess(exit))
        assert.deepStrictEqual(deltas(events), ["Hello", " world"])
        assert.strictEqual(doneOf(events).outcome, "complete")
        assert.strictEqual(doneOf(events).completionTokens, 2)
      }).pipe(Effect.provide(layer(TestHttpClient.always(
        TestHttpClient.response(200, [
          TestHttpClient.bytes("{\"content\":\"Hello\"}\n"),
          TestHttpClient.bytes("{\"content\":\" world\",\"usage\":{\"completion_tokens\":2}}")
        ])
      )))))

    it.effect("a last line cut by a reset is not a frame, even when it looks whole", () =>
      Effect.gen(function*() {
        const { events, exit } = yield* run()
        const error = failureTagged(exit, "StreamInterrupted")
        assert.deepStrictEqual([error.reason, error.deliveredText, deltas(events)], ["reset", "Hello", ["Hello"]])
      }).pipe(Effect.provide(layer(TestHttpClient.always(
        TestHttpClient.response(200, [
          TestHttpClient.bytes("{\"content\":\"Hello\"}\n{\"content\":\" world\"}"),
          TestHttpClient.reset("ECONNRESET", 10)
        ])
      )))))
  })

  describe("a success status that is not an answer", () => {
    it.effect("an HTML proxy page is InvalidAnswer (content-type) once the attempts are spent; the page redacted", () =>
      Effect.gen(function*() {
        const error = failureTagged((yield* run()).exit, "InvalidAnswer")
        assert.strictEqual(error.reason, "content-type")
        assert.strictEqual(error.contentType, "text/html")
        assert.strictEqual(error.status, 200)
        assert.strictEqual(error.attempts, 3)
        assert.include(error.message, "HTTP 200 with content type text/html, not NDJSON or JSON")
        assert.notInclude(error.message, "Sign in")
        assert.include(Redacted.value(error.responseBody!), "Sign in to the corporate proxy")
        const sent = yield* chatRequests
        assert.strictEqual(sent.length, 3)
        assert.isTrue(sent.every((r) => r.bodyOutcome !== "reading"))
      }).pipe(
        Effect.provide(layer(TestHttpClient.always(
          TestHttpClient.text(200, "<html><body>Sign in to the corporate proxy</body></html>", {
            "content-type": "text/html; charset=utf-8"
          })
        ))),
        halfJitter
      ))

    it.effect("an empty body is InvalidAnswer (no-content) after every attempt", () =>
      Effect.gen(function*() {
        const error = failureTagged((yield* run()).exit, "InvalidAnswer")
        assert.strictEqual(error.reason, "no-content")
        assert.include(error.message, "no content frame and no usage")
        assert.strictEqual((yield* chatRequests).length, 3)
      }).pipe(Effect.provide(layer(TestHttpClient.always(TestHttpClient.ndjson([])))), halfJitter))

    it.effect("JSON of another shape, or frames with nothing in them, are no answer either", () =>
      Effect.gen(function*() {
        const error = failureTagged((yield* run()).exit, "InvalidAnswer")
        assert.strictEqual(error.reason, "no-content")
        assert.strictEqual((yield* chatRequests).length, 3)
      }).pipe(
        Effect.provide(layer(TestHttpClient.sequence(
          TestHttpClient.json(200, { result: "ok", choices: [] }),
          TestHttpClient.ndjson([{}, { content: "" }, { content: null }]),
          TestHttpClient.response(200, [TestHttpClient.bytes("\n\r\n  \n")])
        ))),
        halfJitter
      ))

    it.effect("is retried while no frame reached the caller: the retry's answer is the call's", () =>
      Effect.gen(function*() {
        const { events, exit } = yield* run()
        assert.isTrue(Exit.isSuccess(exit))
        assert.strictEqual(doneOf(events).text, "Hello, world")
        assert.strictEqual(doneOf(events).attempts, 2)
      }).pipe(
        Effect.provide(layer(TestHttpClient.sequence(TestHttpClient.ndjson([]), ok))),
        halfJitter
      ))

    it.effect("a retry past the deadline falls back, and lastError names what came", () =>
      Effect.gen(function*() {
        const { events } = yield* run(request({ maxLatencyMillis: 100 }))
        const fallback = events[0].event as Gateway.Fallback
        assert.strictEqual(fallback._tag, "Fallback")
        assert.strictEqual(fallback.lastError, "HTTP 200 with content type text/html, not NDJSON or JSON")
      }).pipe(
        Effect.provide(layer(TestHttpClient.always(TestHttpClient.text(200, "<html></html>", {
          "content-type": "text/html"
        })))),
        Effect.withRandom(Random.fixed([1]))
      ))
  })

  describe("interruption", () => {
    it.effect("interrupting the caller mid-stream aborts the request and its body", () =>
      Effect.gen(function*() {
        const gateway = yield* Gateway.Gateway
        const fiber = yield* gateway.stream(request()).pipe(Stream.runDrain, Effect.fork)
        yield* TestClock.adjust("150 millis")
        yield* Fiber.interrupt(fiber)
        const [sent] = yield* chatRequests
        assert.strictEqual(sent.bodyOutcome, "interrupted")
        assert.isTrue(sent.aborted)
      }).pipe(Effect.provide(layer(TestHttpClient.always(
        TestHttpClient.ndjson(frames("a", "b", "c"), { delayMillis: 100, then: [TestHttpClient.hang] })
      )))))

    it.effect("interrupting the caller while waiting for headers aborts the request", () =>
      Effect.gen(function*() {
        const gateway = yield* Gateway.Gateway
        const fiber = yield* gateway.stream(request()).pipe(Stream.runDrain, Effect.fork)
        yield* TestClock.adjust("1 second")
        yield* Fiber.interrupt(fiber)
        const [sent] = yield* chatRequests
        assert.isTrue(sent.aborted)
      }).pipe(Effect.provide(layer(TestHttpClient.always(TestHttpClient.hangReply)))))

    it.effect("a consumer that stops early (take 1) releases the request", () =>
      Effect.gen(function*() {
        const gateway = yield* Gateway.Gateway
        const fiber = yield* gateway.stream(request()).pipe(Stream.take(1), Stream.runCollect, Effect.fork)
        yield* TestClock.adjust("1 second")
        const taken = yield* Fiber.join(fiber)
        assert.strictEqual(taken.length, 1)
        const [sent] = yield* chatRequests
        assert.strictEqual(sent.bodyOutcome, "interrupted")
      }).pipe(Effect.provide(layer(TestHttpClient.always(
        TestHttpClient.ndjson(frames("a", "b"), { delayMillis: 100, then: [TestHttpClient.hang] })
      )))))
  })

  describe("no fiber outlives a call", () => {
    const scenarios: ReadonlyArray<readonly [string, TestHttpClient.Reply, Gateway.CallOptions]> = [
      ["a complete answer", ok, {}],
      ["a fallback while the answer hangs", TestHttpClient.response(200, [TestHttpClient.hang]), {}],
      ["a stall after the first frame", TestHttpClient.ndjson(frames("a"), { then: [TestHttpClient.hang] }), {}],
      ["a call timeout while frames keep coming", TestHttpClient.ndjson(frames("a", "b", "c"), { delayMillis: 3000 }), {
        callTimeoutMillis: 5000
      }],
      ["a hanging request", TestHttpClient.hangReply, {}]
    ]
    for (const [name, reply, options] of scenarios) {
      it.effect(name, () =>
        Effect.gen(function*() {
          const supervisor = yield* Supervisor.track
          const fiber = yield* Effect.fork(Effect.supervised(run(request(options), "1 minute"), supervisor))
          const { exit } = yield* Fiber.join(fiber)
          assert.isTrue(Exit.isExit(exit))
          const alive = yield* supervisor.value
          assert.deepStrictEqual(alive.map((f) => f.id()), [])
          const [sent] = yield* chatRequests
          assert.isTrue(sent.aborted)
          assert.notStrictEqual(sent.bodyOutcome, "reading")
        }).pipe(Effect.provide(layer(TestHttpClient.always(reply)))))
    }
  })

  it.effect("Gateway.complete returns the Done event", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Gateway.complete(request()))
      yield* TestClock.adjust("1 second")
      const done = yield* Fiber.join(fiber)
      assert.strictEqual(done.text, "Hello, world")
    }).pipe(Effect.provide(layer(TestHttpClient.always(ok)))))
})
