// The gateway client against the real simulator over loopback sockets: every fault kind the simulator offers.
// These tests run on the live clock with short deadlines; they assert outcomes, never durations.
import { assert, describe, it } from "@effect/vitest"
import { Gateway, type Prompt } from "@genesys-llm/core"
import { type Fault, GatewaySimulator } from "@genesys-llm/simulator"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as NodeGateway from "../src/NodeGateway.js"

const payload: Prompt.PromptPayload = {
  systemInstructions: ["You are a helpful contact-center assistant."],
  context: [{ role: "user", content: "Where is my order?" }],
  temperature: 0.2,
  maxTokens: 512,
  modelId: "gpt-4o"
}

const chatPath = "/api/v2/ai/llm-gateway/chat"

const referenceKey = "llm-gw-clean-reference"

// Starts a simulator in the test's scope and the gateway client against it (login and API at the same URL).
// Unless `reference` is false, a fault-free call is made first: the reply depends on the body only, so its text is
// what every damaged-but-decodable stream must decode to. Faults are queued after it; `records` leaves it out.
const start = (
  faults: ReadonlyArray<Fault.Fault> = [],
  options: Partial<NodeGateway.Options> = {},
  simulator: GatewaySimulator.OptionsInput = {},
  reference = true
) =>
  Effect.gen(function*() {
    const sim = yield* GatewaySimulator.make(simulator)
    const context = yield* Layer.build(NodeGateway.layer({
      clientId: sim.credentials.clientId,
      clientSecret: sim.credentials.clientSecret,
      apiUrl: sim.url,
      backoffBaseMillis: 20,
      backoffCapMillis: 100,
      maxLatencyMillis: 3000,
      frameGapMillis: 1000,
      ...options
    }))
    const gateway = Context.get(context, Gateway.Gateway)
    const call = (idempotencyKey: string, callOptions?: Gateway.CallOptions) =>
      Effect.gen(function*() {
        const events: Array<Gateway.Event> = []
        const exit = yield* gateway.stream({ payload, idempotencyKey, options: callOptions }).pipe(
          Stream.runForEach((event) => Effect.sync(() => events.push(event))),
          Effect.exit
        )
        const deltas = events.flatMap((e) => e._tag === "Delta" ? [e.text] : [])
        const last = events[events.length - 1]
        return { events, exit, deltas, done: last?._tag === "Done" ? last : undefined }
      })
    let clean = ""
    if (reference) {
      const result = yield* call(referenceKey)
      assert.strictEqual(result.done?.outcome, "complete")
      clean = result.done!.text
      assert.isAbove(clean.length, 0)
    }
    if (faults.length > 0) yield* sim.control.enqueue(...faults)
    const records = (path: string) =>
      Effect.map(
        sim.control.requests,
        (all) => all.filter((r) => r.path === path && r.idempotencyKey !== referenceKey)
      )
    return { sim, gateway, call, records, clean }
  })

const failure = (exit: Exit.Exit<void, Gateway.GatewayError>): Gateway.GatewayError => {
  if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") {
    assert.fail(`expected a typed failure, got ${Exit.isSuccess(exit) ? "success" : String(exit.cause)}`)
  }
  return exit.cause.error
}

// The simulator records "client disconnected" once it sees the client close the connection of a live stream.
const disconnected = (records: (path: string) => Effect.Effect<ReadonlyArray<{ readonly outcome: string }>>) =>
  records(chatPath).pipe(
    Effect.map((r) => r[0]?.outcome ?? "none"),
    Effect.filterOrFail((outcome) => outcome === "client disconnected", (outcome) => outcome),
    Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("5 seconds"))),
    Effect.catchAll((outcome) => Effect.succeed(`still ${outcome}`))
  )

