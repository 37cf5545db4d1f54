/**
 * Memory: each measurement runs in a child process of its own (`node --expose-gc --import tsx memory.ts ...`), so
 * that it starts from a clean heap; the child prints one JSON line.
 *
 * - `big <mode> <warmupUrl> <bigUrl> <bytes>`: one call whose reply is `bytes` long, through `Pipeline.stream` to a
 *   sink that discards it (`stream`, or `stream-discard` with `retainText: false`), through `Pipeline.run`
 *   (`run`), or through plain `fetch` and the hand-written loop, discarding (`fetch`). Reports the RSS before the
 *   call and the peak RSS during it (sampled every 5 ms).
 * - `calls <library|fetch> <url> <count>`: `count` sequential calls; reports the RSS and the heap in use after a
 *   full GC at checkpoints.
 *
 * The parent side (`run`) starts the simulators and the children and turns their figures into rows.
 */
import { Pipeline } from "@genesys-llm/core"
import { NodePipeline } from "@genesys-llm/node"
import type * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Baseline from "./baselines.js"
import * as Data from "./data.js"
import { median, type Row, row } from "./harness.js"
import { fetchToken, root, type Simulator, spawnSimulator } from "./simulator.js"

const MB = 1024 * 1024

const gc = () => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error("run with --expose-gc")
  for (let i = 0; i < 3; i++) collect()
}

const pipelineRuntime = (url: string, folder: string) =>
  ManagedRuntime.make(NodePipeline.layer({
    gateway: {
      apiUrl: url,
      clientId: "bench-client",
      clientSecret: Redacted.make("bench-secret"),
      // A 100 MB answer takes longer than the default minute on a slow machine.
      callTimeoutMillis: 600_000
    },
    auditLogPath: Path.join(folder, "llm-audit.log")
  }))

const simulatorAt = (url: string): Simulator => ({
  url,
  chatUrl: `${url}/api/v2/ai/llm-gateway/chat`,
  clientId: "bench-client",
  clientSecret: "bench-secret",
  close: () => Promise.resolve()
})

export type BigMode = "stream" | "stream-discard" | "stream-discard-deferred" | "run" | "fetch"

export interface BigResult {
  readonly mode: BigMode
  readonly baselineRss: number
  readonly peakRss: number
  /** Characters received: must equal the reply's bytes. */
  readonly characters: number
  readonly ok: boolean
}

const big = async (mode: BigMode, warmupUrl: string, bigUrl: string, bytes: number): Promise<BigResult> => {
  const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "genesys-llm-bench-memory-"))
  const payload = JSON.parse(JSON.stringify(Data.chatPayload(1))) as unknown
  try {
    // Warm up the code paths on small answers, then measure from a collected heap.
    const warm = pipelineRuntime(warmupUrl, folder)
    const warmToken = await fetchToken(simulatorAt(warmupUrl))
    for (let i = 0; i < 20; i++) {
      await warm.runPromise(Pipeline.run(Data.chatPayload(i)))
      await Baseline.bareCall(simulatorAt(warmupUrl).chatUrl, warmToken, Data.chatPayload(i))
    }
    await warm.dispose()
    const runtime = pipelineRuntime(bigUrl, folder)
    const pipeline = await runtime.runPromise(Pipeline.Pipeline)
    const token = await fetchToken(simulatorAt(bigUrl))
    gc()
    const baselineRss = process.memoryUsage.rss()
    let peakRss = baselineRss
    const timer = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage.rss())
    }, 5)
    let characters = 0
    let ok = false
    switch (mode) {
      case "stream":
      case "stream-discard":
      case "stream-discard-deferred": {
        let completion: Pipeline.Completion | undefined
        const take = (events: Chunk.Chunk<Pipeline.PipelineEvent>) => {
          for (const event of events) {
            if (event._tag === "TextDelta") characters += event.text.length
            else completion = event.completion
          }
        }
        await runtime.runPromise(
          pipeline.stream(payload, { retainText: mode === "stream" }).pipe(
            Stream.runForEachChunk((events) =>
              // The sink does its work in the callback. The deferred one does it in an effect that captures the
              // chunk, which the Effect 3.22 runtime keeps reachable long enough for V8 to promote it: see README.
              mode === "stream-discard-deferred" ? Effect.sync(() => take(events)) : (take(events), Effect.void)
            )
          )
        )
        ok = completion?.status === "success" &&
          completion.text.length === (mode === "stream" ? bytes : 0)
        break
      }
      case "run": {
        const completion = await runtime.runPromise(pipeline.run(payload))
        characters = completion.text.length
        ok = completion.status === "success"
        break
      }
      case "fetch": {
        const response = await fetch(simulatorAt(bigUrl).chatUrl, {
          method: "POST",
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            "idempotency-key": `llm-gw-${crypto.randomUUID()}`
          },
          body: JSON.stringify(payload)
        })
        const decoder = new Baseline.LineDecoder(() => {})
        for await (const chunk of response.body!) decoder.push(chunk)
        characters = decoder.end().characters
        ok = response.status === 200
        break
      }
    }
    peakRss = Math.max(peakRss, process.memoryUsage.rss())
    clearInterval(timer)
    await runtime.dispose()
    return { mode, baselineRss, peakRss, characters, ok: ok && characters === bytes }
  } finally {
    Fs.rmSync(folder, { recursive: true, force: true })
  }
}

