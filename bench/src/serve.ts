/**
 * `genesys-llm serve` (the bundle, in its own process) against a baseline server written by hand (`node:http`,
 * `fetch`, the hand-written NDJSON loop: serveBaseline.ts), both in front of the same simulator process:
 *
 * - peak RSS per call in flight at 1,000 and 2,000 concurrent calls, the simulator pacing its frames (20 frames
 *   100 ms apart: about 2 s a call); target at most 1.5x the baseline's;
 * - added p50 and p99 latency at 200 concurrent calls, paced likewise; target p50 under +2 ms;
 * - requests per second at saturation (a closed loop of 64 clients), the simulator unpaced; target at least 0.7x.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { elapsedMs, now, percentile, type Row, row } from "./harness.js"
import { root, spawnSimulator } from "./simulator.js"

export interface Options {
  readonly concurrency: ReadonlyArray<number>
  readonly latencyConcurrency: number
  readonly saturationClients: number
  readonly saturationMs: number
}

export const options: Record<"full" | "quick" | "tiny", Options> = {
  full: { concurrency: [1000, 2000], latencyConcurrency: 200, saturationClients: 64, saturationMs: 10_000 },
  quick: { concurrency: [1000, 2000], latencyConcurrency: 200, saturationClients: 64, saturationMs: 5_000 },
  tiny: { concurrency: [50], latencyConcurrency: 20, saturationClients: 8, saturationMs: 1_000 }
}

interface Server {
  readonly url: string
  readonly pid: number
  readonly close: () => Promise<void>
}

const spawnServer = (args: ReadonlyArray<string>, env: Record<string, string> = {}, stderr = "ignore") =>
  new Promise<Server>((resolve, reject) => {
    const child = ChildProcess.spawn(process.execPath, args, {
      cwd: root,
      stdio: ["ignore", "pipe", stderr === "ignore" ? "ignore" : Fs.openSync(stderr, "a")],
      env: { ...process.env, ...env }
    })
    const kill = () => child.kill("SIGKILL")
    process.once("exit", kill)
    let out = ""
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}`)))
    child.stdout!.on("data", (data: Buffer) => {
      out += data.toString()
      if (!out.includes("\n")) return
      child.removeAllListeners("exit")
      resolve({
        url: out.split("\n")[0]!.trim(),
        pid: child.pid!,
        close: () =>
          new Promise<void>((done) => {
            process.off("exit", kill)
            if (child.exitCode !== null) return done()
            child.once("exit", () => done())
            child.kill("SIGKILL")
          })
      })
    })
  })

const serveArgs = (simulatorUrl: string, auditLog: string) => [
  Path.join(root, "packages/cli/bundle/bin.js"),
  "serve",
  "--port",
  "0",
  "--api-url",
  simulatorUrl,
  "--audit-log",
  auditLog,
  "--max-in-flight",
  "100000"
]

const baselineArgs = (simulatorUrl: string) => [
  "--import",
  "tsx",
  Path.join(root, "bench/src/serveBaseline.ts"),
  simulatorUrl
]

const rssKb = (pid: number) => {
  const found = /VmRSS:\s+(\d+)/.exec(Fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  if (found === null) throw new Error(`process ${pid} is gone`)
  return Number(found[1])
}

const agent = new Http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY })

let turns = 0
let failures = 0
const failedNote = () => failures > 0 ? { note: `${failures} calls failed (not counted)` } : {}
const call = (url: string) =>
  new Promise<number>((resolve) => {
    const started = now()
    const body = JSON.stringify({
      conversationId: `bench-${turns}`,
      turn: turns++,
      customerMessage: "Where is my order?"
    })
    const req = Http.request(`${url}/data-action/reply`, {
      method: "POST",
      agent,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) }
    }, (res) => {
      res.resume()
      // A failed call (a loaded machine's gateway timeouts) is counted, not fatal: its latency is NaN.
      res.on("end", () => {
        if (res.statusCode !== 200) failures++
        resolve(res.statusCode === 200 ? elapsedMs(started) : Number.NaN)
      })
    })
    // A reset connection (the listen backlog overflowing at a burst of thousands) counts as a failed call.
    req.once("error", () => {
      failures++
      resolve(Number.NaN)
    })
    req.end(body)
  })

// The server's peak RSS above its level before the burst, per call in flight.
const peakPerCall = async (server: Server, concurrency: number) => {
  const start = rssKb(server.pid)
  let peak = start
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssKb(server.pid))
    } catch {
      // gone: the burst fails with it
    }
  }, 25)
  try {
    await Promise.all(Array.from({ length: concurrency }, () => call(server.url)))
  } finally {
    clearInterval(timer)
  }
  return ((peak - start) * 1024) / concurrency
}

const latencies = async (server: Server, concurrency: number) =>
  (await Promise.all(Array.from({ length: concurrency }, () => call(server.url)))).filter(Number.isFinite)

const saturation = async (server: Server, clients: number, ms: number) => {
  const until = Date.now() + ms
  let done = 0
  const loop = async () => {
    while (Date.now() < until) {
      await call(server.url)
      done++
    }
  }
  const started = now()
  await Promise.all(Array.from({ length: clients }, loop))
  return done / (elapsedMs(started) / 1000)
}

const both = async <A>(
  simulatorUrl: string,
  dir: string,
  measure: (server: Server) => Promise<A>
): Promise<{ library: A; baseline: A }> => {
  const env = { GENESYS_CLIENT_ID: "bench-client", GENESYS_CLIENT_SECRET: "bench-secret", LLM_MAX_LATENCY_MS: "30000" }
  const serve = await spawnServer(
    serveArgs(simulatorUrl, Path.join(dir, `audit-${Date.now()}.log`)),
    env,
    Path.join(dir, "serve.stderr")
  )
  const baseline = await spawnServer(baselineArgs(simulatorUrl), {}, Path.join(dir, "baseline.stderr"))
  try {
    // Warm both (the JIT, the token, the connection pools).
    for (let i = 0; i < 3; i++) await Promise.all([serve, baseline].map((s) => latencies(s, 20)))
    return { library: await measure(serve), baseline: await measure(baseline) }
  } catch (error) {
    for (const side of ["serve", "baseline"]) {
      const file = Path.join(dir, `${side}.stderr`)
      if (Fs.existsSync(file)) process.stderr.write(`${side} stderr:\n${Fs.readFileSync(file, "utf8").slice(-2000)}\n`)
    }
    throw error
  } finally {
    await serve.close()
    await baseline.close()
  }
}

export const run = async (opts: Options): Promise<ReadonlyArray<Row>> => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "genesys-llm-bench-serve-"))
  const rows: Array<Row> = []
  const paced = await spawnSimulator({ paceMs: 100, replyBytes: 320, frameChars: 16 })
  try {
    for (const concurrency of opts.concurrency) {
      failures = 0
      const { baseline, library } = await both(paced.url, dir, (s) => peakPerCall(s, concurrency))
      rows.push(row({
        group: "serve",
        ...failedNote(),
        name: `peak RSS per call in flight, ${concurrency.toLocaleString("en-US")} concurrent (~2 s calls)`,
        unit: "bytes",
        library,
        baseline,
        better: "lower",
        target: "<= 1.5x",
        met: library / baseline <= 1.5
      }))
    }
    failures = 0
    const { baseline, library } = await both(paced.url, dir, (s) => latencies(s, opts.latencyConcurrency))
    for (const p of [50, 99]) {
      const added = percentile(library, p) - percentile(baseline, p)
      rows.push(row({
        group: "serve",
        ...failedNote(),
        name: `p${p} latency at ${opts.latencyConcurrency} concurrent (~2 s calls); added ${added.toFixed(1)} ms`,
        unit: "ms",
        library: percentile(library, p),
        baseline: percentile(baseline, p),
        better: "lower",
        ...(p === 50 ? { target: "< +2 ms", met: added < 2 } : {})
      }))
    }
  } finally {
    await paced.close()
  }
  const unpaced = await spawnSimulator({ replyBytes: 320, frameChars: 16 })
  try {
    failures = 0
    const { baseline, library } = await both(
      unpaced.url,
      dir,
      (s) => saturation(s, opts.saturationClients, opts.saturationMs)
    )
    rows.push(row({
      group: "serve",
      ...failedNote(),
      name: `requests per second at saturation (${opts.saturationClients} clients, simulator unpaced)`,
      unit: "req/s",
      library,
      baseline,
      better: "higher",
      target: ">= 0.7x",
      met: library / baseline >= 0.7
    }))
  } finally {
    await unpaced.close()
    Fs.rmSync(dir, { recursive: true, force: true })
  }
  return rows
}
