// The contract between the scripted `TestGateway` and the real `Gateway`: each scenario (text, usage, skipped
// lines, failures, interruptions, retries, delays, a late first frame) is played by both, the double from its
// script and the real gateway over `TestHttpClient` from the same wire answer, and both must give the same events
// at the same virtual times, the same end and the same `Gateway.complete` result. A double that drifts from what it
// stands for fails here.
import { assert, describe, it } from "@effect/vitest"
import { Gateway } from "@genesys-llm/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import * as TestGateway from "../src/TestGateway.js"
import { failureOf } from "../src/TestHelpers.js"
import * as TestHttpClient from "../src/TestHttpClient.js"
import { layer, request, runTimed } from "./gatewayHelpers.js"

/** One step of a scenario, each `delayMillis` after the previous one. */
type Step =
  | { readonly _tag: "Text"; readonly text: string; readonly delayMillis: number }
  | { readonly _tag: "Usage"; readonly completionTokens: number; readonly delayMillis: number }
  /** A line that is not JSON: the real gateway skips it; the double only counts it. */
  | { readonly _tag: "Skipped"; readonly line: string }

/** How the answer ends after its steps. */
type End =
  | { readonly _tag: "Complete" }
  | { readonly _tag: "Reset"; readonly delayMillis: number }
  | { readonly _tag: "Rejected"; readonly status: number; readonly code: string; readonly delayMillis: number }

interface Scenario {
  readonly name: string
  readonly steps: ReadonlyArray<Step>
  readonly end: End
  /** 503s answered before the answer (retried at once: the jitter draws 0). */
  readonly retried?: number
  readonly correlationId?: string
  readonly options?: Gateway.CallOptions
}

const text = (value: string, delayMillis = 0): Step => ({ _tag: "Text", text: value, delayMillis })
const usage = (completionTokens: number, delayMillis = 0): Step => ({ _tag: "Usage", completionTokens, delayMillis })
const skipped = (line: string): Step => ({ _tag: "Skipped", line })
const complete: End = { _tag: "Complete" }

const scenarios: ReadonlyArray<Scenario> = [
  { name: "text and usage, with delays", steps: [text("Hel", 100), text("lo", 250), usage(2, 50)], end: complete },
  { name: "text without usage", steps: [text("no usage here", 10)], end: complete },
  { name: "usage over several frames", steps: [text("a", 5), usage(1), text("b", 5), usage(2, 5)], end: complete },
  {
    name: "a correlation id and skipped lines",
    steps: [text("x", 20), skipped("not json"), skipped("{\"content\": cut"), text("y", 20), usage(1)],
    end: complete,
    correlationId: "corr-contract"
  },
  { name: "a first frame later than the deadline", steps: [text("late", 6_000), usage(1)], end: complete },
  {
    name: "a first frame later than the call's own deadline",
    steps: [text("late", 1_500)],
    end: complete,
    options: { maxLatencyMillis: 1_000, fallbackText: "Please hold." }
  },
  { name: "a first frame at exactly the deadline", steps: [text("on the dot", 5_000)], end: complete },
  { name: "a first frame just in time", steps: [text("just", 4_999), usage(1)], end: complete },
  {
    name: "a reset after some text",
    steps: [text("partial ", 30), usage(3, 10)],
    end: { _tag: "Reset", delayMillis: 500 }
  },
  { name: "a rejection", steps: [], end: { _tag: "Rejected", status: 400, code: "bad.request", delayMillis: 40 } },
  { name: "an answer after two 503s", steps: [text("third time", 15), usage(2)], end: complete, retried: 2 }
]

// The double's script of a scenario.
const scriptOf = (scenario: Scenario): TestGateway.Script => {
  const attempts = 1 + (scenario.retried ?? 0)
  const steps: Array<TestGateway.Step> = scenario.steps.flatMap((step) =>
    step._tag === "Text"
      ? [TestGateway.text(step.text, step.delayMillis)]
      : step._tag === "Usage"
      ? [TestGateway.usage(step.completionTokens, step.delayMillis)]
      : []
  )
  const { end } = scenario
  if (end._tag === "Reset") steps.push(TestGateway.interrupt("reset", end.delayMillis))
  if (end._tag === "Rejected") {
    steps.push(TestGateway.fail(
      new Gateway.GatewayRejected({
        status: end.status,
        code: end.code,
        attempts,
        ...(scenario.correlationId === undefined ? {} : { correlationId: scenario.correlationId })
      }),
      end.delayMillis
    ))
  }
  return {
    steps,
    attempts,
    correlationId: scenario.correlationId,
    skippedFrames: scenario.steps.filter((step) => step._tag === "Skipped").length
  }
}

