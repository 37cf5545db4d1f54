/**
 * End to end: `Pipeline.run` (every stage, the hash-chained audit file synced per entry, the undici client)
 * against the simulator on 127.0.0.1 in its own process, at concurrency 1, 50 and 200; against plain `fetch`
 * with the hand-written NDJSON loop, the same headers and the same payloads.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { AuditLog, Pipeline } from "@genesys-llm/core"
import { NodePipeline } from "@genesys-llm/node"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Baseline from "./baselines.js"
import * as Data from "./data.js"
import { elapsedMs, median, now, percentile, type Row, row } from "./harness.js"
import { fetchToken, spawnSimulator } from "./simulator.js"

export interface Options {
  readonly concurrency: ReadonlyArray<number>
  /** Calls per round at each concurrency. */
  readonly calls: (concurrency: number) => number
  /** Rounds of each side, alternating. */
  readonly rounds: number
  readonly warmup: number
}

export const options = {
  full: {
    concurrency: [1, 50, 200],
    calls: (c: number) => (c === 1 ? 200 : c === 50 ? 1_500 : 2_000),
    rounds: 3,
    warmup: 300
  },
  quick: {
    concurrency: [1, 50, 200],
    calls: (c: number) => (c === 1 ? 100 : c * 15),
    rounds: 2,
    warmup: 200
  },
  tiny: { concurrency: [1, 4], calls: (c: number) => c * 2, rounds: 1, warmup: 2 }
} satisfies Record<string, Options>

interface Round {
  readonly wallMs: number
  readonly latencies: ReadonlyArray<number>
}

// Spreads `calls` over `concurrency` workers that each take the next call when the last one ends.
const workers = async (concurrency: number, calls: number, call: (i: number) => Promise<void>): Promise<Round> => {
  const latencies = new Array<number>(calls)
  let next = 0
  const start = now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < calls) {
      const i = next++
      const begin = now()
      await call(i)
      latencies[i] = elapsedMs(begin)
    }
  }))
  return { wallMs: elapsedMs(start), latencies }
}

export interface Result {
  readonly rows: ReadonlyArray<Row>
  /** Lines in the audit log and library calls made: one line per call. */
  readonly auditLines: number
  readonly libraryCalls: number
  readonly auditIntact: boolean
}

export const run = async (opts: Options): Promise<Result> => {
  const simulator = await spawnSimulator()
  const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "genesys-llm-bench-"))
  const auditLogPath = Path.join(folder, "llm-audit.log")
  const runtime = ManagedRuntime.make(NodePipeline.layer({
    gateway: {
      apiUrl: simulator.url,
      clientId: simulator.clientId,
      clientSecret: Redacted.make(simulator.clientSecret),
      // The shared rules run (their cost is measured), but a loaded machine's late first frames must not open the
      // circuit: a bench of the happy path measures calls, not fallbacks.
      circuitFailures: 1_000_000
    },
    auditLogPath
  }))
  try {
    const token = await fetchToken(simulator)
    const pipeline = await runtime.runPromise(Pipeline.Pipeline)
    // As a request parser hands them over: parsed JSON.
    const payloads = Array.from({ length: 64 }, (_, i) => JSON.parse(JSON.stringify(Data.chatPayload(i))) as unknown)
    let libraryCalls = 0
    let failures = 0

    const library = (i: number) =>
      runtime.runPromise(pipeline.run(payloads[i % payloads.length])).then((completion) => {
        libraryCalls++
        if (completion.status !== "success") failures++
      })
    const baseline = (i: number) =>
      Baseline.bareCall(simulator.chatUrl, token, payloads[i % payloads.length]).then(() => undefined)

    // The same payload gives the same answer on both paths (the simulator derives it from the body bytes).
    let equal = true
    for (let i = 0; i < 3; i++) {
      const a = await runtime.runPromise(pipeline.run(payloads[i]))
      libraryCalls++
      const b = await Baseline.bareCall(simulator.chatUrl, token, payloads[i])
      equal &&= a.status === "success" && a.text === b.text && a.tokensUsed === b.completionTokens && a.text.length > 0
    }

    await workers(Math.min(50, opts.warmup), opts.warmup, library)
    await workers(Math.min(50, opts.warmup), opts.warmup, baseline)

    const rows: Array<Row> = []
    for (const concurrency of opts.concurrency) {
      const calls = opts.calls(concurrency)
      const lib: Array<Round> = []
      const base: Array<Round> = []
      for (let r = 0; r < opts.rounds; r++) {
        if (r % 2 === 0) {
          lib.push(await workers(concurrency, calls, library))
          base.push(await workers(concurrency, calls, baseline))
        } else {
          base.push(await workers(concurrency, calls, baseline))
          lib.push(await workers(concurrency, calls, library))
        }
      }
      const rate = (rounds: ReadonlyArray<Round>) => median(rounds.map((round) => calls / (round.wallMs / 1000)))
      const all = (rounds: ReadonlyArray<Round>) => rounds.flatMap((round) => round.latencies)
      const libRate = rate(lib)
      const baseRate = rate(base)
      const at50 = concurrency === 50
      rows.push(row({
        group: "end to end",
        name: `concurrency ${concurrency}: throughput`,
        unit: "calls/s",
        library: libRate,
        baseline: baseRate,
        better: "higher",
        equal,
        ...(at50 ? { target: ">= 0.8x", met: libRate / baseRate >= 0.8 } : {})
      }))
      const libP50 = percentile(all(lib), 50)
      const baseP50 = percentile(all(base), 50)
      rows.push(row({
        group: "end to end",
        name: `concurrency ${concurrency}: p50 latency (+${(libP50 - baseP50).toFixed(2)} ms)`,
        unit: "ms",
        library: libP50,
        baseline: baseP50,
        better: "lower",
        ...(at50 ? { target: "< +1 ms", met: libP50 - baseP50 < 1 } : {})
      }))
      rows.push(row({
        group: "end to end",
        name: `concurrency ${concurrency}: p99 latency`,
        unit: "ms",
        library: percentile(all(lib), 99),
        baseline: percentile(all(base), 99),
        better: "lower"
      }))
    }
    if (failures > 0) throw new Error(`${failures} library calls did not succeed`)
    // Closing the runtime closes the audit log: every line is written and synced before it is verified.
    await runtime.dispose()
    const verified = await Effect.runPromise(AuditLog.verify(auditLogPath).pipe(Effect.provide(NodeFileSystem.layer)))
    const auditLines = verified._tag === "Intact" ? verified.entries : -1
    return { rows, auditLines, libraryCalls, auditIntact: verified._tag === "Intact" }
  } finally {
    await runtime.dispose()
    await simulator.close()
    Fs.rmSync(folder, { recursive: true, force: true })
  }
}
