// First contact as a new user has it: the README's command-line block run as pasted, the bundle answering as the
// source does, and every public package packed, installed with npm into an empty project and used there.
import { assert, describe, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { root } from "./utils.js"

const readme = Fs.readFileSync(Path.join(root, "README.md"), "utf8")

// The first `sh` block of the section "The command line".
const commandLineBlock = (): string => {
  const section = readme.slice(readme.indexOf("## The command line"))
  const match = /```sh\n([\s\S]*?)```/.exec(section)
  if (match === null) throw new Error("no sh block in the README's section The command line")
  return match[1]
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

// Runs a command to its end in its own process group, which is killed whatever happens (a simulator left running
// by a failing script included).
const run = (command: string, args: ReadonlyArray<string>, options: {
  readonly cwd: string
  readonly env?: NodeJS.ProcessEnv
  readonly timeoutMs?: number
}) =>
  new Promise<Ran>((resolve, reject) => {
    const child = ChildProcess.spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (data: Buffer) => (stdout += data.toString()))
    child.stderr.on("data", (data: Buffer) => (stderr += data.toString()))
    const kill = () => {
      try {
        process.kill(-child.pid!, "SIGKILL")
      } catch {
        // already gone
      }
    }
    const timer = setTimeout(() => {
      kill()
      reject(new Error(`${command} ${args.join(" ")} did not finish in time: ${stderr}`))
    }, options.timeoutMs ?? 60_000)
    child.once("error", reject)
    child.once("close", (code) => {
      clearTimeout(timer)
      kill()
      resolve({ code, stdout, stderr })
    })
  })

const cleanEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(GENESYS_|LLM_|COST_TRACKING_)/.test(key)) env[key] = value
  }
  return env
}

describe("first contact", () => {
  it("the README's command-line block runs as pasted: an answer, a JSON summary, an intact audit log", async () => {
    const block = commandLineBlock()
    assert.include(block, "examples/payload.json")
    assert.isTrue(Fs.existsSync(Path.join(root, "examples/payload.json")))
    // The block's port, made free for this run; nothing else is changed.
    const port = await freePort()
    // As an interactive shell has it: job control on, so that `kill %1` stops the whole job.
    const script = `set -em\n${block.replaceAll("8787", String(port))}`
    const log = Path.join(root, "simulator.log")
    Fs.rmSync(log, { force: true })
    try {
      const ran = await run("bash", ["-c", script], { cwd: root, env: cleanEnv(), timeoutMs: 90_000 })
      assert.strictEqual(ran.code, 0, ran.stderr)
      const out = ran.stdout.split("\n").filter((line) => line.length > 0)
      assert.match(out[0], /^Simulated reply/)
      const summary = JSON.parse(out[1]) as { status: string; text: string }
      assert.strictEqual(summary.status, "success")
      assert.isAbove(summary.text.length, 0)
      assert.match(out[2], /^\.\/llm-audit\.log: intact/)
    } finally {
      Fs.rmSync(log, { force: true })
    }
  }, 120_000)

  it("the bundle gives the same help as the source", async () => {
    const bundled = await run(process.execPath, ["packages/cli/bundle/bin.js", "chat", "--help"], { cwd: root })
    const source = await run(process.execPath, ["--import", "tsx", "packages/cli/src/bin.ts", "chat", "--help"], {
      cwd: root
    })
    assert.strictEqual(bundled.code, 0)
    assert.strictEqual(bundled.stdout, source.stdout)
  }, 60_000)
})

// The packages as npm would publish them (`pnpm pack` applies publishConfig), installed into an empty project.
const publicPackages = ["core", "node", "postgres", "simulator", "testing", "redis", "server", "cli"]

const consumer = `import { Pipeline } from "@genesys-llm/core"
import { NodePipeline } from "@genesys-llm/node"
import * as Effect from "effect/Effect"

const input: unknown = {
  systemInstructions: ["You are a concise contact-center assistant."],
  context: [{ role: "user", content: "Where is my parcel?" }],
  temperature: 0.2,
  maxTokens: 256,
  modelId: "my-model"
}

const completion = await Effect.runPromise(
  Pipeline.run(input).pipe(Effect.provide(NodePipeline.layerConfig({ auditLogPath: "audit.log" })))
)
console.log(JSON.stringify({ status: completion.status, text: completion.text }))
`

