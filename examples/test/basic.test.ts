import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { AuditEntry, AuditLog } from "@genesys-llm/core"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as path from "node:path"
import * as Basic from "../src/basic.js"
import { capture } from "./internal/output.js"

const reply = "Your order 1042 left our warehouse this morning and arrives tomorrow."

describe("examples/basic", () => {
  it.scoped("sends one prompt to the simulator, prints the reply and writes one audit line", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.GatewaySimulator
      const fs = yield* FileSystem.FileSystem
      const auditLogPath = path.join(yield* fs.makeTempDirectoryScoped(), "llm-audit.log")

      const [completion, output] = yield* capture(Basic.program.pipe(Effect.provide(Basic.layer(auditLogPath))))

      assert.strictEqual(completion.status, "success")
      assert.strictEqual(completion.text, reply)
      assert.strictEqual(completion.tokensUsed, Math.ceil(reply.length / 4))
      assert.strictEqual(completion.attempts, 1)
      assert.match(
        completion.idempotencyKey,
        /^llm-gw-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
      )
      assert.strictEqual(output.lines[0], reply)
      assert.include(output.lines[1], `success, ${completion.tokensUsed} tokens`)
      assert.include(output.lines[1], completion.idempotencyKey)

      // The simulator answered exactly one chat request, under the completion's key, to its end.
      const chats = (yield* simulator.control.requests).filter((r) => r.path === simulator.options.chatPath)
      assert.deepStrictEqual(chats.map((r) => [r.idempotencyKey, r.status, r.outcome]), [
        [completion.idempotencyKey, 200, "completed"]
      ])

      // One hash-chained audit line with the key that was sent, and no prompt text.
      const text = yield* fs.readFileString(auditLogPath)
      assert.notInclude(text, "order 1042")
      const lines = text.trimEnd().split("\n")
      assert.strictEqual(lines.length, 1)
      const entry = Schema.decodeUnknownSync(AuditEntry.AuditEntry)(JSON.parse(lines[0]))
      assert.strictEqual(entry.status, "success")
      assert.strictEqual(entry.idempotencyKey, completion.idempotencyKey)
      assert.strictEqual(entry.tokensUsed, completion.tokensUsed)
      assert.strictEqual(entry.modelId, "genesys-default")
      const verified = yield* AuditLog.verify(auditLogPath)
      assert.strictEqual(verified._tag, "Intact")
    }).pipe(Effect.provide([GatewaySimulator.layer({ replyText: reply }), NodeFileSystem.layer])))
})
