/**
 * The demo: the whole pipeline against the gateway simulator, started in this process on a free loopback port.
 *
 *   pnpm demo
 *
 * It walks through a streamed answer, context trimming, a safety block and a redaction, a 429 retried with the same
 * idempotency key, a stall answered by the fallback, the audit log verified, and the webhook outbox delivered to a
 * local receiver once it comes back. Its files (audit log, webhook outbox) stay in a temporary folder it names.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { AuditLog, MetricsWebhook, Pipeline } from "@genesys-llm/core"
import { NodePipeline } from "@genesys-llm/node"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { createServer } from "node:http"
import * as path from "node:path"
import { runIfMain } from "./internal/main.js"

const model = "genesys-demo-model"

const prompt = (content: string, extra: { readonly maxTokens?: number; readonly history?: number } = {}) => ({
  systemInstructions: ["You are a concise contact-center assistant."],
  context: [
    ...Array.from({ length: extra.history ?? 0 }, (_, i) => ({
      role: i % 2 === 0 ? "user" : "agent",
      content: `Earlier turn ${i + 1}: ${"we talked about the delivery address and the invoice. ".repeat(8)}`
    })),
    { role: "user", content }
  ],
  temperature: 0.3,
  maxTokens: extra.maxTokens ?? 256,
  modelId: model
})

const heading = (n: number, title: string) => Console.log(`\n== ${n}. ${title}`)
const write = (text: string) => Effect.sync(() => process.stdout.write(text))

// A local cost-tracking receiver. It starts "down" (answers 503) and records every event it accepts.
const receiver = Effect.gen(function*() {
  const accepting = yield* Ref.make(false)
  const received = yield* Ref.make<ReadonlyArray<MetricsWebhook.Event>>([])
  const app = HttpRouter.empty.pipe(
    HttpRouter.post(
      "/events",
      Effect.gen(function*() {
        if (!(yield* Ref.get(accepting))) return HttpServerResponse.text("down for maintenance", { status: 503 })
        const event = yield* HttpServerRequest.schemaBodyJson(MetricsWebhook.Event)
        yield* Ref.update(received, (all) => [...all, event])
        return HttpServerResponse.empty({ status: 204 })
      }).pipe(Effect.orElseSucceed(() => HttpServerResponse.empty({ status: 400 })))
    )
  )
  // The server lives as long as the demo's scope.
  const server = yield* Layer.build(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
  yield* HttpServer.serveEffect(app).pipe(Effect.forkScoped, Effect.provide(server))
  const address = yield* HttpServer.addressFormattedWith((url) => Effect.succeed(url)).pipe(Effect.provide(server))
  return { url: `${address}/events`, accepting, received }
})

/** What the demo saw, for the test that runs it. */
export interface Summary {
  readonly folder: string
  readonly streamed: Pipeline.Completion
  readonly trimmed: number
  readonly blockedRules: ReadonlyArray<string>
  readonly redactedRules: ReadonlyArray<string>
  readonly retried: { readonly attempts: number; readonly keys: ReadonlyArray<string | null> }
  readonly fallback: Pipeline.Completion
  readonly audit: AuditLog.VerifyResult
  readonly webhook: { readonly outboxBefore: number; readonly delivered: number; readonly unique: number }
}

