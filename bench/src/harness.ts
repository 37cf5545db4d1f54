/**
 * A small timing harness: interleaved samples of a library function and its baseline on the same data, medians,
 * percentiles, and the rows of the result table.
 *
 * Interleaving (library sample, baseline sample, library sample, ...) means a slow phase of the machine (another
 * process, a GC of the other side's garbage, CPU frequency) falls on both sides alike; the median of the samples
 * drops the outliers of either.
 */
import { PCGRandom } from "effect/Utils"

/** Nanoseconds since an arbitrary origin. */
export const now = (): bigint => process.hrtime.bigint()

/** Milliseconds between two `now()` readings. */
export const elapsedMs = (from: bigint, to: bigint = now()): number => Number(to - from) / 1e6

export const median = (values: ReadonlyArray<number>): number => percentile(values, 50)

/** The p-th percentile (nearest rank over the sorted values). */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]
}

export interface PairOptions {
  /** Samples of each side. */
  readonly samples: number
  /** Each sample runs the operation enough times to take about this long. */
  readonly sampleMs: number
  /** Each side runs this long before it is measured, so that both are compiled by the JIT. Default 250 ms. */
  readonly warmupMs?: number | undefined
}

export interface PairResult {
  /** Median milliseconds per operation. */
  readonly library: number
  readonly baseline: number
  readonly iterations: number
}

// Runs `op` repeatedly until `ms` has passed, doubling the count: how many runs fit into `ms`.
const calibrate = (op: (i: number) => void, ms: number): number => {
  let n = 1
  for (;;) {
    const start = now()
    for (let i = 0; i < n; i++) op(i)
    const took = elapsedMs(start)
    if (took >= ms / 4 || n >= 1 << 24) return Math.max(1, Math.round((n * ms) / Math.max(took, 1e-3)))
    n *= 2
  }
}

const sample = (op: (i: number) => void, iterations: number): number => {
  const start = now()
  for (let i = 0; i < iterations; i++) op(i)
  return elapsedMs(start) / iterations
}

/**
 * Times two synchronous operations side by side. `op(i)` gets the iteration number so that it can cycle through
 * a set of inputs. Both sides run the same number of iterations per sample (calibrated on the slower one).
 */
export const pair = (
  library: (i: number) => void,
  baseline: (i: number) => void,
  options: PairOptions
): PairResult => {
  const warmup = options.warmupMs ?? 250
  for (const op of [library, baseline]) {
    const start = now()
    for (let i = 0; elapsedMs(start) < warmup; i++) op(i)
  }
  const iterations = Math.min(calibrate(library, options.sampleMs), calibrate(baseline, options.sampleMs))
  const lib: Array<number> = []
  const base: Array<number> = []
  for (let s = 0; s < options.samples; s++) {
    if (s % 2 === 0) {
      lib.push(sample(library, iterations))
      base.push(sample(baseline, iterations))
    } else {
      base.push(sample(baseline, iterations))
      lib.push(sample(library, iterations))
    }
  }
  return { library: median(lib), baseline: median(base), iterations }
}

/** Which way a figure is better. */
export type Better = "higher" | "lower"

/** One line of the table: a figure of the library and of its baseline, and their ratio. */
export interface Row {
  readonly group: string
  readonly name: string
  readonly unit: string
  readonly library: number
  readonly baseline: number
  /** library / baseline. */
  readonly ratio: number
  readonly better: Better
  /** The target this row is checked against, in words, and whether it was met. */
  readonly target?: string | undefined
  readonly met?: boolean | undefined
  /** Library and baseline gave the same result on the same data (where that applies). */
  readonly equal?: boolean | undefined
  readonly note?: string | undefined
}

export const row = (
  fields: Omit<Row, "ratio"> & { readonly ratio?: number | undefined }
): Row => ({ ...fields, ratio: fields.ratio ?? fields.library / fields.baseline })

const format = (value: number): string => {
  if (!Number.isFinite(value)) return String(value)
  const abs = Math.abs(value)
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US")
  if (abs >= 100) return value.toFixed(0)
  if (abs >= 10) return value.toFixed(1)
  if (abs >= 1) return value.toFixed(2)
  return value.toPrecision(2)
}

const pad = (text: string, width: number, right = false) => right ? text.padStart(width) : text.padEnd(width)

/** The table as Markdown (it reads as plain text in a terminal too). */
export const table = (rows: ReadonlyArray<Row>): string => {
  const header = ["group", "benchmark", "unit", "library", "baseline", "ratio", "target", "met"]
  const lines = rows.map((r) => [
    r.group,
    r.name + (r.equal === false ? " (results differ!)" : ""),
    r.unit,
    format(r.library),
    format(r.baseline),
    `${r.ratio.toFixed(2)}x`,
    r.target ?? "",
    r.met === undefined ? "" : r.met ? "yes" : "NO"
  ])
  const right = [false, false, false, true, true, true, false, false]
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)))
  const render = (cells: ReadonlyArray<string>) => `| ${cells.map((c, i) => pad(c, widths[i], right[i])).join(" | ")} |`
  const rule = `|${widths.map((w, i) => (right[i] ? `${"-".repeat(w + 1)}:` : `${"-".repeat(w + 2)}`)).join("|")}|`
  return [render(header), rule, ...lines.map(render)].join("\n")
}

/**
 * A deterministic generator, so that every run benchmarks the same data: Effect's PCG (the generator behind
 * `Random.make`), read synchronously.
 */
export const random = (seed: number): () => number => {
  const pcg = new PCGRandom(seed)
  return () => pcg.number()
}
