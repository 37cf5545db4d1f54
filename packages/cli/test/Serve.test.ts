// `genesys-llm serve` as it is installed (the bundle), a child process answering real HTTP on 127.0.0.1: every
// status of the contract, each bound of a service on the open network, both authentication schemes and rotation,
// load shedding, the drain on SIGTERM, /metrics. One server process serves most tests.
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { baseEnv, bin, root } from "./utils.js"

interface Served {
  readonly child: ChildProcess.ChildProcess
  readonly url: string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
}

const children: Array<ChildProcess.ChildProcess> = []

// Starts a command of the bundle and resolves with the first line of its stdout (a URL).
const launch = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<Served>((resolve, reject) => {
    const child = ChildProcess.spawn(process.execPath, [bin, ...args], {
      cwd: root,
      env: { ...baseEnv(), ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.push(child)
    let out = ""
    let err = ""
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)))
    child.stdout.setEncoding("utf8").on("data", (data: string) => {
      out += data
      if (out.includes("\n")) resolve({ child, url: out.split("\n")[0]!, stderr: () => err, exited })
    })
    child.stderr.setEncoding("utf8").on("data", (data: string) => (err += data))
    child.once("exit", (code) => reject(new Error(`exited with ${code} before printing its URL: ${err}`)))
  })

// Runs a command to its exit.
const runToExit = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resolve) => {
    const child = ChildProcess.execFile(
      process.execPath,
      [bin, ...args],
      {
        cwd: root,
        env: { ...baseEnv(), ...env },
        timeout: 30_000
      },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : (typeof error.code === "number" ? error.code : null), stdout, stderr })
    )
    children.push(child)
  })

interface Answer {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly text: string
}

const request = (
  url: string,
  options: { readonly method?: string; readonly headers?: Record<string, string>; readonly body?: string } = {}
) =>
  new Promise<Answer>((resolve, reject) => {
    const req = Http.request(
      url,
      { method: options.method ?? "GET", headers: options.headers, agent: false },
      (res) => {
        let text = ""
        res.setEncoding("utf8").on("data", (data: string) => (text += data))
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text }))
      }
    )
    req.once("error", reject)
    req.end(options.body)
  })

