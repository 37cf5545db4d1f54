// Gateways and proxies that echo the request in their error answers: nothing of the prompt or of a credential may
// travel from such an answer into what a user or a log sees. Each failure mode runs twice against a simulator of
// its own: the real `genesys-llm chat --json` as a child process (its stdout summary and its stderr line), and the
// library's pipeline in this process (the error's message).
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Pipeline, TokenProvider } from "@genesys-llm/core"
import { NodePipeline } from "@genesys-llm/node"
import { type Fault, GatewaySimulator } from "@genesys-llm/simulator"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Path from "node:path"
import { cli, lines } from "./utils.js"

const clientId = "leak-test-client"
const clientSecret = "Leak-Secret+Value/42="
const prompt = "Hello, I am Zebulon Quxterby of 77 Canary Lane; where is my parcel?"
const basic = Redacted.value(TokenProvider.basicAuthorization(clientId, Redacted.make(clientSecret)))

// What must appear nowhere: the prompt's personal data, the client secret in the forms it travels in, and any
// simulator token (`sim-...`), raw or as the base64 of its `Authorization` header.
const canaries: ReadonlyArray<RegExp | string> = [
  "Zebulon",
  "Quxterby",
  "Canary Lane",
  clientSecret,
  encodeURIComponent(clientSecret),
  basic.slice("Basic ".length),
  Buffer.from(basic).toString("base64").slice(0, 12),
  /sim-[A-Za-z0-9_-]{16}/,
  Buffer.from("Bearer sim-").toString("base64").slice(0, 12)
]

const leaksIn = (text: string): ReadonlyArray<string> =>
  canaries.flatMap((canary) =>
    (typeof canary === "string" ? text.includes(canary) : canary.test(text)) ? [String(canary)] : []
  )

const html = (title: string) => `<html><head><title>${title}</title></head><body><h1>${title}</h1><pre>`
const echo = { echo: true } as const
const times = (n: number, fault: Fault.Fault): ReadonlyArray<Fault.Fault> => Array.from({ length: n }, () => fault)

// Thirteen ways a call fails with an answer that repeats the request.
const modes: ReadonlyArray<readonly [string, ReadonlyArray<Fault.Fault>]> = [
  ["400, JSON", [{ kind: "status", status: 400, message: "invalid request", ...echo }]],
  ["400, HTML", [{ kind: "status", status: 400, body: html("Bad Request"), contentType: "text/html", ...echo }]],
  ["404, HTML", [{ kind: "status", status: 404, body: html("Not Found"), contentType: "text/html", ...echo }]],
  ["422, JSON", [{ kind: "status", status: 422, message: "unprocessable", ...echo }]],
  ["403, JSON", [{ kind: "status", status: 403, message: "forbidden", ...echo }]],
  ["401 twice, JSON", times(2, { kind: "status", status: 401, message: "token refused", ...echo })],
  ["429 three times, JSON", times(3, { kind: "status", status: 429, retryAfterSeconds: 0, ...echo })],
  ["500 three times, JSON", times(3, { kind: "status", status: 500, message: "internal error", ...echo })],
  [
    "500 three times, HTML",
    times(3, { kind: "status", status: 500, body: html("Server Error"), contentType: "text/html", ...echo })
  ],
  ["502 three times, proxy text", times(3, { kind: "status", status: 502, body: "upstream failed for", ...echo })],
  ["503 three times, JSON", times(3, { kind: "status", status: 503, message: "unavailable", ...echo })],
  [
    "token route 500 three times",
    times(3, { kind: "status", status: 500, route: "token", body: "login failed for", ...echo })
  ],
  ["token route 400", [{ kind: "status", status: 400, route: "token", message: "bad client", ...echo }]]
]

interface Outputs {
  readonly stderr: string
  readonly jsonMessage: string
  readonly libraryMessage: string
}

const outputsOf = (faults: ReadonlyArray<Fault.Fault>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "genesys-llm-leaks-" })
    const simulator = yield* GatewaySimulator.make({ clientId, clientSecret })

    yield* simulator.control.enqueue(...faults)
    const ran = yield* cli(
      [
        "chat",
        "--model",
        "m",
        "--user",
        prompt,
        "--json",
        "--api-url",
        simulator.url,
        "--audit-log",
        Path.join(dir, "a")
      ],
      { env: { GENESYS_CLIENT_ID: clientId, GENESYS_CLIENT_SECRET: clientSecret } }
    )
    assert.notStrictEqual(ran.code, 0, `the call failed: ${ran.stdout}`)
    const out = lines(ran.stdout)
    assert.strictEqual(out.length, 1, ran.stdout)
    const summary = JSON.parse(out[0]) as { readonly error?: { readonly message: string } }

    yield* simulator.control.reset
    yield* simulator.control.enqueue(...faults)
    const failure = yield* Pipeline.run({
      systemInstructions: [],
      context: [{ role: "user", content: prompt }],
      temperature: 0,
      maxTokens: 128,
      modelId: "m"
    }).pipe(
      Effect.flip,
      Effect.provide(NodePipeline.layer({
        gateway: { apiUrl: simulator.url, clientId, clientSecret: Redacted.make(clientSecret) },
        auditLogPath: Path.join(dir, "b")
      }))
    )
    return {
      stderr: ran.stderr,
      jsonMessage: summary.error?.message ?? "",
      libraryMessage: failure.message
    } satisfies Outputs
  }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer))

describe("error answers that echo the request", () => {
  it.live(
    "13 failure modes x 3 outputs (stderr, --json error.message, the library's error): no prompt text, no credential",
    () =>
      Effect.gen(function*() {
        const results = yield* Effect.forEach(
          modes,
          ([name, faults]) => Effect.map(outputsOf(faults), (outputs) => [name, outputs] as const),
          { concurrency: 2 }
        )
        const leaks: Array<string> = []
        for (const [name, outputs] of results) {
          assert.isAbove(outputs.libraryMessage.length, 0, name)
          for (const [form, text] of Object.entries(outputs)) {
            const found = leaksIn(text)
            if (found.length > 0) leaks.push(`${name} / ${form}: ${found.join(", ")}`)
          }
        }
        assert.deepStrictEqual(leaks, [], `${leaks.length} of ${modes.length * 3} outputs leak`)
      }),
    300_000
  )
})
