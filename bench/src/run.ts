/**
 * `pnpm bench [--quick] [--only group,group] [--out file]`: every benchmark, each against its hand-written
 * baseline in the same process on the same data; one table on stdout, the same figures in `bench/results.json`.
 *
 * Groups: preflight, e2e, decoding, safety, memory, startup, serve.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Decode from "./decode.js"
import * as E2e from "./e2e.js"
import { type Row, table } from "./harness.js"
import * as Memory from "./memory.js"
import * as Preflight from "./preflight.js"
import * as Safety from "./safety.js"
import * as Serve from "./serve.js"
import { root } from "./simulator.js"
import * as Startup from "./startup.js"

export type Mode = "full" | "quick" | "tiny"

export const groups = ["preflight", "e2e", "decoding", "safety", "memory", "startup", "serve"] as const

export type Group = typeof groups[number]

/** Runs the groups in order; `log` hears of each group as it starts and ends. */
export const runGroups = async (
  mode: Mode,
  only: ReadonlyArray<Group> = groups,
  log: (line: string) => void = () => {}
): Promise<ReadonlyArray<Row>> => {
  const rows: Array<Row> = []
  for (const group of groups) {
    if (!only.includes(group)) continue
    const started = Date.now()
    log(`${group}...`)
    switch (group) {
      case "preflight":
        rows.push(...Preflight.run(Preflight.options[mode]))
        break
      case "e2e": {
        const result = await E2e.run(E2e.options[mode])
        if (!result.auditIntact || result.auditLines !== result.libraryCalls) {
          throw new Error(
            `the audit log has ${result.auditLines} entries for ${result.libraryCalls} calls (intact: ${result.auditIntact})`
          )
        }
        rows.push(...result.rows)
        break
      }
      case "decoding":
        rows.push(...(await Decode.run(Decode.options[mode])))
        break
      case "safety":
        rows.push(...Safety.run(Safety.options[mode]))
        break
      case "memory":
        rows.push(...(await Memory.run(Memory.options[mode])).rows)
        break
      case "startup":
        rows.push(...(await Startup.run(Startup.options[mode])))
        break
      case "serve":
        rows.push(...(await Serve.run(Serve.options[mode])))
        break
    }
    log(`${group}: ${((Date.now() - started) / 1000).toFixed(0)} s`)
  }
  return rows
}

/** The machine the figures come from. */
export const machine = () => {
  const cpu = Fs.readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.*)$/m)?.[1] ??
    Os.cpus()[0]?.model ?? "unknown"
  return {
    nproc: Os.availableParallelism(),
    cpu: cpu.trim(),
    memoryGiB: Math.round(Os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${Os.platform()} ${Os.release()}`,
    loadAverage: Os.loadavg().map((l) => Number(l.toFixed(2)))
  }
}

const parseArgs = (argv: ReadonlyArray<string>) => {
  let mode: Mode = "full"
  let only: ReadonlyArray<Group> = groups
  let out = Path.join(root, "bench/results.json")
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === "--quick") mode = "quick"
    else if (arg === "--tiny") mode = "tiny"
    else if (arg === "--only") {
      only = (argv[++i] ?? "").split(",").map((g) => g.trim()) as ReadonlyArray<Group>
      const unknown = only.filter((g) => !groups.includes(g))
      if (unknown.length > 0) throw new Error(`unknown group ${unknown.join(", ")}; groups: ${groups.join(", ")}`)
    } else if (arg === "--out") out = argv[++i]
    else if (arg !== "--") throw new Error(`unknown argument ${arg}; use --quick, --only group,group, --out file`)
  }
  return { mode, only, out }
}

const main = async () => {
  const { mode, only, out } = parseArgs(process.argv.slice(2))
  const started = Date.now()
  const before = machine()
  process.stderr.write(
    `genesys-llm bench (${mode}): ${before.nproc} cores, ${before.cpu}, Node ${before.node}, load ${
      before.loadAverage.join(" ")
    }\n`
  )
  const rows = await runGroups(mode, only, (line) => process.stderr.write(`  ${line}\n`))
  const seconds = (Date.now() - started) / 1000
  process.stdout.write(`${table(rows)}\n`)
  const missed = rows.filter((r) => r.met === false).map((r) => `${r.group}: ${r.name}`)
  const differ = rows.filter((r) => r.equal === false).map((r) => `${r.group}: ${r.name}`)
  process.stdout.write(
    `\n${rows.filter((r) => r.met === true).length} targets met, ${missed.length} missed${
      missed.length > 0 ? `: ${missed.join("; ")}` : ""
    }. ${differ.length > 0 ? `Results differ: ${differ.join("; ")}. ` : ""}${seconds.toFixed(0)} s.\n`
  )
  Fs.writeFileSync(
    out,
    `${
      JSON.stringify(
        {
          date: new Date().toISOString(),
          mode,
          seconds,
          machine: { ...before, loadAverageAfter: machine().loadAverage },
          rows
        },
        null,
        2
      )
    }\n`
  )
  process.stderr.write(`figures written to ${Path.relative(process.cwd(), out)}\n`)
}

if (process.argv[1] !== undefined && Path.resolve(process.argv[1]) === Path.resolve(import.meta.filename)) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error)
      process.exit(1)
    }
  )
}