export const program = Effect.scoped(Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const folder = yield* fs.makeTempDirectory({ prefix: "genesys-llm-demo-" })
  const auditLogPath = path.join(folder, "llm-audit.log")
  const outboxPath = path.join(folder, "webhook-outbox.jsonl")

  const simulator = yield* GatewaySimulator.make({ paceMs: 25, frameChars: 12 })
  const hook = yield* receiver
  yield* Console.log(`genesys-llm demo: gateway simulator at ${simulator.url}, files in ${folder}`)

  const pipelineLayer = NodePipeline.layer({
    gateway: {
      apiUrl: simulator.url,
      clientId: simulator.credentials.clientId,
      clientSecret: simulator.credentials.clientSecret
    },
    auditLogPath,
    webhook: { url: hook.url, outboxPath, redelivery: { initialDelay: "200 millis", maxDelay: "1 second" } },
    fallbackText: "Thanks for waiting - an agent will pick this up in a moment.",
    safety: { actions: { email: "redact" } }
  })

  const summary = yield* Effect.gen(function*() {
    const pipeline = yield* Pipeline.Pipeline
    const webhook = yield* MetricsWebhook.MetricsWebhook

    yield* heading(1, "A streamed answer")
    let streamed: Pipeline.Completion | undefined
    yield* write("  ")
    yield* pipeline.stream(prompt("Where is my parcel? It was due yesterday.")).pipe(
      Stream.runForEach((event) =>
        event._tag === "TextDelta"
          ? write(event.text)
          : Effect.sync(() => {
            streamed = event.completion
          })
      )
    )
    if (streamed === undefined) return yield* Effect.dieMessage("the stream ended without a completion")
    yield* Console.log(
      `\n  -> ${streamed.status}, ${streamed.tokensUsed} tokens, ${streamed.attempts} attempt, ` +
        `${streamed.latencyMs} ms, key ${streamed.idempotencyKey}`
    )

    yield* heading(2, "Context trimming: oldest messages go first, the newest stays")
    const trimmed = yield* pipeline.run(prompt("And can I change the address?", { history: 20, maxTokens: 400 }))
    yield* Console.log(
      `  21 context messages, budget 80% of 400 tokens: ${trimmed.droppedContextMessages} dropped, ` +
        `${21 - trimmed.droppedContextMessages} sent`
    )

    yield* heading(3, "Safety: a card number is blocked before anything leaves; an e-mail address is redacted")
    const blocked = yield* Effect.flip(pipeline.run(prompt("Charge my card 4111 1111 1111 1111 again please.")))
    yield* Console.log(`  blocked (${blocked.status}): ${blocked.message}`)
    const redacted = yield* pipeline.run(prompt("Send the invoice to jane.doe@example.com, thanks."))
    for (const hit of redacted.redactions) {
      yield* Console.log(
        `  redacted: ${hit.count} x ${hit.ruleId} in ${hit.path}; the gateway saw [REDACTED:${hit.ruleId}]`
      )
    }

    yield* heading(4, "Throttled: a 429 with Retry-After: 1, retried with the same idempotency key")
    yield* simulator.control.enqueue({ kind: "status", status: 429, retryAfterSeconds: 1 })
    const retried = yield* pipeline.run(prompt("Is the store open on Sunday?"))
    const attemptsSeen = (yield* simulator.control.requests).filter((r) => r.idempotencyKey === retried.idempotencyKey)
    for (const r of attemptsSeen) {
      yield* Console.log(`  gateway saw ${r.method} ${r.path} key=${r.idempotencyKey} -> ${r.status}`)
    }
    yield* Console.log(`  -> ${retried.status} after ${retried.attempts} attempts, ${retried.latencyMs} ms`)

    yield* heading(5, "A stalled model: the fallback answers when the first frame is late (max latency 1500 ms)")
    yield* simulator.control.enqueue({ kind: "stall", afterFrames: 0 })
    const fallback = yield* pipeline.run(prompt("What is my balance?"), { call: { maxLatencyMillis: 1_500 } })
    yield* Console.log(`  -> ${fallback.status} after ${fallback.latencyMs} ms: "${fallback.text}"`)

    // Each line is written and synced before its call returns, so the file is complete now.
    yield* heading(6, "The audit log: one hash-chained line per call, verified")
    const audit = yield* AuditLog.verify(auditLogPath)
    yield* AuditLog.VerifyResult.$match(audit, {
      Intact: (r) =>
        Console.log(`  ${auditLogPath}: intact, ${r.entries} entries, chain head ${r.head.hash.slice(0, 16)}...`),
      Broken: (r) => Console.log(`  ${auditLogPath}: BROKEN at line ${r.line} (${r.reason})`)
    })
    const firstLine = (yield* fs.readFileString(auditLogPath)).split("\n")[0]
    yield* Console.log(`  first line: ${firstLine}`)

    yield* heading(7, "The cost webhook: the receiver was down, so every event waits in the outbox")
    const outboxBefore = yield* webhook.outboxSize
    yield* Console.log(`  ${outboxBefore} events in ${outboxPath}`)
    yield* Ref.set(hook.accepting, true)
    yield* Console.log("  the receiver is back; redelivering...")
    yield* webhook.pending.pipe(
      Effect.filterOrFail((n) => n === 0),
      Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("20 seconds"))),
      Effect.orElse(() => Effect.logWarning("the outbox did not drain in 20 seconds"))
    )
    const received = yield* Ref.get(hook.received)
    const unique = new Set(received.map((e) => e.event_id)).size
    yield* Console.log(
      `  the receiver got ${received.length} events (${unique} distinct event ids); outbox now ${yield* webhook
        .outboxSize}`
    )
    return {
      streamed,
      trimmed: trimmed.droppedContextMessages,
      blocked,
      redacted,
      retried,
      attemptsSeen,
      fallback,
      audit,
      outboxBefore,
      received,
      unique
    }
  }).pipe(Effect.provide(pipelineLayer))

  yield* Console.log(`\nDone. Files left in ${folder}`)

  return {
    folder,
    streamed: summary.streamed,
    trimmed: summary.trimmed,
    blockedRules: summary.blocked.cause._tag === "SafetyViolation" ? summary.blocked.cause.ruleIds : [],
    redactedRules: summary.redacted.redactions.map((r) => r.ruleId),
    retried: { attempts: summary.retried.attempts, keys: summary.attemptsSeen.map((r) => r.idempotencyKey) },
    fallback: summary.fallback,
    audit: summary.audit,
    webhook: { outboxBefore: summary.outboxBefore, delivered: summary.received.length, unique: summary.unique }
  } satisfies Summary
})).pipe(Effect.provide(NodeFileSystem.layer))

runIfMain(import.meta, program)