export interface Checkpoint {
  readonly calls: number
  readonly rss: number
  readonly heapUsed: number
}

const calls = async (side: "library" | "fetch", url: string, count: number): Promise<ReadonlyArray<Checkpoint>> => {
  const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "genesys-llm-bench-memory-"))
  const runtime = pipelineRuntime(url, folder)
  try {
    const pipeline = await runtime.runPromise(Pipeline.Pipeline)
    const simulator = simulatorAt(url)
    const token = await fetchToken(simulator)
    const payloads = Array.from({ length: 64 }, (_, i) => JSON.parse(JSON.stringify(Data.chatPayload(i))) as unknown)
    const checkpoints: Array<Checkpoint> = []
    const every = Math.max(1, Math.floor(count / 10))
    const mark = (n: number) => {
      gc()
      const usage = process.memoryUsage()
      checkpoints.push({ calls: n, rss: usage.rss, heapUsed: usage.heapUsed })
    }
    mark(0)
    for (let i = 1; i <= count; i++) {
      if (side === "library") {
        const completion = await runtime.runPromise(pipeline.run(payloads[i % payloads.length]))
        if (completion.status !== "success") throw new Error(`call ${i} ended ${completion.status}`)
      } else {
        await Baseline.bareCall(simulator.chatUrl, token, payloads[i % payloads.length])
      }
      if (i % every === 0) mark(i)
    }
    return checkpoints
  } finally {
    await runtime.dispose()
    Fs.rmSync(folder, { recursive: true, force: true })
  }
}

// -----------------------------------------------------------------------------------------------------------------
// The parent side
// -----------------------------------------------------------------------------------------------------------------

const child = (args: ReadonlyArray<string>): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const proc = ChildProcess.spawn(
      process.execPath,
      ["--expose-gc", "--import", "tsx", Path.join(root, "bench/src/memory.ts"), ...args],
      { cwd: root, stdio: ["ignore", "pipe", "inherit"] }
    )
    let out = ""
    proc.stdout.on("data", (data: Buffer) => {
      out += data.toString()
    })
    proc.once("exit", (code) => {
      const line = out.trim().split("\n").pop() ?? ""
      if (code !== 0) return reject(new Error(`memory child ${args.join(" ")} exited with ${code}`))
      try {
        resolve(JSON.parse(line))
      } catch {
        reject(new Error(`memory child ${args.join(" ")} printed ${JSON.stringify(out.slice(-500))}`))
      }
    })
  })

export interface Options {
  /** Bytes of the big reply. */
  readonly bytes: number
  /** Characters per frame of the big reply. */
  readonly frameChars: number
  /** Children per mode; the median peak is reported. */
  readonly repeats: number
  readonly calls: number
}

export const options = {
  full: { bytes: 100 * 1_000_000, frameChars: 1024, repeats: 1, calls: 10_000 },
  quick: { bytes: 100 * 1_000_000, frameChars: 1024, repeats: 1, calls: 2_000 },
  tiny: { bytes: 200_000, frameChars: 1024, repeats: 1, calls: 20 }
} satisfies Record<string, Options>

export interface Result {
  readonly rows: ReadonlyArray<Row>
  readonly big: ReadonlyArray<BigResult>
  readonly calls: { readonly library: ReadonlyArray<Checkpoint>; readonly fetch: ReadonlyArray<Checkpoint> }
}

