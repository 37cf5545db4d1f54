// The real `genesys-llm` command, run as a child process against a simulator started in this process. The tests
// of the `chat` block share one audit log, which the `audit verify` tests then check: they run in order.
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it, layer } from "@effect/vitest"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Http from "node:http"
import * as Path from "node:path"
import { cli, lines, liveSleep, start, stop } from "./utils.js"

const replyText = "Your order shipped on Monday: café ✓ 日本語 👋, and it arrives on Thursday."

const keyPattern = /^llm-gw-[0-9a-f-]{36}$/

const summaryKeys = [
  "status",
  "text",
  "tokensUsed",
  "latencyMs",
  "attempts",
  "idempotencyKey",
  "droppedContextMessages"
]

class Fixture extends Context.Tag("Fixture")<Fixture, {
  readonly simulator: GatewaySimulator.Service
  readonly dir: string
  readonly auditLog: string
  /** The environment and flags that point `chat` at the simulator with its credentials. */
  readonly env: Record<string, string>
  readonly target: ReadonlyArray<string>
}>() {}

const FixtureLive = Layer.scoped(
  Fixture,
  Effect.gen(function*() {
    const simulator = yield* GatewaySimulator.make({ replyText, frameChars: 8 })
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "genesys-llm-cli-" })
    const auditLog = Path.join(dir, "audit.log")
    return {
      simulator,
      dir,
      auditLog,
      env: {
        GENESYS_CLIENT_ID: simulator.credentials.clientId,
        GENESYS_CLIENT_SECRET: Redacted.value(simulator.credentials.clientSecret)
      },
      target: ["--api-url", simulator.url, "--audit-log", auditLog]
    }
  })
).pipe(Layer.provide(NodeFileSystem.layer))

const chatRequests = (simulator: GatewaySimulator.Service) =>
  Effect.map(simulator.control.requests, (records) => records.filter((r) => r.path === simulator.options.chatPath))

const parseSummary = (stdout: string): Record<string, unknown> => {
  const out = lines(stdout)
  assert.strictEqual(out.length, 1, `one JSON line on stdout, got ${JSON.stringify(stdout)}`)
  return JSON.parse(out[0]) as Record<string, unknown>
}

const writeJson = (path: string, value: unknown) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.writeFileString(path, JSON.stringify(value))).pipe(
    Effect.provide(NodeFileSystem.layer)
  )

const readText = (path: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(path)).pipe(Effect.provide(NodeFileSystem.layer))

