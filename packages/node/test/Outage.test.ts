// The shared rules in a real process against the real simulator: a program making 200 calls, 50 at a time, through
// the library's default Node pipeline while the gateway answers 503 to every request; then the gateway recovers.
// Logical assertions only (requests counted by the simulator, attempts, statuses); the times are printed for the
// record, never asserted.
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Path from "node:path"
import { spawn } from "./child.js"

const burstProcess = Path.join(__dirname, "fixtures/burstProcess.ts")
const chatPath = "/api/v2/ai/llm-gateway/chat"
// The default cooldown.
const cooldownMillis = 10_000

interface Burst {
  readonly statuses: Record<string, number>
  readonly reasons: Record<string, number>
  readonly attempts: number
  readonly circuitOpenAttempts: number
  readonly circuitOpenLatencies: ReadonlyArray<number>
  readonly latencies: ReadonlyArray<number>
  readonly wallMs: number
}

const median = (values: ReadonlyArray<number>) => values.length === 0 ? -1 : values[Math.floor(values.length / 2)]

describe("an outage through the default Node pipeline, in one process", () => {
  it.scopedLive("200 calls at concurrency 50 against a gateway failing every request", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "genesys-llm-outage-" })
      const sim = yield* GatewaySimulator.make({ requestsPerMinute: 1_000_000 })
      const chatRequests = Effect.map(sim.control.requests, (all) => all.filter((r) => r.path === chatPath).length)
      const env = (name: string, more: Record<string, string> = {}) => ({
        GENESYS_API_URL: sim.url,
        GENESYS_CLIENT_ID: sim.credentials.clientId,
        GENESYS_CLIENT_SECRET: Redacted.value(sim.credentials.clientSecret),
        LLM_AUDIT_LOG_PATH: Path.join(dir, `${name}.log`),
        ...more
      })
      const burst = (child: Effect.Effect.Success<ReturnType<typeof spawn>>, n: number, c: number) =>
        Effect.gen(function*() {
          const before = yield* chatRequests
          yield* child.send(`burst ${n} ${c}`)
          const line = yield* child.line("burst ")
          const result = JSON.parse(line.slice("burst ".length)) as Burst
          return { ...result, sent: (yield* chatRequests) - before }
        })

      yield* sim.control.setRate({ rate: 1, pool: [{ kind: "status", status: 503 }] })

      // Before: without the shared rules every call makes its three attempts.
      const unguarded = yield* spawn([], env("unguarded", { GUARDS: "off" }), burstProcess)
      yield* unguarded.line("ready")
      const alone = yield* burst(unguarded, 200, 50)
      yield* unguarded.endInput
      yield* unguarded.exit
      // Three attempts a call (600), less those a loaded machine pushed past the first-frame deadline.
      assert.isAbove(alone.sent, 300)
      assert.isAtMost(alone.sent, alone.attempts)

      // After: the default pipeline.
      const guarded = yield* spawn([], env("guarded"), burstProcess)
      yield* guarded.line("ready")
      const shared = yield* burst(guarded, 200, 50)
      assert.isAtMost(shared.sent, 300)
      assert.isAtMost(shared.sent, shared.attempts)
      // The first calls' retries met the open circuit, and the calls after them sent nothing.
      assert.isAbove(shared.reasons["circuit-open"] ?? 0, 0)

      // Once open, every call answers its fallback without a request (but for the one probe of a cooldown, should
      // a loaded machine make the calls above last that long).
      const open = yield* burst(guarded, 50, 10)
      assert.isAtMost(open.sent, 1)
      assert.strictEqual(open.reasons["circuit-open"], 50)
      assert.isAtMost(open.circuitOpenAttempts, 1)

      // The gateway recovers: after one cooldown the probe goes through, and the calls after it succeed.
      yield* sim.control.setRate({ rate: 0 })
      const recoveredAt = performance.now()
      yield* Effect.sleep(cooldownMillis)
      const probe = yield* burst(guarded, 1, 1)
      const firstSuccessMs = Math.round(performance.now() - recoveredAt)
      assert.strictEqual(probe.statuses.success, 1)
      const after = yield* burst(guarded, 50, 50)
      assert.strictEqual(after.statuses.success, 50)
      yield* guarded.endInput
      yield* guarded.exit

      process.stderr.write(
        `outage figures: ${
          JSON.stringify({
            before: { sent: alone.sent, wallMs: alone.wallMs, medianMs: median(alone.latencies) },
            after: { sent: shared.sent, wallMs: shared.wallMs, medianMs: median(shared.latencies) },
            open: {
              sent: open.sent,
              medianMs: median(open.latencies),
              maxMs: open.latencies[open.latencies.length - 1]
            },
            firstSuccessAfterRecoveryMs: firstSuccessMs
          })
        }\n`
      )
    }).pipe(Effect.provide(NodeFileSystem.layer)), { timeout: 120_000 })
})
