import { assert, describe, it } from "@effect/vitest"
import { Gateway, GatewayError, Pipeline } from "@genesys-llm/core"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as TestAuditSink from "../src/TestAuditSink.js"
import * as TestHttpClient from "../src/TestHttpClient.js"
import { chatRequests, frames, input, layer, pipelineOver, request } from "./gatewayHelpers.js"

// `open` is the gateway's call pulled by hand (what `Pipeline.run` uses); `stream` repeats that pull. Both must give
// the same events and the same failures, whatever the answer.

interface Pulled {
  readonly events: ReadonlyArray<Gateway.Event>
  readonly error: Gateway.GatewayError | undefined
}

// Opens a call and pulls it to its end; then pulls once more, which must still say "ended".
const pulled = (req: Gateway.Request) =>
  Effect.scoped(Effect.gen(function*() {
    const gateway = yield* Gateway.Gateway
    const opened = yield* Effect.either(gateway.open(req))
    if (Either.isLeft(opened)) return { events: [], error: opened.left } satisfies Pulled
    const events: Array<Gateway.Event> = []
    for (;;) {
      const next = yield* Effect.either(opened.right)
      if (Either.isRight(next)) {
        assert.isTrue(Chunk.isNonEmpty(next.right), "a pull gives events or ends")
        events.push(...next.right)
        continue
      }
      // After its end or its failure, a call says it ended, every time.
      for (let i = 0; i < 2; i++) {
        const again = yield* Effect.either(opened.right)
        assert.isTrue(Either.isLeft(again) && Option.isNone(again.left), "an ended call stays ended")
      }
      return { events, error: Option.getOrUndefined(next.left) } satisfies Pulled
    }
  }))

const streamed = (req: Gateway.Request) =>
  Effect.gen(function*() {
    const gateway = yield* Gateway.Gateway
    const events: Array<Gateway.Event> = []
    const exit = yield* gateway.stream(req).pipe(
      Stream.runForEach((event) => Effect.sync(() => events.push(event))),
      Effect.exit
    )
    if (Exit.isSuccess(exit)) return { events, error: undefined } satisfies Pulled
    if (exit.cause._tag !== "Fail") return assert.fail(`expected a typed failure, got ${exit.cause._tag}`)
    return { events, error: exit.cause.error } satisfies Pulled
  })

// Runs `self` with the clock moved a minute on, so that deadlines fire.
const withTime = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(self)
    yield* TestClock.adjust("1 minute")
    return yield* Fiber.join(fiber)
  })

const both = (req: Gateway.Request) =>
  Effect.gen(function*() {
    const byOpen = yield* withTime(pulled(req))
    const byStream = yield* withTime(streamed(req))
    assert.deepStrictEqual(byOpen, byStream)
    return byOpen
  })

const answer = TestHttpClient.ndjson([...frames("Hello", ", ", "world"), { usage: { completion_tokens: 3 } }])

describe("Gateway.open", () => {
  it.effect("an answer: the deltas, then Done, then the end", () =>
    Effect.gen(function*() {
      const { error, events } = yield* both(request())
      assert.isUndefined(error)
      assert.deepStrictEqual(events.map((e) => e._tag), ["Delta", "Delta", "Delta", "Done"])
      const done = events[3]
      assert.strictEqual(done._tag === "Done" ? done.text : undefined, "Hello, world")
      assert.strictEqual(done._tag === "Done" ? done.completionTokens : undefined, 3)
    }).pipe(Effect.provide(layer(TestHttpClient.always(answer)))))

  it.effect("an answer of usage alone, no text: Done alone", () =>
    Effect.gen(function*() {
      const { error, events } = yield* both(request())
      assert.isUndefined(error)
      assert.deepStrictEqual(events.map((e) => e._tag), ["Done"])
    }).pipe(Effect.provide(layer(TestHttpClient.always(TestHttpClient.ndjson([{ usage: { completion_tokens: 0 } }]))))))

  it.effect("a break after text: the deltas, then StreamInterrupted from the pull", () =>
    Effect.gen(function*() {
      const { error, events } = yield* both(request())
      assert.deepStrictEqual(events.map((e) => e._tag === "Delta" ? e.text : e._tag), ["Hello", ", "])
      assert.strictEqual(error?._tag, "StreamInterrupted")
    }).pipe(Effect.provide(layer(TestHttpClient.always(
      TestHttpClient.ndjson(frames("Hello", ", "), { then: [TestHttpClient.reset()] })
    )))))

  it.effect("a rejection: open itself fails, with no event", () =>
    Effect.gen(function*() {
      const { error, events } = yield* both(request())
      assert.deepStrictEqual(events, [])
      assert.strictEqual(error?._tag, "GatewayRejected")
    }).pipe(Effect.provide(layer(TestHttpClient.always(TestHttpClient.json(400, { code: "bad.request" }))))))

  it.effect("no first frame in time: Fallback, then Done", () =>
    Effect.gen(function*() {
      const { error, events } = yield* both(request({ fallbackText: "Later." }))
      assert.isUndefined(error)
      assert.deepStrictEqual(events.map((e) => e._tag), ["Fallback", "Done"])
      assert.strictEqual(events[0]._tag === "Fallback" ? events[0].text : undefined, "Later.")
    }).pipe(Effect.provide(layer(TestHttpClient.always(TestHttpClient.hangReply)))))

  it.effect("closing the scope of an opened call aborts its body", () =>
    Effect.gen(function*() {
      const gateway = yield* Gateway.Gateway
      const first = yield* Effect.scoped(Effect.flatMap(gateway.open(request()), (pull) => pull))
      assert.deepStrictEqual(Chunk.toReadonlyArray(first).map((e) => e._tag), ["Delta"])
      const requests = yield* chatRequests
      assert.strictEqual(requests.length, 1)
      assert.strictEqual(requests[0].bodyOutcome, "interrupted")
    }).pipe(Effect.provide(layer(TestHttpClient.always(
      TestHttpClient.ndjson(frames("Hello"), { then: [TestHttpClient.hang] })
    )))))
})

