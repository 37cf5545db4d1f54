// Several real `genesys-llm chat` processes on one audit log, against the simulator: the log has one writer at a
// time, so every run that exits 0 has its entry in the log exactly once and the chain verifies; a run that may not
// wait fails at once, naming the file and the process that holds it.
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { AuditLog } from "@genesys-llm/core"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Os from "node:os"
import * as Path from "node:path"
import { cli, lines, start } from "./utils.js"

const runs = 16

const setup = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "genesys-llm-shared-log-" })
  return { fs, auditLog: Path.join(dir, "audit.log") }
})

const credentials = (simulator: GatewaySimulator.Service) => ({
  GENESYS_CLIENT_ID: simulator.credentials.clientId,
  GENESYS_CLIENT_SECRET: Redacted.value(simulator.credentials.clientSecret)
})

const chatArgs = (simulator: GatewaySimulator.Service, auditLog: string, i: number) => [
  "chat",
  "--model",
  "gpt-4o",
  "--user",
  `Where is order ${i}?`,
  "--json",
  "--api-url",
  simulator.url,
  "--audit-log",
  auditLog
]

describe("one --audit-log shared by parallel chat runs", () => {
  it.live(
    `${runs} runs at once: every run that succeeds has exactly one entry, and the log verifies`,
    () =>
      Effect.gen(function*() {
        const { auditLog, fs } = yield* setup
        const simulator = yield* GatewaySimulator.make({ replyText: "Shipped on Monday.", frameChars: 6 })
        // A wait long enough for a loaded machine, where 16 processes starting at once take minutes: the point is
        // that no entry is lost, not how long the runs queue for the log.
        const env = { ...credentials(simulator), LLM_FILE_LOCK_WAIT_MS: "400000" }
        const ran = yield* Effect.forEach(
          Array.from({ length: runs }, (_, i) => i),
          (i) => cli(chatArgs(simulator, auditLog, i), { env, timeout: "500 seconds" }),
          { concurrency: "unbounded" }
        )
        const keys: Array<string> = []
        for (const run of ran) {
          // Each run ends with its entry written, or fails saying why: with the default wait, none has to fail.
          assert.strictEqual(run.code, 0, run.stderr)
          const summary = JSON.parse(lines(run.stdout)[0]) as { readonly idempotencyKey: string }
          keys.push(summary.idempotencyKey)
        }
        const logLines = lines(yield* fs.readFileString(auditLog))
        const logged = logLines.map((line) => (JSON.parse(line) as { readonly idempotencyKey?: string }).idempotencyKey)
        for (const key of keys) {
          assert.strictEqual(logged.filter((k) => k === key).length, 1, `the entry of ${key} is in the log once`)
        }
        assert.strictEqual(logLines.length, runs)
        const result = yield* AuditLog.verify(auditLog)
        assert.deepStrictEqual(result._tag === "Intact" ? [result.entries, result.recoveries] : result, [runs, 0])
      }).pipe(Effect.provide(NodeFileSystem.layer), Effect.scoped),
    600_000
  )

  it.live(
    "a run that may not wait fails at once, naming the log and the run that holds it",
    () =>
      Effect.gen(function*() {
        const { auditLog } = yield* setup
        // The first run stalls after its first frame, holding the log until the test ends (and kills it).
        const slow = yield* GatewaySimulator.make({ replyText: "One moment, checking the order.", frameChars: 4 })
        yield* slow.control.enqueue({ kind: "stall", afterFrames: 1, ms: 300_000 })
        const env = credentials(slow)
        const holder = yield* start(chatArgs(slow, auditLog, 1).filter((arg) => arg !== "--json"), {
          env: { ...env, LLM_FRAME_GAP_MS: "400000", LLM_CALL_TIMEOUT_MS: "400000" },
          ready: "data",
          timeout: "300 seconds"
        })
        const refused = yield* cli(chatArgs(slow, auditLog, 2), {
          env: { ...env, LLM_FILE_LOCK_WAIT_MS: "0" },
          timeout: "300 seconds"
        })
        assert.strictEqual(refused.code, 1, refused.stderr)
        const summary = JSON.parse(lines(refused.stdout)[0]) as {
          readonly status: string
          readonly error: { readonly tag: string; readonly message: string }
        }
        assert.strictEqual(summary.status, "error")
        assert.strictEqual(summary.error.tag, "FileLockError")
        assert.include(summary.error.message, auditLog)
        assert.include(summary.error.message, `pid ${holder.child.pid} on host ${Os.hostname()}`)
        assert.include(refused.stderr, `pid ${holder.child.pid}`)
        // The refused run sent nothing: one chat request on the wire, the holder's.
        const chats = (yield* slow.control.requests).filter((r) => r.path === slow.options.chatPath)
        assert.strictEqual(chats.length, 1)
      }).pipe(Effect.provide(NodeFileSystem.layer), Effect.scoped),
    600_000
  )
})
