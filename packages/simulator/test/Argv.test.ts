import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import * as GatewaySimulator from "../src/GatewaySimulator.js"
import * as Argv from "../src/internal/argv.js"
import { raw } from "./utils.js"

describe("argv", () => {
  it("parses every flag, in both --flag value and --flag=value forms", () => {
    const parsed = Argv.parse([
      "--port",
      "8787",
      "--host=0.0.0.0",
      "--client-id",
      "cid",
      "--client-secret=cs",
      "--token-lifetime",
      "60",
      "--rpm",
      "5",
      "--pace-ms",
      "20",
      "--frame-chars",
      "8",
      "--reply-text",
      "hi there",
      "--reply-bytes",
      "1000",
      "--chat-path",
      "/chat",
      "--fault",
      "{\"kind\":\"crlf\"}",
      "--fault",
      "[{\"kind\":\"status\",\"status\":503},{\"kind\":\"hangup\"}]",
      "--fault-rate",
      "0.1",
      "--fault-pool",
      "[{\"kind\":\"status\",\"status\":500}]",
      "--seed",
      "3"
    ])
    assert.deepStrictEqual(
      parsed,
      Either.right({
        _tag: "Run" as const,
        options: {
          port: 8787,
          host: "0.0.0.0",
          clientId: "cid",
          clientSecret: "cs",
          tokenLifetimeSeconds: 60,
          requestsPerMinute: 5,
          paceMs: 20,
          frameChars: 8,
          replyText: "hi there",
          replyBytes: 1000,
          chatPath: "/chat",
          faults: [{ kind: "crlf" }, { kind: "status", status: 503 }, { kind: "hangup" }],
          faultRate: 0.1,
          faultPool: [{ kind: "status", status: 500 }],
          seed: 3
        }
      })
    )
  })

  it("falls back to GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET", () => {
    const env = { GENESYS_CLIENT_ID: "env-id", GENESYS_CLIENT_SECRET: "env-secret" }
    assert.deepStrictEqual(
      Argv.parse([], env),
      Either.right({ _tag: "Run" as const, options: { clientId: "env-id", clientSecret: "env-secret" } })
    )
    const flags = Argv.parse(["--client-id", "flag-id"], env)
    assert.deepStrictEqual(Either.map(flags, (p) => p._tag === "Run" && p.options.clientId), Either.right("flag-id"))
  })

  it("names bad flags and values, but never a secret's value", () => {
    assert.deepStrictEqual(Argv.parse(["--help"]), Either.right({ _tag: "Help" as const }))
    assert.deepStrictEqual(Argv.parse(["--prot", "1"]), Either.left("unknown option \"--prot\""))
    assert.deepStrictEqual(Argv.parse(["--port"]), Either.left("--port needs a value"))
    assert.deepStrictEqual(Argv.parse(["--port", "x"]), Either.left("--port expects a number, got \"x\""))
    assert.isTrue(Either.isLeft(Argv.parse(["--fault", "{nope"])))
  })

  it.effect("parsed options decode; invalid ones are named by the options schema", () =>
    Effect.gen(function*() {
      const parsed = Argv.parse(["--fault", "{\"kind\":\"stall\"}", "--rpm", "0"])
      assert.isTrue(Either.isRight(parsed))
      const options = Option.getOrThrow(Either.getRight(parsed))
      const error = yield* Effect.flip(GatewaySimulator.decodeOptions(options._tag === "Run" ? options.options : {}))
      assert.include(error.message, "faults[0].afterFrames: ")
      assert.include(error.message, "requestsPerMinute: ")
    }))
})

const root = Path.resolve(__dirname, "../../..")
const tsx = Path.join(root, "node_modules/.bin/tsx")
const bin = Path.join(root, "packages/simulator/src/bin.ts")

/** Starts the bin; yields the first stdout line and a way to stop it that waits for the exit code. */
const startBin = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => ChildProcess.spawn(tsx, [bin, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })),
    (child) => Effect.sync(() => child.kill("SIGKILL"))
  ).pipe(Effect.flatMap((child) =>
    Effect.async<{ readonly line: string; readonly child: ChildProcess.ChildProcess }, Error>((resume) => {
      let out = ""
      let err = ""
      child.stdout!.on("data", (data) => {
        out += data
        const newline = out.indexOf("\n")
        if (newline >= 0) resume(Effect.succeed({ line: out.slice(0, newline), child }))
      })
      child.stderr!.on("data", (data) => (err += data))
      child.on("exit", (code) => resume(Effect.fail(new Error(`exited with ${code} before a line: ${err}`))))
    })
  ))

const exitCode = (child: ChildProcess.ChildProcess, signal?: NodeJS.Signals) =>
  Effect.async<number | null>((resume) => {
    if (child.exitCode !== null) return resume(Effect.succeed(child.exitCode))
    child.on("exit", (code) => resume(Effect.succeed(code)))
    if (signal !== undefined) child.kill(signal)
  })

describe("bin", () => {
  it.scoped("prints its URL as the first line of stdout, serves, and exits 0 on SIGTERM", () =>
    Effect.gen(function*() {
      const { child, line } = yield* startBin(["--port", "0", "--fault", "{\"kind\":\"status\",\"status\":503}"])
      assert.match(line, /^http:\/\/127\.0\.0\.1:\d+$/)
      const faults = yield* raw(line, { method: "GET", path: "/__simulator/faults" })
      assert.strictEqual(faults.status, 200)
      assert.deepStrictEqual(JSON.parse(faults.body.toString()).queue, [{ kind: "status", status: 503 }])
      assert.strictEqual(yield* exitCode(child, "SIGTERM"), 0)
    }))

  it.scoped("exits 2 with the usage on a bad flag", () =>
    Effect.gen(function*() {
      const child = ChildProcess.spawn(tsx, [bin, "--nope"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
      yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
      let err = ""
      child.stderr.on("data", (data) => (err += data))
      assert.strictEqual(yield* exitCode(child), 2)
      assert.include(err, "unknown option")
      assert.include(err, "Usage:")
    }))
})