describe("Gateway.fromStream", () => {
  it.effect("open fails once with the stream's error, then says it ended", () =>
    Effect.gen(function*() {
      const error = new GatewayError.TransportError({ description: "connect ECONNREFUSED", attempts: 1 })
      const gateway = Gateway.fromStream(() =>
        Stream.concat(Stream.make<Array<Gateway.Event>>({ _tag: "Delta", text: "a" }), Stream.fail(error))
      )
      const result = yield* pulled(request()).pipe(Effect.provideService(Gateway.Gateway, gateway))
      assert.deepStrictEqual(result.events.map((e) => e._tag), ["Delta"])
      assert.strictEqual(result.error, error)
    }))

  it.effect("open pulls the given stream", () =>
    Effect.gen(function*() {
      const done: Gateway.Done = {
        _tag: "Done",
        outcome: "complete",
        text: "ab",
        completionTokens: 0,
        usageReported: false,
        attempts: 1,
        skippedFrames: 0,
        correlationId: undefined
      }
      const gateway = Gateway.fromStream(() =>
        Stream.make<Array<Gateway.Event>>({ _tag: "Delta", text: "a" }, { _tag: "Delta", text: "b" }, done)
      )
      const { error, events } = yield* pulled(request()).pipe(Effect.provideService(Gateway.Gateway, gateway))
      assert.isUndefined(error)
      assert.deepStrictEqual(events.map((e) => e._tag === "Delta" ? e.text : e._tag), ["a", "b", "Done"])
    }))
})

// The pipeline over the real gateway: `run` (which pulls) and `stream` end every kind of call alike.
const stages = (chat: TestHttpClient.Handler) => pipelineOver(layer(chat))

type Ending =
  | { readonly _tag: "Completion"; readonly completion: Pipeline.Completion }
  | { readonly _tag: "Failure"; readonly error: Pipeline.PipelineError }

const endingOf = <A>(exit: Exit.Exit<A, Pipeline.PipelineError>, completion: (a: A) => Pipeline.Completion) => {
  if (Exit.isSuccess(exit)) return { _tag: "Completion", completion: completion(exit.value) } satisfies Ending
  if (exit.cause._tag !== "Fail") return assert.fail(`expected a typed failure, got ${exit.cause._tag}`)
  return { _tag: "Failure", error: exit.cause.error } satisfies Ending
}

// Latency and keys differ between two calls; everything else must not.
const comparable = (ending: Ending) =>
  ending._tag === "Completion"
    ? { ...ending.completion, latencyMs: 0, timeToFirstFrameMs: 0, idempotencyKey: "" }
    : { status: ending.error.status, cause: ending.error.cause._tag, attempts: ending.error.attempts }

const runAndStream = Effect.gen(function*() {
  const byRun = endingOf(yield* withTime(Effect.exit(Pipeline.run(input))), (c) => c)
  const byStream = endingOf(
    yield* withTime(Effect.exit(Stream.runLast(Pipeline.stream(input)))),
    (last) => {
      if (Option.isNone(last) || last.value._tag !== "Completed") return assert.fail("expected a Completed event")
      return last.value.completion
    }
  )
  assert.deepStrictEqual(comparable(byRun), comparable(byStream))
  const entries = yield* Effect.flatMap(TestAuditSink.TestAuditSink, (control) => control.entries)
  assert.strictEqual(entries.length, 2, "one audit line per call")
  assert.strictEqual(entries[0].status, entries[1].status)
  return byRun
})

describe("Pipeline.run over the gateway's pull", () => {
  it.effect("an answer", () =>
    Effect.gen(function*() {
      const ending = yield* runAndStream
      assert.strictEqual(ending._tag === "Completion" ? ending.completion.text : undefined, "Hello, world")
    }).pipe(Effect.provide(stages(TestHttpClient.always(answer)))))

  it.effect("a break after text", () =>
    Effect.gen(function*() {
      const ending = yield* runAndStream
      if (ending._tag !== "Completion") return assert.fail("expected a completion")
      assert.strictEqual(ending.completion.status, "error")
      assert.strictEqual(ending.completion.text, "Hello, ")
      assert.strictEqual(ending.completion.interruption?.reason, "reset")
    }).pipe(Effect.provide(stages(TestHttpClient.always(
      TestHttpClient.ndjson(frames("Hello", ", "), { then: [TestHttpClient.reset()] })
    )))))

  it.effect("a rejection", () =>
    Effect.gen(function*() {
      const ending = yield* runAndStream
      if (ending._tag !== "Failure") return assert.fail("expected a failure")
      assert.strictEqual(ending.error.status, "error")
      assert.strictEqual(ending.error.cause._tag, "GatewayRejected")
    }).pipe(Effect.provide(stages(TestHttpClient.always(TestHttpClient.json(400, { code: "bad.request" }))))))

  it.effect("a fallback", () =>
    Effect.gen(function*() {
      const ending = yield* runAndStream
      if (ending._tag !== "Completion") return assert.fail("expected a completion")
      assert.strictEqual(ending.completion.status, "fallback")
      assert.strictEqual(ending.completion.text, "One moment please.")
    }).pipe(Effect.provide(stages(TestHttpClient.always(TestHttpClient.hangReply)))))
})
