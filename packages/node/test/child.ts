// Runs test/fixtures/sinkProcess.ts as a real child process: its stdout lines can be awaited, its stdin written,
// and it is SIGKILLed when the scope closes if it still runs.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"

const sinkProcess = Path.join(__dirname, "fixtures/sinkProcess.ts")

export interface Child {
  readonly process: ChildProcess.ChildProcess
  readonly pid: number
  /** Waits for the first stdout line (after the lines already awaited) that starts with `prefix`. */
  readonly line: (prefix: string) => Effect.Effect<string, Error>
  readonly send: (line: string) => Effect.Effect<void>
  readonly endInput: Effect.Effect<void>
  /** Waits for the exit: the code, or the signal's name. */
  readonly exit: Effect.Effect<number | string>
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<number | string>
  readonly stderr: () => string
}

export const spawn = (args: ReadonlyArray<string>, env: Record<string, string> = {}, fixture = sinkProcess) =>
  Effect.acquireRelease(
    Effect.sync((): Child => {
      const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", fixture, ...args], {
        cwd: Path.join(__dirname, ".."),
        env: { ...process.env, NO_COLOR: "1", ...env },
        stdio: ["pipe", "pipe", "pipe"]
      })
      const lines: Array<string> = []
      let read = 0
      let buffered = ""
      let err = ""
      const waiters: Array<() => void> = []
      child.stdout!.setEncoding("utf8")
      child.stderr!.setEncoding("utf8")
      child.stdout!.on("data", (data: string) => {
        buffered += data
        const parts = buffered.split("\n")
        buffered = parts.pop()!
        lines.push(...parts)
        waiters.splice(0).forEach((wake) => wake())
      })
      child.stderr!.on("data", (data: string) => (err += data))
      const exited = new Promise<number | string>((resolve) =>
        child.on("exit", (code, signal) => {
          waiters.splice(0).forEach((wake) => wake())
          resolve(code ?? signal ?? "unknown")
        })
      )
      const exit = Effect.promise(() => exited)
      const line = (prefix: string) =>
        Effect.async<string, Error>((resume) => {
          const look = () => {
            while (read < lines.length) {
              const candidate = lines[read++]
              if (candidate.startsWith(prefix)) return resume(Effect.succeed(candidate))
            }
            if (child.exitCode !== null || child.signalCode !== null) {
              return resume(Effect.fail(new Error(`exited before "${prefix}": ${lines.join("|")} ${err}`)))
            }
            waiters.push(look)
          }
          look()
        }).pipe(Effect.timeoutFail({
          duration: Duration.minutes(5),
          onTimeout: () => new Error(`no "${prefix}" line: ${err}`)
        }))
      return {
        process: child,
        pid: child.pid!,
        line,
        send: (text) => Effect.sync(() => void child.stdin!.write(`${text}\n`)),
        endInput: Effect.sync(() => void child.stdin!.end()),
        exit,
        kill: (signal) => Effect.zipRight(Effect.sync(() => child.kill(signal)), exit),
        stderr: () => err
      }
    }),
    (child) =>
      Effect.sync(() => {
        if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL")
      })
  )