describe("Gateway against the simulator", () => {
  it.scopedLive("streams a clean answer: deltas, usage, one token request, the key on the wire", () =>
    Effect.gen(function*() {
      const { call, records } = yield* start()
      const result = yield* call("llm-gw-clean")
      assert.isTrue(Exit.isSuccess(result.exit))
      assert.isAbove(result.deltas.length, 1)
      assert.strictEqual(result.done?.text, result.deltas.join(""))
      assert.isTrue(result.done?.usageReported)
      assert.strictEqual(result.done?.completionTokens, Math.ceil(result.done!.text.length / 4))
      assert.strictEqual(result.done?.attempts, 1)
      const [chat] = yield* records(chatPath)
      assert.strictEqual(chat.idempotencyKey, "llm-gw-clean")
      assert.strictEqual(chat.outcome, "completed")
      assert.strictEqual(result.done?.correlationId, chat.correlationId)
      assert.strictEqual((yield* records("/oauth/token")).length, 1)
    }))

  it.scopedLive("429 then success: the same key and the same body on both attempts", () =>
    Effect.gen(function*() {
      const { call, records } = yield* start([{ kind: "status", status: 429, retryAfterSeconds: 1 }])
      const result = yield* call("llm-gw-429")
      assert.strictEqual(result.done?.outcome, "complete")
      assert.strictEqual(result.done?.attempts, 2)
      const chats = yield* records(chatPath)
      assert.deepStrictEqual(chats.map((r) => r.status), [429, 200])
      assert.deepStrictEqual(chats.map((r) => r.idempotencyKey), ["llm-gw-429", "llm-gw-429"])
    }))

  it.scopedLive("429 forever: RetriesExhausted after exactly 3 attempts", () =>
    Effect.gen(function*() {
      const tooMany: Fault.Fault = { kind: "status", status: 429, retryAfterSeconds: 0 }
      const { call, records, sim } = yield* start([tooMany, tooMany, tooMany, tooMany])
      const error = failure((yield* call("llm-gw-429-forever")).exit)
      assert.strictEqual(error._tag, "RetriesExhausted")
      if (error._tag === "RetriesExhausted") {
        assert.strictEqual(error.attempts, 3)
        assert.strictEqual(error.lastStatus, 429)
      }
      assert.strictEqual((yield* records(chatPath)).length, 3)
      assert.strictEqual((yield* sim.control.faults).queue.length, 1)
    }))

  it.scopedLive("5xx then success", () =>
    Effect.gen(function*() {
      const { call, records } = yield* start([{ kind: "status", status: 503 }, { kind: "status", status: 500 }])
      const result = yield* call("llm-gw-5xx")
      assert.strictEqual(result.done?.outcome, "complete")
      assert.strictEqual(result.done?.attempts, 3)
      assert.deepStrictEqual((yield* records(chatPath)).map((r) => r.status), [503, 500, 200])
    }))

  it.scopedLive("400 is GatewayRejected with the code and correlation id, not retried; its text only redacted", () =>
    Effect.gen(function*() {
      const { call, records } = yield* start([
        { kind: "status", status: 400, code: "bad.request", message: "something is off" }
      ])
      const error = failure((yield* call("llm-gw-400")).exit)
      const [chat] = yield* records(chatPath)
      assert.strictEqual(error._tag, "GatewayRejected")
      if (error._tag === "GatewayRejected") {
        assert.strictEqual(error.status, 400)
        assert.strictEqual(error.code, "bad.request")
        assert.notInclude(error.message, "something is off")
        assert.include(error.responseBody === undefined ? "" : Redacted.value(error.responseBody), "something is off")
        assert.strictEqual(error.correlationId, chat.correlationId)
      }
      assert.strictEqual((yield* records(chatPath)).length, 1)
    }))

  it.scopedLive("a payload the gateway refuses is GatewayRejected (invalid.prompt)", () =>
    Effect.gen(function*() {
      const { gateway } = yield* start()
      const exit = yield* gateway.stream({ payload: { ...payload, maxTokens: 99_999 }, idempotencyKey: "llm-gw-bad" })
        .pipe(
          Stream.runDrain,
          Effect.exit
        )
      const error = failure(exit)
      assert.strictEqual(error._tag, "GatewayRejected")
      if (error._tag === "GatewayRejected") assert.strictEqual(error.code, "invalid.prompt")
    }))

  it.scopedLive("401 once (expired token): one token refetch, then success", () =>
    Effect.gen(function*() {
      const { call, records, sim } = yield* start()
      assert.strictEqual((yield* call("llm-gw-before")).done?.outcome, "complete")
      yield* sim.control.enqueue({ kind: "expireToken" })
      const result = yield* call("llm-gw-401")
      assert.strictEqual(result.done?.outcome, "complete")
      assert.strictEqual(result.done?.attempts, 2)
      assert.strictEqual((yield* records("/oauth/token")).length, 2)
      assert.deepStrictEqual((yield* records(chatPath)).map((r) => r.status), [200, 401, 200])
    }))

  it.scopedLive("403 is AuthorizationFailed naming the scope", () =>
    Effect.gen(function*() {
      const { call } = yield* start([{ kind: "status", status: 403 }])
      const error = failure((yield* call("llm-gw-403")).exit)
      assert.strictEqual(error._tag, "AuthorizationFailed")
      assert.include(error.message, "ai:llm-gateway:write")
    }))

  it.scopedLive("wrong client credentials are AuthenticationFailed", () =>
    Effect.gen(function*() {
      const sim = yield* GatewaySimulator.make({})
      const context = yield* Layer.build(NodeGateway.layer({
        clientId: sim.credentials.clientId,
        clientSecret: Redacted.make("wrong secret"),
        apiUrl: sim.url
      }))
      const exit = yield* Context.get(context, Gateway.Gateway).stream({ payload, idempotencyKey: "llm-gw-auth" }).pipe(
        Stream.runDrain,
        Effect.exit
      )
      const error = failure(exit)
      assert.strictEqual(error._tag, "AuthenticationFailed")
      if (error._tag === "AuthenticationFailed") {
        assert.strictEqual(error.source, "login")
        assert.strictEqual(error.code, "invalid_client")
      }
      assert.strictEqual((yield* sim.control.requests).filter((r) => r.path === chatPath).length, 0)
    }))

  it.scopedLive("a delay past the deadline gives the fallback, and the request is abandoned", () =>
    Effect.gen(function*() {
      const { call, records } = yield* start([{ kind: "delay", ms: 5000 }], { maxLatencyMillis: 300 })
      const result = yield* call("llm-gw-delay", { fallbackText: "One moment please." })
      assert.deepStrictEqual(result.events.map((e) => e._tag), ["Fallback", "Done"])
      assert.strictEqual(result.done?.outcome, "fallback")
      assert.strictEqual(result.done?.text, "One moment please.")
      assert.strictEqual((yield* records(chatPath)).length, 1)
    }))

  it.scopedLive("a stall before the first frame gives the fallback", () =>
    Effect.gen(function*() {
      const { call, records } = yield* start([{ kind: "stall", afterFrames: 0 }], { maxLatencyMillis: 300 })
      const result = yield* call("llm-gw-stall-0")
      assert.deepStrictEqual(result.events.map((e) => e._tag), ["Fallback", "Done"])
      assert.strictEqual(result.done?.outcome, "fallback")
      const [chat] = yield* records(chatPath)
      assert.deepStrictEqual([chat.status, chat.fault, chat.frames], [200, "stall", 0])
    }))

  it.scopedLive("a stall after the first frame is StreamInterrupted carrying the delivered text", () =>
    Effect.gen(function*() {
      const { call, records } = yield* start([{ kind: "stall", afterFrames: 2 }], { frameGapMillis: 300 })
      const result = yield* call("llm-gw-stall-2")
      const error = failure(result.exit)
      assert.strictEqual(error._tag, "StreamInterrupted")
      if (error._tag === "StreamInterrupted") {
        assert.strictEqual(error.reason, "stall")
        assert.strictEqual(result.deltas.length, 2)
        assert.strictEqual(error.deliveredText, result.deltas.join(""))
      }
      assert.strictEqual((yield* records(chatPath)).length, 1)
    }))

  it.scopedLive("a gap longer than frameGapMillis on a slow stream ends the call and closes the connection", () =>
    Effect.gen(function*() {
      const { call, records } = yield* start([], { frameGapMillis: 200 }, { paceMs: 2000 }, false)
      const result = yield* call("llm-gw-slow")
      const error = failure(result.exit)
      assert.strictEqual(error._tag, "StreamInterrupted")
      if (error._tag === "StreamInterrupted") {
        assert.strictEqual(error.reason, "stall")
        assert.strictEqual(error.deliveredText, result.deltas.join(""))
        assert.strictEqual(result.deltas.length, 1)
      }
      assert.strictEqual(yield* disconnected(records), "client disconnected")
    }))

  it.scopedLive("a reset before the first frame is retried; the retry replays the whole answer", () =>
    Effect.gen(function*() {
      const { call, clean, records } = yield* start([{ kind: "reset", afterFrames: 0 }])
      const result = yield* call("llm-gw-reset-0")
      assert.strictEqual(result.done?.outcome, "complete")
      assert.strictEqual(result.done?.attempts, 2)
      assert.strictEqual(result.done?.text, clean)
      const chats = yield* records(chatPath)
      assert.deepStrictEqual(chats.map((r) => [r.idempotencyKey, r.replayed]), [
        ["llm-gw-reset-0", false],
        ["llm-gw-reset-0", true]
      ])
      // The same body bytes on both attempts: the server hashed the same sha256.
      assert.isNotNull(chats[0].bodySha256)
      assert.strictEqual(chats[0].bodySha256, chats[1].bodySha256)
    }))

  it.scopedLive("a reset after the first frame is StreamInterrupted with the delivered text, never retried", () =>
    Effect.gen(function*() {
      const { call, records } = yield* start([{ kind: "reset", afterFrames: 2 }])
      const result = yield* call("llm-gw-reset-2")
      const error = failure(result.exit)
      assert.strictEqual(error._tag, "StreamInterrupted")
      if (error._tag === "StreamInterrupted") {
        assert.include(["reset", "truncated"], error.reason)
        assert.strictEqual(error.deliveredText, result.deltas.join(""))
        assert.strictEqual(result.deltas.length, 2)
      }
      assert.strictEqual((yield* records(chatPath)).length, 1)
    }))

  it.scopedLive("a hangup before any answer is retried", () =>
    Effect.gen(function*() {
      const { call, records } = yield* start([{ kind: "hangup" }])
      const result = yield* call("llm-gw-hangup")
      assert.strictEqual(result.done?.outcome, "complete")
      assert.strictEqual(result.done?.attempts, 2)
      assert.strictEqual((yield* records(chatPath)).length, 2)
    }))

  it.scopedLive("malformed frames are skipped and counted; the text is the clean text", () =>
    Effect.gen(function*() {
      const { call, clean } = yield* start([
        { kind: "malformedFrame", afterFrames: 1 },
        { kind: "malformedFrame", afterFrames: 0, line: "not json" }
      ])
      const first = yield* call("llm-gw-malformed-1")
      assert.strictEqual(first.done?.text, clean)
      assert.strictEqual(first.done?.skippedFrames, 1)
      const strict = yield* call("llm-gw-malformed-2", { strictFrames: true })
      const error = failure(strict.exit)
      assert.strictEqual(error._tag, "MalformedFrame")
    }))

  for (
    const [name, fault] of [
      ["1-byte slices", { kind: "slice", bytes: 1 }],
      ["3-byte slices with CRLF", { kind: "slice", bytes: 3, lineEnding: "crlf" }],
      ["CRLF", { kind: "crlf" }],
      ["blank lines", { kind: "blankLines", count: 2, lineEnding: "crlf" }]
    ] as const
  ) {
    it.scopedLive(`${name} decode to the clean text`, () =>
      Effect.gen(function*() {
        const { call, clean } = yield* start([fault])
        const result = yield* call(`llm-gw-${fault.kind}`)
        assert.strictEqual(result.done?.outcome, "complete")
        assert.strictEqual(result.done?.text, clean)
        assert.strictEqual(result.done?.skippedFrames, 0)
        assert.isTrue(result.done?.usageReported)
      }))
  }

  it.scopedLive("a stream closed without usage completes with usageReported false", () =>
    Effect.gen(function*() {
      const { call, clean } = yield* start([{ kind: "closeWithoutUsage" }])
      const result = yield* call("llm-gw-no-usage")
      assert.strictEqual(result.done?.outcome, "complete")
      assert.strictEqual(result.done?.text, clean)
      assert.isFalse(result.done?.usageReported)
      assert.strictEqual(result.done?.completionTokens, 0)
    }))

  it.scopedLive("an empty 200 is no answer: retried, and the retry's answer is the call's", () =>
    Effect.gen(function*() {
      const { call, clean, records } = yield* start([{ kind: "closeWithoutUsage", afterFrames: 0 }])
      const result = yield* call("llm-gw-empty-then-whole")
      assert.strictEqual(result.done?.outcome, "complete")
      assert.strictEqual(result.done?.text, clean)
      assert.strictEqual(result.done?.attempts, 2)
      assert.deepStrictEqual((yield* records(chatPath)).map((r) => r.status), [200, 200])
    }))

  it.scopedLive("empty 200s on every attempt: InvalidAnswer (no-content)", () =>
    Effect.gen(function*() {
      const empty: Fault.Fault = { kind: "closeWithoutUsage", afterFrames: 0 }
      const { call } = yield* start([empty, empty, empty])
      const error = failure((yield* call("llm-gw-empty")).exit)
      assert.strictEqual(error._tag, "InvalidAnswer")
      if (error._tag === "InvalidAnswer") {
        assert.strictEqual(error.reason, "no-content")
        assert.strictEqual(error.attempts, 3)
      }
    }))

  it.scopedLive("an oversized frame: FrameTooLarge before the first frame, StreamInterrupted after", () =>
    Effect.gen(function*() {
      const { call, records } = yield* start(
        [{ kind: "oversizedFrame", bytes: 200_000, afterFrames: 0 }, {
          kind: "oversizedFrame",
          bytes: 200_000,
          afterFrames: 1
        }],
        { maxFrameBytes: 65_536 }
      )
      const before = failure((yield* call("llm-gw-big-0")).exit)
      assert.strictEqual(before._tag, "FrameTooLarge")
      const after = yield* call("llm-gw-big-1")
      const error = failure(after.exit)
      assert.strictEqual(error._tag, "StreamInterrupted")
      if (error._tag === "StreamInterrupted") {
        assert.strictEqual(error.reason, "frame-too-large")
        assert.strictEqual(error.deliveredText, after.deltas.join(""))
      }
      assert.strictEqual((yield* records(chatPath)).length, 2)
    }))

  it.scopedLive("50 concurrent callers with an empty cache make exactly one token request", () =>
    Effect.gen(function*() {
      const { call, records } = yield* start([], {}, { requestsPerMinute: 1000 }, false)
      const results = yield* Effect.all(
        Array.from({ length: 50 }, (_, i) => call(`llm-gw-concurrent-${i}`)),
        { concurrency: "unbounded" }
      )
      assert.isTrue(results.every((r) => r.done?.outcome === "complete"))
      assert.strictEqual((yield* records("/oauth/token")).length, 1)
      assert.strictEqual((yield* records(chatPath)).length, 50)
    }))

  it.scopedLive("interrupting the caller mid-stream closes the connection", () =>
    Effect.gen(function*() {
      // Paced frames (a stalled stream is recorded as "stalled" whatever the client does).
      const { gateway, records } = yield* start([], { frameGapMillis: 60_000 }, { paceMs: 500 }, false)
      const firstDelta = yield* Deferred.make<void>()
      const fiber = yield* gateway.stream({ payload, idempotencyKey: "llm-gw-interrupt" }).pipe(
        Stream.tap((event) => event._tag === "Delta" ? Deferred.succeed(firstDelta, undefined) : Effect.void),
        Stream.runDrain,
        Effect.fork
      )
      yield* Deferred.await(firstDelta)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* disconnected(records), "client disconnected")
    }))
})