const json = { "content-type": "application/json" }
const turn = (n: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ conversationId: "conv-serve", turn: n, customerMessage: "Where is my order 1042?", ...extra })

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`

const rssKb = (pid: number) => {
  const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1])
}

const counter = (metrics: string, line: string) => {
  const found = metrics.split("\n").find((l) => l.startsWith(`${line} `))
  return found === undefined ? 0 : Number(found.slice(line.length + 1))
}

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "genesys-llm-serve-"))
let served: Served
const keys = { old: "key-old-7f3a", current: "key-current-91bc" }

beforeAll(async () => {
  served = await launch([
    "serve",
    "--simulated",
    "--port",
    "0",
    "--api-key",
    keys.old,
    "--audit-log",
    Path.join(dir, "audit.log"),
    "--max-body-bytes",
    "4096",
    "--body-timeout",
    "700"
  ], { GENESYS_LLM_SERVE_API_KEYS: "never-used-when-a-flag-is-given", GENESYS_LLM_SERVE_MAX_IN_FLIGHT: "64" })
}, 60_000)

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  Fs.rmSync(dir, { recursive: true, force: true })
})

const post = (body: string, headers: Record<string, string> = { ...json, "x-api-key": keys.old }) =>
  request(`${served.url}/data-action/reply`, { method: "POST", headers, body })

describe("genesys-llm serve", () => {
  it("prints its URL first, answers the README's turn, is alive and ready, and logs one JSON line per request", async () => {
    assert.match(served.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    const answer = await post(turn(1))
    assert.strictEqual(answer.status, 200, answer.text)
    const body = JSON.parse(answer.text)
    assert.deepStrictEqual(Object.keys(body).sort(), ["idempotencyKey", "reply", "status"])
    assert.strictEqual(body.status, "success")
    assert.deepStrictEqual((await request(`${served.url}/healthz`)).status, 200)
    const traced = await request(`${served.url}/healthz`, { headers: { "x-request-id": "trace-42" } })
    assert.strictEqual(traced.headers["x-request-id"], "trace-42")
    assert.deepStrictEqual(JSON.parse((await request(`${served.url}/readyz`)).text), { status: "ready" })
    const line = served.stderr().split("\n").find((l) => l.includes(body.idempotencyKey))!
    const logged = JSON.parse(line)
    assert.include(logged, { route: "/data-action/reply", status: 200, callStatus: "success", message: "request" })
    assert.isString(logged.requestId)
    assert.isNumber(logged.latencyMs)
    assert.notInclude(served.stderr(), "Where is my order")
    assert.notInclude(served.stderr(), keys.old)
  })

  it("takes X-API-Key and HTTP Basic, any of the keys given, and refuses others with 401", async () => {
    assert.strictEqual((await post(turn(2))).status, 200)
    assert.strictEqual((await post(turn(2), { ...json, authorization: basic("genesys", keys.old) })).status, 200)
    for (const headers of [json, { ...json, "x-api-key": "wrong" }, { ...json, authorization: basic("x", "wrong") }]) {
      const refused = await post(turn(3), headers)
      assert.strictEqual(refused.status, 401)
      assert.strictEqual(JSON.parse(refused.text)._tag, "Unauthorized")
    }
    assert.notInclude(served.stderr(), "wrong")
  })

  it("answers every status of the contract with a short JSON body in our words", async () => {
    const notJson = await post("{\"conversationId\": ")
    assert.strictEqual(notJson.status, 400)
    assert.deepStrictEqual(JSON.parse(notJson.text), {
      _tag: "InvalidInput",
      message: "the body is not valid JSON",
      issues: [],
      omittedIssues: 0
    })
    const shape = await post(turn(-1))
    assert.strictEqual(shape.status, 400)
    assert.deepStrictEqual(JSON.parse(shape.text).issues.map((i: { field: string }) => i.field), ["turn"])
    assert.notMatch(shape.text, /└|NonNegativeInt|refinement/)
    const media = await post(turn(4), { "x-api-key": keys.old, "content-type": "text/plain" })
    assert.strictEqual(media.status, 415)
    assert.strictEqual(JSON.parse(media.text)._tag, "UnsupportedMediaType")
    const blocked = await post(turn(5, { customerMessage: "My card is 4111 1111 1111 1111" }))
    assert.strictEqual(blocked.status, 422)
    assert.notInclude(blocked.text, "4111")
    assert.strictEqual((await post(turn(6))).status, 200)
    const conflict = await post(turn(6, { customerMessage: "Cancel it." }))
    assert.strictEqual(conflict.status, 409)
    for (const answer of [notJson, shape, media, blocked, conflict]) assert.isBelow(answer.text.length, 600)
    // Bad input is not an error of the service: no stack trace, no cause.
    assert.notMatch(served.stderr(), /\n\s+at |stack|"cause"/)
  })

  it("refuses a body over the limit with 413 while the client is still sending, without holding it", async () => {
    const declared = await post("x".repeat(5000))
    assert.strictEqual(declared.status, 413)
    const before = rssKb(served.child.pid!)
    const chunk = Buffer.alloc(64 * 1024, 0x61)
    let sent = 0
    // A raw socket, so that what the server sends is read while the body is still being written.
    const answer = await new Promise<{ status: number; sentWhenAnswered: number }>((resolve, reject) => {
      const { hostname, port } = new URL(served.url)
      const socket = Net.connect(Number(port), hostname)
      let received = ""
      let done = false
      socket.setEncoding("utf8").on("data", (data: string) => {
        received += data
        const status = /^HTTP\/1\.1 (\d{3})/.exec(received)
        if (status !== null && !done) {
          done = true
          resolve({ status: Number(status[1]), sentWhenAnswered: sent })
          socket.destroy()
        }
      })
      socket.once("error", (error) => done ? undefined : reject(error))
      socket.write(
        `POST /data-action/reply HTTP/1.1\r\nHost: ${hostname}\r\ncontent-type: application/json\r\n` +
          `x-api-key: ${keys.old}\r\ntransfer-encoding: chunked\r\n\r\n`
      )
      const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")])
      const pump = () => {
        // Up to 64 MiB; the answer comes long before.
        if (done || sent >= 64 * 1024 * 1024) return
        sent += chunk.length
        if (socket.write(frame)) setTimeout(pump, 1)
        else socket.once("drain", pump)
      }
      pump()
    })
    assert.strictEqual(answer.status, 413)
    assert.isBelow(answer.sentWhenAnswered, 64 * 1024 * 1024)
    const after = rssKb(served.child.pid!)
    assert.isBelow(after - before, 32 * 1024, `RSS ${before} kB -> ${after} kB`)
    assert.strictEqual((await post(turn(7))).status, 200)
  })

  it("answers 408 to a body that does not arrive within the deadline", async () => {
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = Http.request(`${served.url}/data-action/reply`, {
        method: "POST",
        headers: { ...json, "x-api-key": keys.old, "content-length": "200" },
        agent: false
      }, (res) => {
        let text = ""
        res.setEncoding("utf8").on("data", (d: string) => (text += d))
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text }))
      })
      req.once("error", reject)
      req.write("{\"conversationId\":")
    })
    assert.strictEqual(answer.status, 408)
    assert.strictEqual(JSON.parse(answer.text)._tag, "RequestTimeout")
  })

  it("counts the calls made in /metrics, in the Prometheus text format", async () => {
    const before = await request(`${served.url}/metrics`)
    assert.strictEqual(before.status, 200)
    assert.match(before.headers["content-type"]!, /^text\/plain/)
    const successes = counter(before.text, "genesys_llm_calls_total{status=\"success\"}")
    assert.strictEqual((await post(turn(8))).status, 200)
    assert.strictEqual((await post(turn(9))).status, 200)
    const after = (await request(`${served.url}/metrics`)).text
    assert.strictEqual(counter(after, "genesys_llm_calls_total{status=\"success\"}"), successes + 2)
    for (
      const name of [
        "genesys_llm_latency_ms_bucket",
        "genesys_llm_time_to_first_frame_ms_bucket",
        "genesys_llm_tokens_total",
        "genesys_llm_server_in_flight"
      ]
    ) {
      assert.include(after, name)
    }
  })

  it("documents every option in --help, each with its environment variable", async () => {
    const help = await runToExit(["serve", "--help"])
    assert.strictEqual(help.code, 0)
    const options = ["host", "port", "api-key", "model", "api-url", "login-url", "audit-log", "webhook", "max-latency"]
    const bounds = ["fallback", "max-body-bytes", "body-timeout", "max-in-flight", "drain-timeout", "simulated"]
    for (const option of [...options, ...bounds]) assert.include(help.stdout, `--${option}`)
    const variables = ["HOST", "PORT", "API_KEYS", "MODEL", "MAX_BODY_BYTES", "BODY_TIMEOUT_MS", "MAX_IN_FLIGHT"]
    for (const name of [...variables, "DRAIN_TIMEOUT", "SIMULATED"]) {
      assert.include(help.stdout, `GENESYS_LLM_SERVE_${name}`)
    }
  })

  it("refuses to listen on a non-loopback interface without a key, and says why", async () => {
    const ran = await runToExit(["serve", "--simulated", "--host", "0.0.0.0", "--port", "0"])
    assert.strictEqual(ran.code, 2)
    assert.strictEqual(ran.stdout, "")
    assert.match(ran.stderr, /refusing to listen on 0\.0\.0\.0 without an API key/)
  })

  it("refuses shared stores with --simulated, and a bad --database-url with its own exit code, never the URL", async () => {
    const simulated = await runToExit(["serve", "--simulated", "--port", "0", "--redis-url", "redis://127.0.0.1:9"])
    assert.strictEqual(simulated.code, 2)
    assert.match(simulated.stderr, /--simulated .* takes no --database-url or --redis-url/)
    const bad = await runToExit(["serve", "--port", "0", "--database-url", "mysql://user:hunter2@db/x"], {
      GENESYS_CLIENT_ID: "id",
      GENESYS_CLIENT_SECRET: "secret"
    })
    assert.strictEqual(bad.code, 2, bad.stderr)
    assert.match(bad.stderr, /--database-url/)
    assert.notInclude(bad.stderr, "hunter2")
  })
})

describe("genesys-llm serve against a slow gateway", () => {
  let simulator: Served
  let slow: Served
  const slowArgs = (extra: ReadonlyArray<string>) => [
    "serve",
    "--port",
    "0",
    "--api-key",
    keys.old,
    "--api-url",
    simulator.url,
    "--audit-log",
    Path.join(dir, `slow-${extra.join("")}.log`),
    ...extra
  ]
  const credentials = { GENESYS_CLIENT_ID: "simulator-client", GENESYS_CLIENT_SECRET: "simulator-secret" }

  beforeAll(async () => {
    simulator = await launch([
      "simulator",
      "--pace-ms",
      "500",
      "--frame-chars",
      "8",
      "--reply-text",
      "Your order 1042 left."
    ])
    slow = await launch(slowArgs(["--max-in-flight", "2", "--api-key", keys.current]), credentials)
  }, 60_000)

  const slowPost = (n: number, key = keys.current) =>
    request(`${slow.url}/data-action/reply`, { method: "POST", headers: { ...json, "x-api-key": key }, body: turn(n) })

  it("sheds calls past --max-in-flight with 503 and Retry-After at once, and serves both keys (rotation)", async () => {
    const inFlight = [slowPost(1, keys.old), slowPost(2, keys.current)]
    await new Promise((done) => setTimeout(done, 300))
    const shed = await slowPost(3)
    assert.strictEqual(shed.status, 503)
    assert.strictEqual(shed.headers["retry-after"], "1")
    assert.strictEqual(JSON.parse(shed.text)._tag, "Unavailable")
    const done = await Promise.all(inFlight)
    assert.deepStrictEqual(done.map((a) => a.status), [200, 200])
    const metrics = (await request(`${slow.url}/metrics`)).text
    assert.strictEqual(counter(metrics, "genesys_llm_server_shed_total{reason=\"overloaded\"}"), 1)
  })

  it("on SIGTERM turns /readyz 503, lets the call in flight finish with 200, then exits 0", async () => {
    const call = slowPost(10)
    await new Promise((done) => setTimeout(done, 300))
    slow.child.kill("SIGTERM")
    await new Promise((done) => setTimeout(done, 200))
    const ready = await request(`${slow.url}/readyz`)
    assert.strictEqual(ready.status, 503)
    const answer = await call
    assert.strictEqual(answer.status, 200, answer.text)
    assert.strictEqual(JSON.parse(answer.text).status, "success")
    assert.strictEqual(await slow.exited, 0)
  })

  it("cuts a call still in flight at --drain-timeout, answers 503 and audits it cancelled, and exits 0", async () => {
    const cut = await launch(slowArgs(["--drain-timeout", "0"]), credentials)
    const call = request(`${cut.url}/data-action/reply`, {
      method: "POST",
      headers: { ...json, "x-api-key": keys.old },
      body: turn(20)
    })
    await new Promise((done) => setTimeout(done, 300))
    cut.child.kill("SIGTERM")
    const answer = await call
    assert.strictEqual(answer.status, 503)
    assert.strictEqual(await cut.exited, 0)
    const log = Fs.readFileSync(Path.join(dir, "slow---drain-timeout0.log"), "utf8")
    assert.include(log, "\"status\":\"cancelled\"")
  })

  it("answers 502 when the gateway cannot be reached, and is not ready without a token", async () => {
    const unreachable = await launch(
      ["serve", "--port", "0", "--api-url", "http://127.0.0.1:9", "--audit-log", Path.join(dir, "unreachable.log")],
      { ...credentials, LLM_MAX_ATTEMPTS: "1" }
    )
    const ready = await request(`${unreachable.url}/readyz`)
    assert.strictEqual(ready.status, 503)
    assert.include(JSON.parse(ready.text).reasons, "no gateway token obtained yet")
    const answer = await request(`${unreachable.url}/data-action/reply`, {
      method: "POST",
      headers: json,
      body: turn(1)
    })
    assert.strictEqual(answer.status, 502, answer.text)
    assert.strictEqual(JSON.parse(answer.text)._tag, "GatewayFailed")
    unreachable.child.kill("SIGTERM")
    assert.strictEqual(await unreachable.exited, 0)
  })
})
