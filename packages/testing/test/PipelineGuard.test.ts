// The pipeline's edges: how a call is recorded when it does not reach its end, and the streaming output guard.
import { assert, describe, it } from "@effect/vitest"
import { AuditSink, Gateway, Pipeline, SafetyPolicy } from "@genesys-llm/core"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as OutputGuard from "../../core/src/internal/outputGuard.js"
import * as TestGateway from "../src/TestGateway.js"
import * as TestMetricsWebhook from "../src/TestMetricsWebhook.js"
import * as TestPipeline from "../src/TestPipeline.js"

const payload = (content: string) => ({
  systemInstructions: [],
  context: [{ role: "user", content }],
  temperature: 0,
  maxTokens: 512,
  modelId: "model-a"
})

// 100 characters of ordinary prose a frame; 60 frames make 6,000, less than the longest default match (about
// 7,200), so a guard that held back that much would release nothing before the end.
const frame = "All good here, your order ships today. ".repeat(3).slice(0, 100)

const deltasOf = (input: unknown) =>
  Pipeline.stream(input).pipe(
    Stream.filterMap((event) => event._tag === "TextDelta" ? Option.some(event.text) : Option.none()),
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray)
  )

describe("Pipeline: calls that do not reach their end", () => {
  it.effect("a consumer that stops reading early is recorded as cancelled, once", () =>
    Effect.gen(function*() {
      const first = yield* Pipeline.stream(payload("Hi")).pipe(Stream.take(1), Stream.runCollect)
      assert.strictEqual(Chunk.size(first), 1)
      const entries = yield* TestPipeline.auditEntries
      assert.deepStrictEqual(entries.map((e) => e.status), ["cancelled"])
      assert.strictEqual((yield* TestPipeline.published).length, 1)
    }).pipe(Effect.provide(
      TestPipeline.layer(TestGateway.script(TestGateway.text("one"), TestGateway.text(" two"))).pipe(Layer.orDie)
    )))

  it.effect("an error after text from any gateway layer ends with what was delivered", () =>
    Effect.gen(function*() {
      const completion = yield* Pipeline.run(payload("Hi"))
      assert.strictEqual(completion.status, "error")
      assert.strictEqual(completion.text, "Partial")
      assert.strictEqual(completion.interruption?.reason, "gateway-error")
      assert.deepStrictEqual((yield* TestPipeline.auditEntries).map((e) => [e.status, e.errorTag]), [
        ["error", "CallTimeout"]
      ])
    }).pipe(Effect.provide(
      TestPipeline.layer(TestGateway.script(
        TestGateway.text("Partial"),
        TestGateway.fail(new Gateway.CallTimeout({ timeoutMillis: 1000, attempts: 1 }))
      )).pipe(Layer.orDie)
    )))

  it.effect("a stuck audit sink delays the call's end by the audit timeout, never forever", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Pipeline.run(payload("Hi")))
      yield* TestClock.adjust("1999 millis")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 millis")
      const completion = yield* Fiber.join(fiber)
      assert.strictEqual(completion.status, "success")
      // The webhook event is published even though the audit write never answered.
      assert.strictEqual((yield* TestMetricsWebhook.records).length, 1)
    }).pipe(Effect.provide(
      Pipeline.layer({ auditTimeout: "2 seconds" }).pipe(
        Layer.provideMerge(Layer.succeed(AuditSink.AuditSink, { write: () => Effect.never })),
        Layer.provideMerge(TestPipeline.layer(TestGateway.reply("ok")).pipe(Layer.orDie))
      )
    )))
})

describe("Pipeline: the output guard", () => {
  it.effect("streams a long answer in pieces with the default rules, not all at the end", () =>
    Effect.gen(function*() {
      const deltas = yield* deltasOf(payload("Hi"))
      assert.isAtLeast(deltas.length, 10)
      assert.strictEqual(deltas.join(""), frame.repeat(60))
    }).pipe(Effect.provide(
      TestPipeline.layer(
        TestGateway.script(
          ...Array.from({ length: 60 }, () => TestGateway.text(frame))
        ),
        { outputGuard: true }
      ).pipe(Layer.orDie)
    )))

  it.effect("refuses a rule without a finite maxMatchLength: it would hold the whole answer", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Layer.build(
          TestPipeline.layer(TestGateway.reply("ok"), {
            outputGuard: true,
            safety: { custom: [SafetyPolicy.fromRegExp({ id: "ticket", pattern: /TCK-\d{6}/ })] }
          })
        ).pipe(Effect.scoped)
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "ticket")
    }))
})

// Values each default rule finds, none of which may ever leave the guard unredacted.
const secrets = [
  "4111 1111 1111 1111",
  "371449635398431",
  "123-45-6789",
  "AKIAIOSFODNN7EXAMPLE",
  "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
  "password: hunter2secret",
  "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2lnbmF0dXJl",
  "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----",
  // Longer than the guard's short hold: only its anchor (`Bearer`) keeps its start from being released early.
  `Bearer eyJ${"h".repeat(600)}LONGHEADER.eyJwYXlsb2FkIn0.c2lnbmF0dXJl`
]
const raw = ["4111 1111 1111 1111", "371449635398431", "123-45-6789", "AKIAIOSFODNN7EXAMPLE", "hunter2secret"]

describe("OutputGuard", () => {
  it.prop(
    "whatever the chunking, no finding's text is released, and the text around it is kept",
    [
      FastCheck.array(
        FastCheck.oneof(
          FastCheck.constantFrom(...secrets),
          FastCheck.constantFrom("the order shipped", "call me later", "ok", "id 42", " ", "\n", "thanks!")
        ),
        // Long enough that the guard releases text before the end many times, with cuts among the findings.
        { minLength: 20, maxLength: 200 }
      ),
      FastCheck.array(FastCheck.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 20 })
    ],
    ([parts, cuts]) => {
      const text = parts.join(" ")
      const guard = OutputGuard.make(SafetyPolicy.defaultRules)
      let out = ""
      let i = 0
      let k = 0
      while (i < text.length) {
        const size = cuts[k++ % cuts.length]
        out += guard.push(text.slice(i, i + size))
        i += size
      }
      out += guard.flush()
      for (const value of raw) assert.notInclude(out, value)
      assert.notInclude(out, "MIIBOgIBAAJBAKj34")
      assert.notInclude(out, "c2lnbmF0dXJlc2lnbmF0dXJl")
      assert.notInclude(out, "hhhhhhhh")
      // Whole-text redaction and the guard agree on this text: the same output, however it was chunked.
      const whole = SafetyPolicy.redactText(text, SafetyPolicy.scanText(SafetyPolicy.defaultRules, text))
      assert.strictEqual(out, whole)
    },
    { fastCheck: { numRuns: 300 } }
  )
})