describe("packed and installed with npm", () => {
  it("every public package packs, installs into an empty project, and works there", async () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "genesys-llm-install-"))
    try {
      const packed = Path.join(dir, "packed")
      Fs.mkdirSync(packed)
      const build = await run("pnpm", ["-s", "build"], { cwd: root, timeoutMs: 300_000 })
      assert.strictEqual(build.code, 0, build.stderr)
      for (const name of publicPackages) {
        const pack = await run("pnpm", ["pack", "--pack-destination", packed], {
          cwd: Path.join(root, "packages", name)
        })
        assert.strictEqual(pack.code, 0, pack.stderr)
      }
      const tarballs = Fs.readdirSync(packed).map((file) => Path.join(packed, file))
      assert.strictEqual(tarballs.length, publicPackages.length)
      // Package metadata, checked on the tarballs themselves: publint (exports, files, bins), and
      // @arethetypeswrong/cli (the types resolve under NodeNext and bundlers; these packages are ESM only).
      for (const tarball of tarballs) {
        const lint = await run(Path.join(root, "node_modules/.bin/publint"), ["run", "--strict", tarball], { cwd: dir })
        assert.strictEqual(lint.code, 0, `${lint.stdout}${lint.stderr}`)
        assert.include(lint.stdout, "All good!")
        const types = await run(
          Path.join(root, "node_modules/.bin/attw"),
          [tarball, "--profile", "esm-only", "--format", "ascii"],
          { cwd: dir }
        )
        assert.strictEqual(types.code, 0, `${types.stdout}${types.stderr}`)
      }

      const project = Path.join(dir, "project")
      Fs.mkdirSync(project)
      Fs.writeFileSync(
        Path.join(project, "package.json"),
        JSON.stringify({ name: "consumer", private: true, type: "module" })
      )
      const install = await run(
        "npm",
        [
          "install",
          "--no-audit",
          "--no-fund",
          "--loglevel=error",
          ...tarballs,
          "effect@^3.22.4",
          "typescript@5.9.3",
          "@types/node@20"
        ],
        { cwd: project, timeoutMs: 300_000 }
      )
      assert.strictEqual(install.code, 0, install.stderr)

      const env = cleanEnv()
      const help = await run("npx", ["--no-install", "genesys-llm", "--help"], { cwd: project, env })
      assert.strictEqual(help.code, 0, help.stderr)
      assert.include(help.stdout, "audit verify [PATH]")

      // The installed simulator, and the installed command against it.
      const simulator = ChildProcess.spawn(Path.join(project, "node_modules/.bin/genesys-llm"), ["simulator"], {
        cwd: project,
        env,
        stdio: ["ignore", "pipe", "inherit"]
      })
      try {
        const url = await new Promise<string>((resolve, reject) => {
          let out = ""
          simulator.once("exit", (code) => reject(new Error(`the simulator exited with ${code}`)))
          simulator.stdout.on("data", (data: Buffer) => {
            out += data.toString()
            if (out.includes("\n")) resolve(out.slice(0, out.indexOf("\n")).trim())
          })
        })
        const credentials = { ...env, GENESYS_CLIENT_ID: "simulator-client", GENESYS_CLIENT_SECRET: "simulator-secret" }
        const chat = await run(
          Path.join(project, "node_modules/.bin/genesys-llm"),
          ["chat", "--api-url", url, "--model", "m", "--user", "Where is my parcel?", "--json"],
          { cwd: project, env: credentials }
        )
        assert.strictEqual(chat.code, 0, chat.stderr)
        assert.strictEqual((JSON.parse(chat.stdout) as { status: string }).status, "success")

        // A program of the user's own: ESM, importing the installed packages, one Pipeline.run.
        Fs.writeFileSync(Path.join(project, "main.mjs"), consumer.replace("const input: unknown", "const input"))
        const program = await run(process.execPath, ["main.mjs"], {
          cwd: project,
          env: { ...credentials, GENESYS_API_URL: url }
        })
        assert.strictEqual(program.code, 0, program.stderr)
        assert.strictEqual((JSON.parse(program.stdout) as { status: string }).status, "success")
      } finally {
        simulator.kill("SIGKILL")
      }

      // The same program type-checks as TypeScript under NodeNext, against the installed declarations.
      Fs.writeFileSync(Path.join(project, "main.ts"), consumer)
      Fs.writeFileSync(
        Path.join(project, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            target: "ES2022",
            module: "NodeNext",
            moduleResolution: "NodeNext",
            strict: true,
            noEmit: true,
            types: ["node"]
          },
          files: ["main.ts"]
        })
      )
      const tsc = await run(Path.join(project, "node_modules/.bin/tsc"), ["-p", "."], { cwd: project })
      assert.strictEqual(tsc.code, 0, `${tsc.stdout}${tsc.stderr}`)
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 600_000)
})
