/**
 * How long the `genesys-llm` command takes as a whole process, from spawn to exit: `--help`, and a `chat` to the
 * end of a short answer from the simulator (in its own process), each against `node -e ''` measured in the same
 * rounds. Also `--help` from source (tsx, what `pnpm -s cli` ran before the bundle) and through `pnpm -s cli`,
 * whose own start is measured with `pnpm -s exec node -e ''`.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { elapsedMs, median, now, type Row, row } from "./harness.js"
import { root, spawnSimulator } from "./simulator.js"

export interface Options {
  /** Runs of each command, interleaved. */
  readonly rounds: number
  /** Also measure the paths through tsx and pnpm (slow: seconds a run). */
  readonly slowPaths: boolean
}

export const options: Record<"full" | "quick" | "tiny", Options> = {
  full: { rounds: 9, slowPaths: true },
  quick: { rounds: 5, slowPaths: true },
  tiny: { rounds: 1, slowPaths: false }
}

const bin = Path.join(root, "packages/cli/bundle/bin.js")

interface Timed {
  readonly ms: number
  readonly code: number | null
  readonly stdout: string
}

const timed = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env) =>
  new Promise<Timed>((resolve, reject) => {
    const started = now()
    const child = ChildProcess.spawn(command, args, { cwd: root, env, stdio: ["ignore", "pipe", "ignore"] })
    let stdout = ""
    child.stdout.on("data", (data: Buffer) => (stdout += data.toString()))
    child.once("error", reject)
    child.once("close", (code) => resolve({ ms: elapsedMs(started), code, stdout }))
  })

export const run = async (opts: Options): Promise<ReadonlyArray<Row>> => {
  // The bundle is what is measured: rebuilt first if its sources changed since it was built.
  ChildProcess.execFileSync(process.execPath, [Path.join(root, "scripts/bundle.mjs"), "--if-stale"], { cwd: root })
  const simulator = await spawnSimulator()
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "genesys-llm-bench-startup-"))
  const env = {
    ...process.env,
    GENESYS_CLIENT_ID: simulator.clientId,
    GENESYS_CLIENT_SECRET: simulator.clientSecret
  }
  const chatArgs = [
    bin,
    "chat",
    "--api-url",
    simulator.url,
    "--model",
    "m",
    "--user",
    "Where is my parcel?",
    "--max-tokens",
    "64",
    "--json",
    "--audit-log",
    Path.join(dir, "audit.log")
  ]
  const samples: Record<string, Array<number>> = { node: [], help: [], chat: [], tsx: [], pnpm: [], pnpmNode: [] }
  let answered = true
  try {
    for (let round = 0; round < opts.rounds; round++) {
      samples.node.push((await timed(process.execPath, ["-e", ""])).ms)
      const help = await timed(process.execPath, [bin, "--help"])
      answered &&= help.code === 0
      samples.help.push(help.ms)
      const chat = await timed(process.execPath, chatArgs, env)
      answered &&= chat.code === 0 && (JSON.parse(chat.stdout) as { status: string }).status === "success"
      samples.chat.push(chat.ms)
      if (opts.slowPaths) {
        samples.tsx.push((await timed(process.execPath, ["--import", "tsx", "packages/cli/src/bin.ts", "--help"])).ms)
        samples.pnpm.push((await timed("pnpm", ["-s", "cli", "--help"])).ms)
        samples.pnpmNode.push((await timed("pnpm", ["-s", "exec", "node", "-e", ""])).ms)
      }
    }
  } finally {
    await simulator.close()
    Fs.rmSync(dir, { recursive: true, force: true })
  }
  const node = median(samples.node)
  const help = median(samples.help)
  const chat = median(samples.chat)
  const rows: Array<Row> = [
    row({
      group: "startup",
      name: "genesys-llm --help (the bundle), whole process, vs node -e ''",
      unit: "ms",
      library: help,
      baseline: node,
      better: "lower",
      target: "< 4x and < 400 ms",
      met: help / node < 4 && help < 400,
      equal: answered
    }),
    row({
      group: "startup",
      name: "genesys-llm chat --json to the end of a short answer from the simulator, vs node -e ''",
      unit: "ms",
      library: chat,
      baseline: node,
      better: "lower",
      target: "< 700 ms",
      met: chat < 700,
      equal: answered
    })
  ]
  if (opts.slowPaths) {
    rows.push(
      row({
        group: "startup",
        name: "--help from source (node --import tsx src/bin.ts, the old pnpm -s cli), vs node -e ''",
        unit: "ms",
        library: median(samples.tsx),
        baseline: node,
        better: "lower"
      }),
      row({
        group: "startup",
        name: "pnpm -s cli --help (pnpm, then the bundle), vs pnpm -s exec node -e ''",
        unit: "ms",
        library: median(samples.pnpm),
        baseline: median(samples.pnpmNode),
        better: "lower"
      })
    )
  }
  return rows
}