// A metrics webhook receiver on loopback that keeps every JSON body it gets.
const webhookReceiver = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly events: Array<Record<string, unknown>>; readonly server: Http.Server }>(
    (resume) => {
      const events: Array<Record<string, unknown>> = []
      const server = Http.createServer((request, response) => {
        let body = ""
        request.setEncoding("utf8")
        request.on("data", (chunk: string) => (body += chunk))
        request.on("end", () => {
          events.push(JSON.parse(body) as Record<string, unknown>)
          response.writeHead(204).end()
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address() as { port: number }
        resume(Effect.succeed({ url: `http://127.0.0.1:${address.port}`, events, server }))
      })
    }
  ),
  ({ server }) => Effect.sync(() => server.close())
)

describe("genesys-llm --help", () => {
  it.live("documents every command, option, environment variable and exit code", () =>
    Effect.gen(function*() {
      const [root, chat, simulator] = yield* Effect.all([
        cli(["--help"]),
        cli(["chat", "--help"]),
        cli(["simulator", "--help"])
      ], { concurrency: 2 })
      for (const ran of [root, chat, simulator]) {
        assert.strictEqual(ran.code, 0)
        assert.strictEqual(ran.stderr, "")
        assert.notInclude(ran.stdout, "\x1b[", "no colours when stdout is not a terminal")
      }
      for (const command of ["chat", "simulator", "audit verify [PATH]", "db migrate"]) {
        assert.include(root.stdout, command)
      }
      for (
        const option of [
          "--payload",
          "--model",
          "--system",
          "--user",
          "--temperature",
          "--max-tokens",
          "--api-url",
          "--login-url",
          "--audit-log",
          "--webhook",
          "--max-latency",
          "--fallback",
          "--redis-url",
          "--json"
        ]
      ) {
        assert.include(chat.stdout, option)
      }
      for (
        const option of [
          "--host",
          "--port",
          "--client-id",
          "--client-secret",
          "--token-lifetime",
          "--rpm",
          "--pace-ms",
          "--fault",
          "--fault-rate",
          "--seed"
        ]
      ) assert.include(simulator.stdout, option)
      for (
        const variable of [
          "GENESYS_CLIENT_ID",
          "GENESYS_CLIENT_SECRET",
          "GENESYS_ENV",
          "GENESYS_API_URL",
          "GENESYS_LOGIN_URL",
          "LLM_AUDIT_LOG_PATH",
          "COST_TRACKING_WEBHOOK",
          "LLM_MAX_LATENCY_MS",
          "LLM_FALLBACK_TEXT"
        ]
      ) {
        assert.include(root.stdout, variable)
        assert.include(chat.stdout, variable)
      }
      for (const code of ["0", "1", "2", "3", "4", "5"]) assert.match(chat.stdout, new RegExp(`\\n\\s+${code}\\s+\\S`))
    }), 120_000)
})

describe("genesys-llm usage errors", () => {
  it.live(
    "a missing payload file, an unknown flag, conflicting inputs: exit 2 and one stderr line each",
    () =>
      Effect.gen(function*() {
        const [missing, unknown, conflict] = yield* Effect.all([
          cli(["chat", "--payload", "/nonexistent/payload.json"]),
          cli(["chat", "--model", "m", "--user", "hi", "--bogus"]),
          cli(["chat", "--payload", "-", "--model", "m"])
        ], { concurrency: 2 })
        for (const ran of [missing, unknown, conflict]) {
          assert.strictEqual(ran.code, 2)
          assert.strictEqual(ran.stdout, "")
          assert.strictEqual(lines(ran.stderr).length, 1, ran.stderr)
          assert.match(ran.stderr, /^genesys-llm: /)
          assert.notInclude(ran.stderr, "    at ", "no stack trace")
        }
        assert.include(missing.stderr, "/nonexistent/payload.json does not exist")
        assert.include(unknown.stderr, "--bogus")
        assert.include(conflict.stderr, "--payload cannot be combined with --model")
      }),
    120_000
  )
})

// Without the test services: the simulator and every wait run on the live clock.
layer(FixtureLive, { excludeTestServices: true })("genesys-llm chat against the simulator", (it) => {
  it.effect("--json: one summary with every field, the text the simulator sent, one request on the wire", () =>
    Effect.gen(function*() {
      const { auditLog, dir, env, simulator, target } = yield* Fixture
      yield* simulator.control.reset
      // A budget of 80% of 40 tokens (128 characters) keeps the newest message only: the two before it are dropped.
      const payloadFile = Path.join(dir, "payload.json")
      yield* writeJson(payloadFile, {
        systemInstructions: ["Be brief."],
        context: [
          { role: "user", content: "a".repeat(100) },
          { role: "agent", content: "b".repeat(100) },
          { role: "user", content: "Where is my order?" }
        ],
        temperature: 0.2,
        maxTokens: 40,
        modelId: "gpt-4o"
      })
      const receiver = yield* webhookReceiver
      const outbox = Path.join(dir, "outbox.jsonl")
      const ran = yield* cli(
        [
          "chat",
          "--payload",
          payloadFile,
          "--json",
          "--webhook",
          `${receiver.url}/hook?token=hook-token-7d2e`,
          ...target
        ],
        { env: { ...env, COST_TRACKING_OUTBOX_PATH: outbox } }
      )
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.strictEqual(ran.stderr, "")
      const summary = parseSummary(ran.stdout)
      assert.deepStrictEqual(Object.keys(summary).sort(), [...summaryKeys].sort())
      assert.strictEqual(summary.status, "success")
      assert.strictEqual(summary.text, replyText)
      assert.isAbove(summary.tokensUsed as number, 0)
      assert.isAtLeast(summary.latencyMs as number, 0)
      assert.strictEqual(summary.attempts, 1)
      assert.match(summary.idempotencyKey as string, keyPattern)
      assert.strictEqual(summary.droppedContextMessages, 2)

      const requests = yield* chatRequests(simulator)
      assert.strictEqual(requests.length, 1)
      assert.strictEqual(requests[0].idempotencyKey, summary.idempotencyKey)
      assert.strictEqual(requests[0].outcome, "completed")
      assert.isAbove(requests[0].frames ?? 0, 1, "the answer came in several frames")
      assert.include(yield* readText(auditLog), summary.idempotencyKey as string)

      // The metrics event reached the webhook before the command exited; nothing waits in the outbox.
      assert.strictEqual(receiver.events.length, 1)
      const event = receiver.events[0]
      assert.strictEqual(event.event, "llm_prompt_completed")
      assert.strictEqual(event.model, "gpt-4o")
      assert.strictEqual(event.tokens_used, summary.tokensUsed)
      const outboxLeft = yield* Effect.flatMap(FileSystem.FileSystem, (fs) => fs.exists(outbox)).pipe(
        Effect.flatMap((exists) => exists ? readText(outbox) : Effect.succeed("")),
        Effect.provide(NodeFileSystem.layer)
      )
      assert.strictEqual(outboxLeft.trim(), "")
    }).pipe(Effect.scoped))

  it.effect("text mode: the payload from stdin, the answer streamed as it arrives, then a newline", () =>
    Effect.gen(function*() {
      const { auditLog, env } = yield* Fixture
      // A simulator of its own that paces its frames, so that written-as-it-arrives shows as several reads.
      const paced = yield* GatewaySimulator.make({ replyText, frameChars: 8, paceMs: 150 })
      const payload = {
        systemInstructions: [],
        context: [{ role: "user", content: "Where is my order?" }],
        temperature: 0,
        maxTokens: 200,
        modelId: "gpt-4o"
      }
      const ran = yield* cli(["chat", "--payload", "-", "--api-url", paced.url, "--audit-log", auditLog], {
        env,
        stdin: JSON.stringify(payload)
      })
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.strictEqual(ran.stderr, "")
      assert.strictEqual(ran.stdout, `${replyText}\n`)
      assert.isAbove(ran.stdoutChunks, 1, "stdout was written frame by frame, not once at the end")
      const requests = yield* chatRequests(paced)
      assert.strictEqual(requests.length, 1)
    }).pipe(Effect.scoped))

  it.effect("fallback: a gateway slower than --max-latency gives the fallback text, status fallback, exit 0", () =>
    Effect.gen(function*() {
      const { auditLog, env, simulator, target } = yield* Fixture
      yield* simulator.control.reset
      yield* simulator.control.enqueue({ kind: "delay", ms: 5000 })
      // A torn last line, as a crash mid-write leaves it: the log recovers on open and says so in a log line,
      // which goes to stderr and leaves stdout to the JSON summary.
      yield* Effect.flatMap(
        FileSystem.FileSystem,
        (fs) => fs.writeFileString(auditLog, "{\"kind\":\"call\",\"seq\":", { flag: "a" })
      ).pipe(
        Effect.provide(NodeFileSystem.layer)
      )
      const ran = yield* cli([
        "chat",
        "--model",
        "gpt-4o",
        "--user",
        "Where is my order?",
        "--max-latency",
        "300",
        "--fallback",
        "One moment please, an agent will help you.",
        "--json",
        ...target
      ], { env })
      assert.strictEqual(ran.code, 0, ran.stderr)
      const summary = parseSummary(ran.stdout)
      assert.deepStrictEqual(Object.keys(summary).sort(), [...summaryKeys, "fallbackReason"].sort())
      assert.strictEqual(summary.status, "fallback")
      assert.strictEqual(summary.fallbackReason, "deadline")
      assert.strictEqual(summary.text, "One moment please, an agent will help you.")
      assert.strictEqual(summary.tokensUsed, 0)
      assert.match(summary.idempotencyKey as string, keyPattern)
      assert.strictEqual(lines(ran.stderr).length, 1, ran.stderr)
      assert.match(ran.stderr, /^genesys-llm: warning: audit log: torn tail moved aside \(.*reason=/)
    }))

  it.effect("invalid payload: exit 2, every failing path named, nothing sent", () =>
    Effect.gen(function*() {
      const { dir, env, simulator, target } = yield* Fixture
      yield* simulator.control.reset
      const payloadFile = Path.join(dir, "invalid.json")
      yield* writeJson(payloadFile, {
        systemInstructions: [],
        context: [{ role: "customer", content: "Where is my order?" }],
        temperature: 9,
        maxTokens: 100,
        modelId: "gpt-4o"
      })
      const ran = yield* cli(["chat", "--payload", payloadFile, "--json", ...target], { env })
      assert.strictEqual(ran.code, 2)
      const summary = parseSummary(ran.stdout)
      assert.strictEqual(summary.status, "invalid")
      assert.strictEqual(summary.idempotencyKey, null)
      assert.deepStrictEqual(summary.error, {
        tag: "PromptValidationError",
        message: (summary.error as { message: string }).message
      })
      assert.strictEqual(lines(ran.stderr).length, 1)
      assert.include(ran.stderr, "context[0].role")
      assert.include(ran.stderr, "temperature")
      assert.notInclude(ran.stderr, "Where is my order?")
      assert.deepStrictEqual(yield* simulator.control.requests, [], "no request at all reached the simulator")
    }))

  it.effect("blocked prompt: exit 3, the rule named and not the card number, nothing sent", () =>
    Effect.gen(function*() {
      const { env, simulator, target } = yield* Fixture
      yield* simulator.control.reset
      const ran = yield* cli(
        ["chat", "--model", "gpt-4o", "--user", "My card is 4111 1111 1111 1111, refund it", ...target],
        { env }
      )
      assert.strictEqual(ran.code, 3)
      assert.strictEqual(ran.stdout, "")
      assert.strictEqual(lines(ran.stderr).length, 1)
      assert.include(ran.stderr, "payment-card")
      assert.notInclude(ran.stderr, "4111")
      assert.deepStrictEqual(yield* chatRequests(simulator), [])
    }))

  it.effect("rejected by the gateway: exit 4 with the status named", () =>
    Effect.gen(function*() {
      const { env, simulator, target } = yield* Fixture
      yield* simulator.control.reset
      yield* simulator.control.enqueue({ kind: "status", status: 400, message: "bad prompt" })
      const ran = yield* cli(["chat", "--model", "gpt-4o", "--user", "Where is my order?", ...target], { env })
      assert.strictEqual(ran.code, 4)
      assert.strictEqual(ran.stdout, "")
      assert.strictEqual(lines(ran.stderr).length, 1)
      assert.include(ran.stderr, "HTTP 400")
      assert.strictEqual((yield* chatRequests(simulator)).length, 1, "a 400 is not retried")
    }))

  it.effect("a stream broken after text: the text delivered, status error, exit 4", () =>
    Effect.gen(function*() {
      const { env, simulator, target } = yield* Fixture
      yield* simulator.control.reset
      yield* simulator.control.enqueue({ kind: "reset", afterFrames: 2 })
      const ran = yield* cli(["chat", "--model", "gpt-4o", "--user", "Where is my order?", "--json", ...target], {
        env
      })
      assert.strictEqual(ran.code, 4)
      const summary = parseSummary(ran.stdout)
      assert.strictEqual(summary.status, "error")
      const text = summary.text as string
      assert.isAbove(text.length, 0)
      assert.isTrue(replyText.startsWith(text) && text.length < replyText.length, text)
      assert.strictEqual((summary.error as { tag: string }).tag, "StreamInterrupted")
      assert.strictEqual(lines(ran.stderr).length, 1)
      assert.strictEqual((yield* chatRequests(simulator)).length, 1, "nothing is retried once text was delivered")
    }))

  it.effect(
    "credentials: wrong ones exit 5 without the secret in the output; missing ones exit 5 too",
    () =>
      Effect.gen(function*() {
        const { env, simulator, target } = yield* Fixture
        yield* simulator.control.reset
        const secret = "not-the-secret-5f1c"
        const [wrong, missing] = yield* Effect.all([
          cli(["chat", "--model", "gpt-4o", "--user", "Where is my order?", ...target], {
            env: { ...env, GENESYS_CLIENT_SECRET: secret }
          }),
          cli(["chat", "--model", "gpt-4o", "--user", "Where is my order?", "--json", ...target], {
            env: { GENESYS_CLIENT_SECRET: secret }
          })
        ], { concurrency: 2 })
        assert.strictEqual(wrong.code, 5)
        assert.strictEqual(lines(wrong.stderr).length, 1)
        assert.include(wrong.stderr, "authentication failed")
        assert.notInclude(wrong.stderr + wrong.stdout, secret)

        assert.strictEqual(missing.code, 5)
        assert.include(missing.stderr, "GENESYS_CLIENT_ID")
        assert.notInclude(missing.stderr + missing.stdout, secret)
        assert.strictEqual(parseSummary(missing.stdout).status, "error")
        assert.deepStrictEqual(yield* chatRequests(simulator), [])
      }),
    120_000
  )

  it.effect("Ctrl-C during an answer: the line ended, one stderr line, exit 130, the call recorded as cancelled", () =>
    Effect.gen(function*() {
      const { env, simulator, target } = yield* Fixture
      yield* simulator.control.reset
      // The answer stops after its first frame and the server sends nothing more.
      yield* simulator.control.enqueue({ kind: "stall", afterFrames: 1 })
      const { child, output } = yield* start(["chat", "--model", "gpt-4o", "--user", "Where is my order?", ...target], {
        env,
        ready: "data"
      })
      assert.strictEqual(yield* stop(child, "SIGINT"), 130)
      const { stderr, stdout } = output()
      assert.isTrue(replyText.startsWith(stdout.trimEnd()) && stdout.endsWith("\n"), stdout)
      assert.strictEqual(lines(stderr).length, 1)
      assert.include(stderr, "interrupted")
    }).pipe(Effect.scoped))

  it.effect("Ctrl-C with --json: one JSON object, status cancelled, the attempts sent, the same as the audit line", () =>
    Effect.gen(function*() {
      const { auditLog, env, simulator, target } = yield* Fixture
      yield* simulator.control.reset
      yield* simulator.control.enqueue({ kind: "stall", afterFrames: 1 })
      const { child, output } = yield* start(
        ["chat", "--model", "gpt-4o", "--user", "Where is my order?", "--json", ...target],
        { env, ready: "spawn" }
      )
      // The request arrived and its first frame went out; the command has had time to read it.
      while ((yield* chatRequests(simulator)).length === 0) yield* liveSleep(50)
      yield* liveSleep(1000)
      assert.strictEqual(yield* stop(child, "SIGINT"), 130)
      const { stderr, stdout } = output()
      const summary = parseSummary(stdout)
      const [request] = yield* chatRequests(simulator)
      assert.deepStrictEqual(Object.keys(summary), [...summaryKeys, "error"])
      assert.strictEqual(summary.status, "cancelled")
      assert.strictEqual(summary.attempts, 1)
      assert.strictEqual(summary.idempotencyKey, request.idempotencyKey)
      assert.isTrue(replyText.startsWith(summary.text as string) && (summary.text as string).length > 0)
      assert.strictEqual((summary.error as { tag: string }).tag, "Interrupted")
      const entry = JSON.parse(lines(yield* readText(auditLog)).at(-1)!) as Record<string, unknown>
      assert.strictEqual(entry.status, "cancelled")
      assert.strictEqual(entry.attempts, summary.attempts)
      assert.strictEqual(entry.idempotencyKey, summary.idempotencyKey)
      assert.strictEqual(lines(stderr).length, 1)
    }).pipe(Effect.scoped))

  it.effect("a reader that goes away mid-answer: exit 0, and the call still has its audit line", () =>
    Effect.gen(function*() {
      const { auditLog, env, simulator, target } = yield* Fixture
      yield* simulator.control.reset
      // A pause after the first frame, so that the next write finds the reader gone.
      yield* simulator.control.enqueue({ kind: "stall", afterFrames: 1, ms: 1_500 })
      const before = lines(yield* readText(auditLog)).length
      const { child } = yield* start(["chat", "--model", "gpt-4o", "--user", "Where is my order?", ...target], {
        env,
        ready: "data"
      })
      // What `| head -c 1` does: the reading end of stdout closes while the answer is still coming.
      child.stdout!.destroy()
      const code = yield* Effect.async<number | null>((resume) => {
        if (child.exitCode !== null) return resume(Effect.succeed(child.exitCode))
        child.on("exit", (exitCode) => resume(Effect.succeed(exitCode)))
      })
      assert.strictEqual(code, 0)
      const after = lines(yield* readText(auditLog))
      assert.strictEqual(after.length, before + 1)
      // The EPIPE interrupts the call, unless the rest of the answer (sent at once after the pause) won the race:
      // either way the call has its one line, which is the point (before, the process exited without it).
      assert.oneOf((JSON.parse(after[after.length - 1]) as { status: string }).status, ["cancelled", "success"])
    }).pipe(Effect.scoped))

  it.effect(
    "audit verify: the log the runs above wrote is intact; an edited middle line is named",
    () =>
      Effect.gen(function*() {
        const { auditLog, dir } = yield* Fixture
        const content = yield* readText(auditLog)
        const entries = lines(content)
        const parsed = entries.map((line) => JSON.parse(line) as { kind: string; status?: string })
        const statuses = new Set(parsed.filter((entry) => entry.kind === "call").map((entry) => entry.status))
        assert.strictEqual(parsed.filter((entry) => entry.kind === "recovery").length, 1, "the torn tail's recovery")
        assert.deepStrictEqual([...statuses].sort(), [
          "blocked",
          "cancelled",
          "error",
          "fallback",
          "invalid",
          "success"
        ])

        const intact = yield* cli(["audit", "verify", auditLog])
        assert.strictEqual(intact.code, 0, intact.stderr)
        assert.include(intact.stdout, `intact, ${entries.length} lines (${entries.length - 1} entries, 1 recovery)`)

        // One digit of the second line's latency changed: the line no longer matches its hash.
        const edited = [...entries]
        edited[1] = edited[1].replace(
          /"latencyMs":(\d)/,
          (_, digit: string) => `"latencyMs":${(Number(digit) + 1) % 10}`
        )
        assert.notStrictEqual(edited[1], entries[1])
        const copy = Path.join(dir, "edited.log")
        yield* Effect.flatMap(FileSystem.FileSystem, (fs) => fs.writeFileString(copy, `${edited.join("\n")}\n`)).pipe(
          Effect.provide(NodeFileSystem.layer)
        )
        const [broken, missing] = yield* Effect.all([
          cli(["audit", "verify", copy]),
          cli(["audit", "verify", Path.join(dir, "no-such.log")])
        ], { concurrency: 2 })
        assert.strictEqual(broken.code, 1)
        assert.strictEqual(broken.stdout, "")
        assert.strictEqual(lines(broken.stderr).length, 1)
        assert.include(broken.stderr, "line 2")
        assert.include(broken.stderr, "edited")

        assert.strictEqual(missing.code, 2)
        assert.strictEqual(lines(missing.stderr).length, 1)
      }),
    120_000
  )
})

describe("genesys-llm simulator", () => {
  it.scopedLive(
    "prints its URL first, serves with the faults given, and exits 0 on SIGTERM",
    () =>
      Effect.gen(function*() {
        const { child, stdout } = yield* start([
          "simulator",
          "--port",
          "0",
          "--rpm",
          "50",
          "--fault",
          "{\"kind\":\"status\",\"status\":503}",
          "--fault",
          "[{\"kind\":\"delay\",\"ms\":10}]"
        ])
        const line = stdout.split("\n")[0]
        assert.match(line, /^http:\/\/127\.0\.0\.1:\d+$/)
        const faults = yield* Effect.tryPromise(() => fetch(`${line}/__simulator/faults`).then((r) => r.json()))
        assert.deepStrictEqual((faults as { queue: unknown }).queue, [
          { kind: "status", status: 503 },
          { kind: "delay", ms: 10 }
        ])
        assert.strictEqual(yield* stop(child, "SIGTERM"), 0)
      }),
    120_000
  )

  it.live("options the simulator rejects exit 2 naming the option", () =>
    Effect.gen(function*() {
      const ran = yield* cli(["simulator", "--rpm", "0", "--fault", "{\"kind\":\"nope\"}"])
      assert.strictEqual(ran.code, 2)
      assert.strictEqual(ran.stdout, "")
      assert.strictEqual(lines(ran.stderr).length, 1)
      assert.include(ran.stderr, "--rpm: ")
      assert.include(ran.stderr, "--fault: ")
      assert.notInclude(ran.stderr, "requestsPerMinute")
    }))
})

describe("genesys-llm help and flag errors", () => {
  it.live("every option has its own help; usage lines mark optional and repeatable options", () =>
    Effect.gen(function*() {
      const [chat, simulator, verify] = yield* Effect.all([
        cli(["chat", "--help"]),
        cli(["simulator", "-h"]),
        cli(["audit", "verify", "--help"])
      ], { concurrency: 2 })
      for (const ran of [chat, simulator, verify]) {
        assert.strictEqual(ran.code, 0)
        assert.notInclude(ran.stdout, "A user-defined piece of text")
      }
      assert.include(chat.stdout, "genesys-llm chat --payload FILE [options]")
      assert.include(chat.stdout, "--model ID [--system TEXT]... --user TEXT [--user TEXT]... [--temperature T]")
      for (const usage of ["[--host HOST]", "[--port PORT]", "[--fault JSON]...", "[--seed N]"]) {
        assert.include(simulator.stdout, usage)
      }
      assert.include(verify.stdout, "Usage: genesys-llm audit verify [--database-url URL] [PATH]")
      // One line per option, each with a text of its own.
      for (const ran of [chat, simulator]) {
        const described = lines(ran.stdout.slice(ran.stdout.indexOf("Options:"))).filter((l) => /^ {2}--/.test(l))
        const texts = described.map((l) => l.replace(/^ {2}--\S+( [A-Z]+)?\s+/, ""))
        assert.isAtLeast(texts.length, 10)
        assert.strictEqual(new Set(texts).size, texts.length)
        for (const text of texts) assert.isAbove(text.length, 10, text)
      }
    }))

  it.live("a bad flag value is named as typed, with what was expected", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [
          ["chat", "--model", "m", "--user", "u", "--temperature", "hot"],
          "--temperature: expected a number, got \"hot\""
        ],
        [
          ["chat", "--model", "m", "--user", "u", "--max-tokens", "abc"],
          "--max-tokens: expected an integer, got \"abc\""
        ],
        [
          ["chat", "--model", "m", "--user", "u", "--max-latency=1.5"],
          "--max-latency: expected an integer, got \"1.5\""
        ],
        [["simulator", "--rpm", "-5"], "--rpm: expected a number greater than or equal to 1"],
        [["simulator", "--port", "x"], "--port: expected an integer, got \"x\""]
      ]
      const runs = yield* Effect.all(cases.map(([args]) => cli(args)), { concurrency: 2 })
      runs.forEach((ran, i) => {
        assert.strictEqual(ran.code, 2, ran.stderr)
        assert.strictEqual(lines(ran.stderr).length, 1)
        assert.include(ran.stderr, cases[i][1])
      })
    }))
})

