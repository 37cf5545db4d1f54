import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { AuditEntry, IdGenerator } from "@genesys-llm/core"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as path from "node:path"
import * as Backend from "../src/effect-backend.js"
import { capture } from "./internal/output.js"

// The app as it runs, its settings pointed at a simulator and a temporary audit log; `extra` settings win.
const runApp = <A, E, R>(effect: Effect.Effect<A, E, R>, extra: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const simulator = yield* GatewaySimulator.GatewaySimulator
    const fs = yield* FileSystem.FileSystem
    const auditLogPath = path.join(yield* fs.makeTempDirectoryScoped(), "llm-audit.log")
    const settings = ConfigProvider.fromMap(new Map(Object.entries(extra))).pipe(
      ConfigProvider.orElse(() => Backend.simulatedEnvironment(simulator, auditLogPath))
    )
    const result = yield* capture(
      effect.pipe(Effect.provide(Backend.AppLive), Effect.withConfigProvider(settings))
    )
    const audit = (yield* fs.readFileString(auditLogPath)).trimEnd().split("\n").map((line) =>
      Schema.decodeUnknownSync(AuditEntry.AuditEntry)(JSON.parse(line))
    )
    const chats = (yield* simulator.control.requests).filter((r) => r.path === simulator.options.chatPath)
    return { result, audit, chats }
  })

describe("examples/effect-backend", () => {
  it.scoped("suggests replies through the app's pipeline: the team's rule redacts, the policy's block is answered", () =>
    Effect.gen(function*() {
      const { audit, chats, result: [suggestions, output] } = yield* runApp(Backend.program)

      assert.deepStrictEqual(suggestions.map((s) => [s.source, s.redacted]), [
        ["model", []],
        ["model", ["account-number"]],
        ["policy", []]
      ])
      assert.include(suggestions[0].text, "Simulated reply to 1 message")
      assert.include(suggestions[2].text, "secure payment line")

      // Two prompts left (the blocked one did not), each under the key of its conversation turn.
      const keys = yield* Effect.forEach(Backend.conversations, (c) => IdGenerator.derive(c.id, c.turn))
      assert.deepStrictEqual(chats.map((r) => [r.idempotencyKey, r.status]), [[keys[0], 200], [keys[1], 200]])

      // One audit line per call, with the rules that fired, never the account or card number.
      assert.deepStrictEqual(audit.map((e) => [e.idempotencyKey, e.status, e.safetyRuleIds]), [
        [keys[0], "success", []],
        [keys[1], "success", ["account-number"]],
        [keys[2], "blocked", ["payment-card"]]
      ])
      assert.notInclude(JSON.stringify(audit), "20231187")
      assert.notInclude(JSON.stringify(audit), "4111")

      // The app's logger writes JSON lines, with the app's annotations.
      const logs = output.lines.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line))
      assert.deepStrictEqual(
        logs.filter((l) => l.message === "suggestion ready").map((
          l
        ) => [l.annotations.conversationId, l.annotations.source]),
        [["conv-1001", "model"], ["conv-1002", "model"], ["conv-1003", "policy"]]
      )
      assert.include(output.lines, `conv-1003 (policy): ${suggestions[2].text}`)
    }).pipe(Effect.provide([GatewaySimulator.layer(), NodeFileSystem.layer])))

  // A real stall against the app's own deadline: on the live clock, short; outcomes only.
  it.live("answers a slow model with the team's fallback, after the app's own deadline", () =>
    Effect.gen(function*() {
      const assist = Effect.flatMap(Backend.AgentAssist, (a) => a.suggest(Backend.conversations[0]))
      const { audit, result: [suggestion] } = yield* runApp(assist, {
        ASSIST_MAX_LATENCY_MS: "300",
        ASSIST_KB_URL: "https://kb.internal/parcels"
      })
      assert.deepStrictEqual(suggestion, {
        text: "No suggestion in time: search the knowledge base at https://kb.internal/parcels.",
        source: "fallback",
        redacted: []
      })
      assert.deepStrictEqual(audit.map((e) => e.status), ["fallback"])
    }).pipe(
      Effect.scoped,
      Effect.provide([GatewaySimulator.layer({ faults: [{ kind: "stall", afterFrames: 0 }] }), NodeFileSystem.layer])
    ))
})
