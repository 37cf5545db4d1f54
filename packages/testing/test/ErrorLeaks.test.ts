// A gateway, a proxy or a login server that repeats the request in its answers: the prompt's personal data and the
// access token, in every encoding such an answer may hold, must stay out of every error, event and log line of the
// real Gateway; the body kept for debugging is redacted and scrubbed of the token.
import { assert, describe, it } from "@effect/vitest"
import { Gateway, type Prompt } from "@genesys-llm/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Util from "node:util"
import * as TestHttpClient from "../src/TestHttpClient.js"
import { key, layer, tokenReply } from "./gatewayHelpers.js"

// A token with characters that URL encoding, JSON escaping and HTML escaping each change.
const token = "eyJhbGciOi+tok/en==\"quoted\"&<tag>\\é-77"
const pii = ["Zebulon", "Quxterby", "Canary Lane"]
const payload: Prompt.PromptPayload = {
  systemInstructions: [],
  context: [{ role: "user", content: "Hello, I am Zebulon Quxterby of 77 Canary Lane; where is my parcel?" }],
  temperature: 0,
  maxTokens: 100,
  modelId: "m"
}

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64")
const dumpPrefix = "proxy dump: authorization: Bearer "
const dump = `${dumpPrefix}${token}; idempotency-key: ${key}`
// The characters of the dump's base64 that depend on the token's bytes alone.
const tokenInDump = (() => {
  const start = Buffer.byteLength(dumpPrefix)
  const end = start + Buffer.byteLength(token)
  return b64(dump).slice(Math.ceil((8 * start) / 6), Math.floor((8 * end) / 6))
})()

// The token as an echoing answer may hold it; computed here independently of the library's own list.
const tokenForms: ReadonlyArray<readonly [string, string]> = [
  ["raw", token],
  ["base64 of Bearer <token>", b64(`Bearer ${token}`)],
  ["base64 of the token", b64(token)],
  ["base64url of the token", Buffer.from(token).toString("base64url")],
  ["inside the base64 of a header dump", tokenInDump],
  ["URL-encoded", encodeURIComponent(token)],
  ["JSON-escaped", JSON.stringify(token).slice(1, -1)],
  ["HTML-escaped", token.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")]
]

// Everything an echoing answer says about the request.
const echoOf = (request: TestHttpClient.RecordedRequest) =>
  [
    `request body: ${request.bodyText}`,
    `authorization: ${request.headers["authorization"] ?? ""}`,
    ...tokenForms.map(([name, form]) => `${name}: ${form}`),
    `dump: ${b64(dump)}`
  ].join(" | ")

type Echo = (echo: string) => TestHttpClient.Reply

const jsonEcho = (status: number, headers: Record<string, string> = {}): Echo => (echo) =>
  TestHttpClient.json(status, { message: echo, code: "some.code", status }, headers)
const htmlEcho = (status: number): Echo => (echo) =>
  TestHttpClient.text(status, `<html><body><h1>Error</h1><pre>${echo}</pre></body></html>`, {
    "content-type": "text/html"
  })

// Every chat answer echoes the request, in the given way.
const echoing = (reply: Echo): TestHttpClient.Handler => (request) => Effect.succeed(reply(echoOf(request)))

const modes: ReadonlyArray<readonly [string, TestHttpClient.Handler, Gateway.CallOptions?]> = [
  ["400 JSON", echoing(jsonEcho(400))],
  ["404 HTML", echoing(htmlEcho(404))],
  ["422 JSON", echoing(jsonEcho(422))],
  ["403 JSON", echoing(jsonEcho(403))],
  ["401 twice", echoing(jsonEcho(401))],
  ["429 forever", echoing(jsonEcho(429, { "retry-after": "0" }))],
  ["500 JSON forever", echoing(jsonEcho(500))],
  ["503 HTML forever", echoing(htmlEcho(503))],
  [
    "a 429 whose Retry-After passes the deadline (the fallback's lastError)",
    echoing(jsonEcho(429, { "retry-after": "9" }))
  ],
  ["a transport error naming the request", echoing((echo) => TestHttpClient.transportError(`ECONNRESET ${echo}`))],
  [
    "a body that breaks before its first frame",
    echoing((echo) => TestHttpClient.response(200, [TestHttpClient.reset(`ECONNRESET ${echo}`)]))
  ],
  [
    "a body that breaks after a frame",
    echoing((echo) =>
      TestHttpClient.ndjson([{ content: "Hi" }], { then: [TestHttpClient.reset(`ECONNRESET ${echo}`)] })
    )
  ],
  [
    "with strictFrames, a first line that is not JSON",
    echoing((echo) => TestHttpClient.response(200, [TestHttpClient.bytes(`${echo}\n`)])),
    { strictFrames: true }
  ]
]

describe("error answers that echo the request", () => {
  for (const [name, chat, options] of modes) {
    it.effect(`${name}: no prompt text and no form of the token in errors, events or logs`, () =>
      Effect.gen(function*() {
        const lines: Array<string> = []
        const capture = Logger.make((log) => {
          lines.push(Logger.logfmtLogger.log(log))
        })
        const fiber = yield* Effect.gen(function*() {
          const gateway = yield* Gateway.Gateway
          return yield* gateway.stream({ payload, idempotencyKey: key, options }).pipe(Stream.runCollect, Effect.exit)
        }).pipe(
          Effect.provide(layer(chat, {}, () => Effect.succeed(tokenReply(token)))),
          Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
          Logger.withMinimumLogLevel(LogLevel.All),
          Effect.fork
        )
        yield* TestClock.adjust("5 minutes")
        const exit = yield* Fiber.join(fiber)

        const printed: Array<readonly [string, string]> = lines.map((line) => ["log", line])
        const kept: Array<string> = []
        if (Exit.isFailure(exit)) {
          printed.push(["Cause.pretty", Cause.pretty(exit.cause)])
          for (const error of Cause.failures(exit.cause)) {
            printed.push(
              ["message", error.message],
              ["toString", String(error)],
              ["toJSON", JSON.stringify(error)],
              ["util.inspect", Util.inspect(error, { depth: 10 })]
            )
            if ("responseBody" in error && Redacted.isRedacted(error.responseBody)) {
              kept.push(Redacted.value(error.responseBody) as string)
            }
          }
        } else {
          for (const event of exit.value) {
            if (event._tag === "Fallback") printed.push(["Fallback.lastError", event.lastError ?? ""])
          }
        }
        assert.isAbove(printed.length, lines.length, "the call failed or fell back")

        const leaks: Array<string> = []
        for (const [where, text] of printed) {
          for (const word of pii) if (text.includes(word)) leaks.push(`${where}: prompt text ${word}`)
        }
        for (const [where, text] of [...printed, ...kept.map((text) => ["the redacted body", text] as const)]) {
          for (const [form, value] of tokenForms) if (text.includes(value)) leaks.push(`${where}: token ${form}`)
        }
        assert.deepStrictEqual(leaks, [])
      }))
  }
})