describe("genesys-llm chat with large or broken input", () => {
  it.scoped("a payload of 200,000 bad messages: exit 2, one short stderr line, one short JSON line", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "genesys-llm-cli-big-" })
      const payload = Path.join(dir, "payload.json")
      const context = Array.from({ length: 200_000 }, () => ({ role: "robot", content: 1 }))
      yield* writeJson(payload, { systemInstructions: [], context, temperature: 0.2, maxTokens: 64, modelId: "m" })
      const env = { GENESYS_CLIENT_ID: "id", GENESYS_CLIENT_SECRET: "secret" }
      // Each run has its own audit log: on one log the second would wait for the first's lock and say so on stderr.
      const target = (log: string) => ["--api-url", "http://127.0.0.1:9", "--audit-log", Path.join(dir, log)]
      const [json, text] = yield* Effect.all([
        cli(["chat", "--payload", payload, "--json", ...target("json.log")], { env }),
        cli(["chat", "--payload", payload, ...target("text.log")], { env })
      ], { concurrency: 2 })
      for (const ran of [json, text]) {
        assert.strictEqual(ran.code, 2)
        assert.strictEqual(lines(ran.stderr).length, 1)
        assert.isBelow(ran.stderr.length, 1000)
        assert.include(ran.stderr, "context must have at most 1000 items, got 200000")
      }
      assert.isBelow(json.stdout.length, 1000)
      assert.strictEqual(parseSummary(json.stdout).status, "invalid")
      assert.strictEqual(text.stdout, "")
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scoped("a payload file that is not JSON: its line and column, never its text", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "genesys-llm-cli-json-" })
      const payload = Path.join(dir, "payload.json")
      yield* fs.writeFileString(
        payload,
        "{\n  \"modelId\": \"m\",\n  \"context\": [{\"content\": \"card 4111\"},]\n}\n"
      )
      const ran = yield* cli(["chat", "--payload", payload], {
        env: { GENESYS_CLIENT_ID: "id", GENESYS_CLIENT_SECRET: "secret" }
      })
      assert.strictEqual(ran.code, 2)
      assert.include(ran.stderr, `the payload file ${payload} is not valid JSON: line 3, column 40: expected a value`)
      assert.notInclude(ran.stderr, "4111")
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})