export const run = async (opts: Options): Promise<Result> => {
  const small = await spawnSimulator()
  const large = await spawnSimulator({ replyBytes: opts.bytes, frameChars: opts.frameChars })
  try {
    const bigs: Array<BigResult> = []
    const above = (mode: BigMode) => {
      const results: Array<BigResult> = []
      return async () => {
        for (let r = 0; r < opts.repeats; r++) {
          const result = (await child(["big", mode, small.url, large.url, String(opts.bytes)])) as BigResult
          results.push(result)
          bigs.push(result)
        }
        return {
          growth: median(results.map((r) => (r.peakRss - r.baselineRss) / MB)),
          ok: results.every((r) => r.ok)
        }
      }
    }
    const streamDiscard = await above("stream-discard")()
    const streamDeferred = await above("stream-discard-deferred")()
    const streamKept = await above("stream")()
    const runKept = await above("run")()
    const fetchDiscard = await above("fetch")()
    const size = `${Math.round(opts.bytes / 1e6)} MB reply`
    const rows: Array<Row> = [
      row({
        group: "memory",
        name: `Pipeline.stream (retainText: false) to a discarding sink, ${size}, vs run`,
        unit: "MB RSS",
        library: streamDiscard.growth,
        baseline: runKept.growth,
        better: "lower",
        equal: streamDiscard.ok && runKept.ok,
        target: "< 100 MB",
        met: streamDiscard.growth < 100
      }),
      row({
        group: "memory",
        name:
          `Pipeline.stream (retainText: false) to a sink whose per-chunk effect captures the chunk, ${size}, vs run`,
        unit: "MB RSS",
        library: streamDeferred.growth,
        baseline: runKept.growth,
        better: "lower",
        equal: streamDeferred.ok
      }),
      row({
        group: "memory",
        name: `Pipeline.stream (text kept, the default), ${size}, vs run`,
        unit: "MB RSS",
        library: streamKept.growth,
        baseline: runKept.growth,
        better: "lower",
        equal: streamKept.ok
      }),
      row({
        group: "memory",
        name: `Pipeline.stream (retainText: false), ${size}, vs fetch + loop discarding`,
        unit: "MB RSS",
        library: streamDiscard.growth,
        baseline: fetchDiscard.growth,
        better: "lower",
        equal: fetchDiscard.ok
      })
    ]

    // Both sides at once: the growth of one does not depend on the speed of the other.
    const [library, fetchSide] = (await Promise.all([
      child(["calls", "library", small.url, String(opts.calls)]),
      child(["calls", "fetch", small.url, String(opts.calls)])
    ])) as [ReadonlyArray<Checkpoint>, ReadonlyArray<Checkpoint>]
    // From the first checkpoint after warm-up (a tenth of the calls) to the last.
    const growth = (points: ReadonlyArray<Checkpoint>, key: "rss" | "heapUsed") =>
      (points[points.length - 1][key] - points[1][key]) / MB
    const calls = `${opts.calls.toLocaleString("en-US")} sequential calls`
    rows.push(
      row({
        group: "memory",
        name: `heap growth over ${calls} (after GC, from call ${library[1].calls})`,
        unit: "MB",
        library: growth(library, "heapUsed"),
        baseline: growth(fetchSide, "heapUsed"),
        better: "lower",
        target: "no growth (< 2 MB)",
        met: growth(library, "heapUsed") < 2
      }),
      row({
        group: "memory",
        name: `RSS growth over ${calls} (from call ${library[1].calls})`,
        unit: "MB",
        library: growth(library, "rss"),
        baseline: growth(fetchSide, "rss"),
        better: "lower",
        target: "no growth (< 10 MB)",
        met: growth(library, "rss") < 10
      })
    )
    return { rows, big: bigs, calls: { library, fetch: fetchSide } }
  } finally {
    await small.close()
    await large.close()
  }
}

// -----------------------------------------------------------------------------------------------------------------
// The child side
// -----------------------------------------------------------------------------------------------------------------

const main = async (args: ReadonlyArray<string>) => {
  const [command, ...rest] = args
  if (command === "big") {
    const [mode, warmupUrl, bigUrl, bytes] = rest
    return big(mode as BigMode, warmupUrl, bigUrl, Number(bytes))
  }
  if (command === "calls") {
    const [side, url, count] = rest
    return calls(side as "library" | "fetch", url, Number(count))
  }
  throw new Error(`unknown command ${command}`)
}

if (process.argv[1] !== undefined && Path.resolve(process.argv[1]) === Path.resolve(import.meta.filename)) {
  main(process.argv.slice(2)).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`)
      process.exit(0)
    },
    (error: unknown) => {
      console.error(error)
      process.exit(1)
    }
  )
}
