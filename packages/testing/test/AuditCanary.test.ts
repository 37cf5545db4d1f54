import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import { AuditEntry, AuditLog, MetricsWebhook, Outbox } from "@genesys-llm/core"
import { MemoryFileSystem } from "@genesys-llm/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"

const canaries = {
  clientSecret: "s3cr3t-CLIENT-CANARY-9f8e7d",
  bearer: "eyJhbGciOiJIUzI1NiJ9.CANARYbearer.c2lnbmF0dXJl",
  ssn: "078-05-1120",
  card: "4111 1111 1111 1111"
}
const fragments = [
  canaries.clientSecret,
  "CANARY",
  canaries.bearer,
  "CANARYbearer",
  canaries.ssn,
  "078051120",
  canaries.card,
  "4111111111111111"
]

const payload = {
  systemInstructions: [`You are an agent. client_secret=${canaries.clientSecret}`],
  context: [
    { role: "user", content: `My SSN is ${canaries.ssn} and my card is ${canaries.card}` },
    { role: "agent", content: `Calling with Authorization: Bearer ${canaries.bearer}` },
    { role: "user", content: "4111111111111111" }
  ],
  temperature: 0.3,
  maxTokens: 512,
  modelId: "gpt-4o-mini"
}

describe("no canary leaves the process through the audit trail", () => {
  it.effect("audit file, outbox and webhook payloads hold none of the prompt's secrets or PII", () =>
    Effect.gen(function*() {
      const control = yield* MemoryFileSystem.MemoryFileSystem
      const up = yield* Ref.make(false)
      const bodies = yield* Ref.make<ReadonlyArray<string>>([])
      const client = HttpClient.make((request) =>
        Effect.gen(function*() {
          const body = request.body._tag === "Uint8Array" ? new TextDecoder().decode(request.body.body) : ""
          yield* Ref.update(bodies, (all) => [...all, body])
          if (!(yield* Ref.get(up))) {
            return yield* new HttpClientError.RequestError({ request, reason: "Transport", description: "down" })
          }
          return HttpClientResponse.fromWeb(request, new Response(null, { status: 200 }))
        })
      )

      const records = [
        // blocked by safety: the rule ids are recorded, not the matches
        yield* AuditEntry.fromCall({
          status: "blocked",
          idempotencyKey: "llm-gw-00000000-0000-4000-8000-000000000001",
          input: payload,
          latencyMs: 3,
          safetyRuleIds: ["secret-assignment", "us-ssn", "card-number", `bearer ${canaries.bearer}`]
        }),
        // a gateway failure whose error message echoes the secret
        yield* AuditEntry.fromCall({
          status: "error",
          idempotencyKey: "llm-gw-00000000-0000-4000-8000-000000000002",
          input: payload,
          latencyMs: 812,
          tokensUsed: 5,
          attempts: 3,
          error: { _tag: "GatewayHttpError", message: `401 for Bearer ${canaries.bearer}`, body: canaries.ssn },
          correlationId: `corr ${canaries.ssn}`
        }),
        // a model id that carries a secret, and a model id that is a card number
        yield* AuditEntry.fromCall({
          status: "success",
          idempotencyKey: "llm-gw-00000000-0000-4000-8000-000000000003",
          input: { ...payload, modelId: `Bearer ${canaries.bearer}` },
          latencyMs: 1200,
          tokensUsed: 77
        }),
        yield* AuditEntry.fromCall({
          status: "invalid",
          idempotencyKey: canaries.clientSecret.replace("s3cr3t-CLIENT-", "not a key "),
          input: { ...payload, modelId: "4111111111111111" },
          latencyMs: 0
        })
      ]

      const scope = yield* Scope.make()
      const sink = yield* AuditLog.make({ path: "/audit/llm-audit.log" }).pipe(Scope.extend(scope))
      const outbox = yield* Outbox.makeFile({ path: "/audit/outbox.jsonl" }).pipe(Scope.extend(scope))
      const webhook = yield* MetricsWebhook.make({ url: "http://127.0.0.1:9/hook" }).pipe(
        Effect.provide(Layer.succeed(HttpClient.HttpClient, client)),
        Effect.provideService(Outbox.Outbox, outbox),
        Scope.extend(scope)
      )
      for (const record of records) {
        yield* sink.write(record)
        yield* webhook.publish(record)
      }
      // Receiver down: the events wait in the outbox; look at it before they are delivered.
      for (let i = 0; i < 1000 && (yield* webhook.outboxSize) < records.length; i++) yield* Effect.yieldNow()
      assert.strictEqual(yield* webhook.outboxSize, records.length)
      const files = yield* control.snapshot
      assert.isTrue(files.has("/audit/outbox.jsonl"))
      yield* Ref.set(up, true)
      yield* TestClock.adjust("1 second")
      for (let i = 0; i < 1000 && (yield* webhook.outboxSize) > 0; i++) yield* Effect.yieldNow()
      yield* Scope.close(scope, Exit.void)

      const sent = yield* Ref.get(bodies)
      assert.strictEqual(new Set(sent.map((b) => JSON.parse(b).event_id)).size, records.length)
      assert.strictEqual(yield* webhook.outboxSize, 0)
      const everything = [
        ...[...files.values()].map((bytes) => new TextDecoder().decode(bytes)),
        ...[...(yield* control.snapshot).values()].map((bytes) => new TextDecoder().decode(bytes)),
        ...sent
      ]
      for (const text of everything) {
        for (const fragment of fragments) assert.notInclude(text, fragment)
      }
      // And the trail is still complete and useful.
      const audit = (yield* control.readText("/audit/llm-audit.log"))!
      assert.strictEqual(AuditLog.verifyBytes(audit)._tag, "Intact")
      const lines = audit.split("\n").slice(0, -1).map((l) => JSON.parse(l) as AuditEntry.AuditEntry)
      assert.deepStrictEqual(lines.map((l) => l.status), ["blocked", "error", "success", "invalid"])
      assert.deepStrictEqual(lines[0].safetyRuleIds, ["secret-assignment", "us-ssn", "card-number", "invalid-rule-id"])
      assert.deepStrictEqual(lines.map((l) => l.modelId), ["gpt-4o-mini", "gpt-4o-mini", "unknown", "unknown"])
      assert.deepStrictEqual(lines.map((l) => l.contextMessageCount), [3, 3, 3, 3])
      assert.strictEqual(lines[1].errorTag, "GatewayHttpError")
      assert.isUndefined(lines[1].correlationId)
    }).pipe(Effect.provide(MemoryFileSystem.layer())))
})
