/**
 * The safety scan: MB/s of the policy's scan (every default rule, the e-mail and phone rules enabled) over prose
 * and over adversarial texts of 1 KB, 100 KB and 1 MB, against the hand-written regular expressions; and whether
 * the time per KB stays flat as the text grows.
 */
import { SafetyPolicy } from "@genesys-llm/core"
import * as Effect from "effect/Effect"
import * as Baseline from "./baselines.js"
import * as Data from "./data.js"
import { pair, type Row, row } from "./harness.js"

export interface Options {
  readonly sizes: ReadonlyArray<number>
  readonly kinds: ReadonlyArray<Data.TextKind>
  readonly samples: number
  readonly sampleMs: number
  readonly warmupMs?: number | undefined
}

export const options = {
  full: { sizes: [1_000, 100_000, 1_000_000], kinds: Data.textKinds, samples: 9, sampleMs: 40 },
  quick: { sizes: [1_000, 100_000, 1_000_000], kinds: Data.textKinds, samples: 5, sampleMs: 20 },
  tiny: { sizes: [1_000, 4_000], kinds: Data.textKinds, samples: 1, sampleMs: 1, warmupMs: 1 }
} satisfies Record<string, Options>

/** The rules the benchmark scans with: the defaults, with e-mail addresses and phone numbers redacted. */
export const rules = Effect.runSync(
  SafetyPolicy.resolveRules({ actions: { email: "redact", "phone-number": "redact" } })
)

// Strings as a request parser would hand them over: flat, not slices or ropes of the generator's strings.
const flat = (text: string): string => JSON.parse(JSON.stringify(text)) as string

/** How far apart two lists of findings are: the count of findings in one and not the other. */
export const difference = (
  library: ReadonlyArray<SafetyPolicy.Finding>,
  baseline: ReadonlyArray<readonly [string, number, number]>
): number => {
  const key = (id: string, start: number, end: number) => `${id}:${start}:${end}`
  const a = new Set(library.map((f) => key(f.ruleId, f.start, f.end)))
  const b = new Set(baseline.map(([id, start, end]) => key(id, start, end)))
  let differ = 0
  for (const k of a) if (!b.has(k)) differ++
  for (const k of b) if (!a.has(k)) differ++
  return differ
}

export const run = (opts: Options): ReadonlyArray<Row> => {
  const rows: Array<Row> = []
  for (const kind of opts.kinds) {
    const perKb: Array<number> = []
    const basePerKb: Array<number> = []
    for (const size of opts.sizes) {
      const text = flat(Data.text(kind, size))
      const differ = difference(SafetyPolicy.scanText(rules, text), Baseline.scan(text))
      const result = pair(() => SafetyPolicy.scanText(rules, text), () => Baseline.scan(text), opts)
      const mbps = (ms: number) => size / 1e6 / (ms / 1000)
      perKb.push(result.library / (size / 1000))
      basePerKb.push(result.baseline / (size / 1000))
      rows.push(row({
        group: "safety scan",
        name: `${kind}, ${size >= 1e6 ? `${size / 1e6} MB` : `${size / 1e3} KB`}`,
        unit: "MB/s",
        library: mbps(result.library),
        baseline: mbps(result.baseline),
        better: "higher",
        // Prose must give the same findings; on adversarial texts the plain patterns may find other "cards".
        ...(kind.startsWith("prose") ? { equal: differ === 0 } : {}),
        ...(differ > 0 && !kind.startsWith("prose") ? { note: `${differ} findings differ` } : {})
      }))
    }
    // Flat: the time per KB of the largest text over the smallest time per KB seen at any size (1 = flat).
    const growth = (values: ReadonlyArray<number>) => values[values.length - 1] / Math.min(...values)
    const largest = opts.sizes[opts.sizes.length - 1]
    rows.push(row({
      group: "safety scan",
      name: `${kind}: time per KB at ${largest >= 1e6 ? `${largest / 1e6} MB` : `${largest / 1e3} KB`} over the best ` +
        `size (library ${(perKb[perKb.length - 1] * 1000).toFixed(1)} µs/KB)`,
      unit: "growth",
      library: growth(perKb),
      baseline: growth(basePerKb),
      better: "lower",
      target: "flat (<= 1.5x)",
      met: growth(perKb) <= 1.5
    }))
  }
  return rows
}