// The wire answer of a scenario, for the real gateway.
const handlerOf = (scenario: Scenario): TestHttpClient.Handler => {
  const headers = scenario.correlationId === undefined ? {} : { "inin-correlation-id": scenario.correlationId }
  const { end } = scenario
  const answer: TestHttpClient.Reply = end._tag === "Rejected"
    ? TestHttpClient.response(
      end.status,
      [TestHttpClient.bytes(JSON.stringify({ code: end.code, message: "no" }), end.delayMillis)],
      { "content-type": "application/json", ...headers }
    )
    : TestHttpClient.response(
      200,
      [
        ...scenario.steps.map((step) =>
          step._tag === "Text"
            ? TestHttpClient.bytes(`${JSON.stringify({ content: step.text })}\n`, step.delayMillis)
            : step._tag === "Usage"
            ? TestHttpClient.bytes(
              `${JSON.stringify({ usage: { completion_tokens: step.completionTokens } })}\n`,
              step.delayMillis
            )
            : TestHttpClient.bytes(`${step.line}\n`)
        ),
        ...(end._tag === "Reset" ? [TestHttpClient.reset("socket hang up", end.delayMillis)] : [])
      ],
      { "content-type": "application/x-ndjson", ...headers }
    )
  const unavailable = TestHttpClient.json(503, { message: "busy" }, headers)
  let sent = 0
  return () => Effect.sync(() => sent++ < (scenario.retried ?? 0) ? unavailable : answer)
}

const gatewayLayers = (scenario: Scenario): Record<"double" | "real", () => Layer.Layer<Gateway.Gateway>> => ({
  double: () => TestGateway.layer(scriptOf(scenario)),
  real: () => layer(handlerOf(scenario))
})

// The fields of an error that a caller reads; not its words (`detail`, `message`) nor the kept body.
const fieldsOf = (error: Gateway.GatewayError) => {
  const { detail: _detail, responseBody: _body, ...fields } = { ...error } as Record<string, unknown>
  return fields
}

// One call on the TestClock: each event with the virtual time it came, how the call ended (the fields of its error)
// and when.
const play = (scenario: Scenario) =>
  Effect.gen(function*() {
    const gateway = yield* Gateway.Gateway
    const { endedAt, events, exit } = yield* runTimed(gateway.stream(request(scenario.options)))
    return { events, endedAt, error: Exit.isFailure(exit) ? fieldsOf(failureOf(exit)) : undefined }
  })

// `Gateway.complete` on the TestClock: its Completion, or the fields of its error.
const completion = (scenario: Scenario) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(Effect.either(Gateway.complete(request(scenario.options))))
    yield* TestClock.adjust("10 minutes")
    const result = yield* Fiber.join(fiber)
    return result._tag === "Right" ? result.right : fieldsOf(result.left)
  })

const both = <A>(scenario: Scenario, run: (scenario: Scenario) => Effect.Effect<A, never, Gateway.Gateway>) =>
  Effect.gen(function*() {
    const layers = gatewayLayers(scenario)
    const double = yield* run(scenario).pipe(Effect.provide(layers.double()))
    const real = yield* run(scenario).pipe(Effect.provide(layers.real()))
    return { double, real }
  }).pipe(Effect.withRandom(Random.fixed([0])))

describe("TestGateway keeps the real Gateway's contract", () => {
  for (const scenario of scenarios) {
    it.effect(`${scenario.name}: the same events at the same times, and the same end`, () =>
      Effect.gen(function*() {
        const { double, real } = yield* both(scenario, play)
        assert.isAbove(real.events.length + (real.error === undefined ? 0 : 1), 0)
        assert.deepStrictEqual(double, real)
      }))

    it.effect(`${scenario.name}: the same Completion`, () =>
      Effect.gen(function*() {
        const { double, real } = yield* both(scenario, completion)
        assert.deepStrictEqual(double, real)
      }))
  }
})
