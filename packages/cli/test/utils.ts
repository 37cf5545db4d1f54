// Runs the real `genesys-llm` command as a child process, as it is installed: the bundle (`node
// packages/cli/bundle/bin.js ...`, rebuilt by the global setup when stale), from the repository root, with an
// environment cleared of the project's own settings. `source` runs it from source instead (tsx).
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"

export const root = Path.resolve(__dirname, "../../..")
export const bin = Path.join(root, "packages/cli/bundle/bin.js")
export const source = Path.join(root, "packages/cli/src/bin.ts")

const ownSetting = /^(GENESYS_|LLM_|COST_TRACKING_)/

/** The test process's environment without any setting the command reads, and without colours. */
export const baseEnv = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !ownSetting.test(key)) env[key] = value
  }
  env.NO_COLOR = "1"
  return env
}

const childEnv = (overrides: Record<string, string | undefined> = {}): Record<string, string> => {
  const env = baseEnv()
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[key]
    else env[key] = value
  }
  return env
}

export interface Ran {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** How many separate reads stdout arrived in. */
  readonly stdoutChunks: number
}

export interface RunOptions {
  readonly env?: Record<string, string | undefined>
  readonly stdin?: string
  readonly timeout?: Duration.DurationInput
  /** Run from source with tsx rather than the bundle. */
  readonly fromSource?: boolean
}

const command = (args: ReadonlyArray<string>, fromSource = false) =>
  fromSource ? ["--import", "tsx", source, ...args] : [bin, ...args]

/** Runs the command to its exit, killing it when the timeout passes or the fiber is interrupted. */
export const cli = (args: ReadonlyArray<string>, options: RunOptions = {}) =>
  Effect.async<Ran>((resume) => {
    const env = childEnv(options.env)
    const child = ChildProcess.spawn(process.execPath, command(args, options.fromSource), {
      cwd: root,
      env,
      stdio: ["pipe", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    let stdoutChunks = 0
    child.stdout.setEncoding("utf8")
    child.stderr.setEncoding("utf8")
    child.stdout.on("data", (data: string) => {
      stdout += data
      stdoutChunks++
    })
    child.stderr.on("data", (data: string) => (stderr += data))
    child.on("close", (code, signal) => resume(Effect.succeed({ code, signal, stdout, stderr, stdoutChunks })))
    child.stdin.end(options.stdin ?? "")
    return Effect.sync(() => child.kill("SIGKILL"))
  }).pipe(
    Effect.timeoutFail({
      duration: options.timeout ?? Duration.seconds(45),
      onTimeout: () => new Error(`genesys-llm ${args.join(" ")} did not exit in time`)
    })
  )

export interface Started {
  readonly child: ChildProcess.ChildProcess
  /** Stdout up to the moment it was ready. */
  readonly stdout: string
  /** Stdout and stderr so far, read at any time. */
  readonly output: () => { readonly stdout: string; readonly stderr: string }
}

/**
 * Starts the command and yields once stdout is ready: its first line (`"line"`, the simulator's URL) or its first
 * byte (`"data"`, the start of an answer), or once the process started (`"spawn"`). The child is killed when the scope closes, if it still runs.
 */
export const start = (
  args: ReadonlyArray<string>,
  options: {
    readonly env?: Record<string, string | undefined>
    readonly ready?: "line" | "data" | "spawn"
    readonly timeout?: Duration.DurationInput
  } = {}
) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      ChildProcess.spawn(process.execPath, command(args), {
        cwd: root,
        env: childEnv(options.env),
        stdio: ["ignore", "pipe", "pipe"]
      })
    ),
    (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  ).pipe(
    Effect.flatMap((child) =>
      Effect.async<Started, Error>((resume) => {
        let out = ""
        let err = ""
        const output = () => ({ stdout: out, stderr: err })
        if (options.ready === "spawn") child.once("spawn", () => resume(Effect.succeed({ child, stdout: out, output })))
        child.stdout!.setEncoding("utf8")
        child.stderr!.setEncoding("utf8")
        child.stdout!.on("data", (data: string) => {
          out += data
          const ready = options.ready === "data" ? out.length > 0 : out.includes("\n")
          if (ready) resume(Effect.succeed({ child, stdout: out, output }))
        })
        child.stderr!.on("data", (data: string) => (err += data))
        child.on("exit", (code) => resume(Effect.fail(new Error(`exited with ${code} before it was ready: ${err}`))))
      })
    ),
    Effect.timeoutFail({
      duration: options.timeout ?? Duration.seconds(45),
      onTimeout: () => new Error("not ready in time")
    })
  )

/** Sends a signal and waits for the exit code. */
export const stop = (child: ChildProcess.ChildProcess, signal: NodeJS.Signals) =>
  Effect.async<number | null>((resume) => {
    if (child.exitCode !== null) return resume(Effect.succeed(child.exitCode))
    child.on("exit", (code, received) => resume(Effect.succeed(code ?? (received === null ? null : -1))))
    child.kill(signal)
  })

/** The non-empty lines of a text. */
export const lines = (text: string): Array<string> => text.split("\n").filter((line) => line.length > 0)

/** Waits on the real clock, whatever clock the test runs on (a child process does not see the `TestClock`). */
export const liveSleep = (millis: number) =>
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), millis)
    return Effect.sync(() => clearTimeout(timer))
  })
