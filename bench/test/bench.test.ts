import { describe, expect, it } from "vitest"
import * as Decode from "../src/decode.js"
import * as E2e from "../src/e2e.js"
import type { Row } from "../src/harness.js"
import { table } from "../src/harness.js"
import * as Memory from "../src/memory.js"
import * as Preflight from "../src/preflight.js"
import * as Safety from "../src/safety.js"
import * as Startup from "../src/startup.js"

// Each benchmark once, on tiny inputs, so that none of them can rot. Nothing here asserts a timing: only that the
// figures are figures and that the library and its baseline agree on the results.

const sane = (rows: ReadonlyArray<Row>, options: { readonly positive: boolean } = { positive: true }) => {
  expect(rows.length).toBeGreaterThan(0)
  for (const r of rows) {
    const label = `${r.group}: ${r.name}`
    expect(Number.isFinite(r.library), label).toBe(true)
    expect(Number.isFinite(r.baseline), label).toBe(true)
    if (options.positive) {
      expect(r.library, label).toBeGreaterThan(0)
      expect(r.baseline, label).toBeGreaterThan(0)
      expect(Number.isFinite(r.ratio), label).toBe(true)
    }
    expect(r.equal, `${label}: the library and the baseline gave different results`).not.toBe(false)
  }
  expect(table(rows)).toContain(rows[0].name)
}

describe("benchmarks on tiny inputs", () => {
  it("pre-flight: both sides agree on every payload", () => {
    const rows = Preflight.run(Preflight.options.tiny)
    sane(rows)
    expect(rows.every((r) => r.equal === true)).toBe(true)
  })

  it("safety scan: figures for every kind and size, the same findings on prose", () => {
    const rows = Safety.run({ ...Safety.options.tiny, kinds: ["prose+pii", "digits", "password"] })
    sane(rows)
    expect(rows.filter((r) => r.target !== undefined)).toHaveLength(3)
    expect(rows.some((r) => r.equal === true)).toBe(true)
  })

  it("decoding: the decoder and the loop find the recorded frames in both chunkings", async () => {
    const rows = await Decode.run(Decode.options.tiny)
    sane(rows)
    expect(rows.every((r) => r.equal === true)).toBe(true)
  })

  it("end to end: both sides get the same answer; one audit line per library call", async () => {
    const result = await E2e.run(E2e.options.tiny)
    sane(result.rows)
    expect(result.rows.find((r) => r.name.endsWith("throughput"))?.equal).toBe(true)
    expect(result.auditIntact).toBe(true)
    expect(result.auditLines).toBe(result.libraryCalls)
  })

  it("memory: every child received the whole reply and reported its checkpoints", async () => {
    const result = await Memory.run(Memory.options.tiny)
    sane(result.rows, { positive: false })
    expect(result.big.map((b) => b.mode).sort()).toEqual([
      "fetch",
      "run",
      "stream",
      "stream-discard",
      "stream-discard-deferred"
    ])
    for (const b of result.big) {
      expect(b.ok, b.mode).toBe(true)
      expect(b.peakRss).toBeGreaterThanOrEqual(b.baselineRss)
    }
    expect(result.calls.library.at(-1)?.calls).toBe(Memory.options.tiny.calls)
    expect(result.calls.fetch.at(-1)?.calls).toBe(Memory.options.tiny.calls)
    // Child processes each start Node with tsx: on a loaded 2-core machine that alone can take a minute.
  }, 240_000)

  it("startup: the bundled command answers --help and a chat against the simulator", async () => {
    const rows = await Startup.run(Startup.options.tiny)
    sane(rows)
    expect(rows.every((r) => r.equal === true)).toBe(true)
  }, 120_000)
})
