import { assert, describe, it } from "@effect/vitest"
import { AuditSink, Outbox } from "@genesys-llm/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as PgShared from "../src/PgShared.js"
import * as PgUrl from "../src/PgUrl.js"
import { layerTestDatabase, TestDatabase } from "./utils.js"

describe("PgShared", { timeout: 60_000 }, () => {
  it.live("a database that cannot be reached at start fails the layer naming the setting, never the URL", () =>
    Effect.gen(function*() {
      // Port 1 on loopback: nothing listens there.
      const url = Redacted.make("postgres://root:hunter2-secret@127.0.0.1:1/genesys")
      const error = yield* Effect.flip(Layer.build(PgShared.layer(url, { setting: "--database-url" })))
      assert.strictEqual(error._tag, "DatabaseUnavailableError")
      assert.strictEqual(error.reason, "unreachable")
      assert.strictEqual(error.message, "cannot reach the PostgreSQL database given by --database-url")
      const byDefault = yield* Effect.flip(Layer.build(PgShared.layer(url)))
      assert.strictEqual(byDefault.setting, PgUrl.variable)
      assert.notInclude(`${error.message} ${byDefault.message}`, "hunter2")
    }).pipe(Effect.scoped))

  it.live("the layer migrates at start and gives the audit sink and the outbox over one pool", () =>
    Effect.gen(function*() {
      const { url } = yield* TestDatabase
      const { auditSink, outbox } = yield* PgShared.make(Redacted.make(url))
      yield* auditSink.write({
        kind: "call",
        timestamp: "2026-01-01T00:00:00.000Z",
        idempotencyKey: "llm-gw-1",
        modelId: "gpt-4o-mini",
        latencyMs: 1,
        tokensUsed: 1,
        status: "success",
        systemInstructionCount: 0,
        contextMessageCount: 1,
        attempts: 1,
        droppedContextMessages: 0,
        safetyRuleIds: []
      })
      assert.strictEqual(yield* outbox.count, 0)
      const again = yield* Layer.build(PgShared.layer(Redacted.make(url)))
      assert.isTrue(again.unsafeMap.has(AuditSink.AuditSink.key) && again.unsafeMap.has(Outbox.Outbox.key))
    }).pipe(Effect.scoped, Effect.provide(layerTestDatabase)))

  it("checkUrl accepts postgres:// and postgresql:// URLs only", () => {
    assert.isUndefined(PgUrl.checkUrl("postgres://root@127.0.0.1:5432/test"))
    assert.isUndefined(PgUrl.checkUrl("postgresql://u:p@db.example:5432/x?sslmode=require"))
    assert.strictEqual(PgUrl.checkUrl("mysql://h/x"), "must be a postgres:// or postgresql:// URL")
    assert.strictEqual(PgUrl.checkUrl("not a url"), "is not a URL")
  })
})
