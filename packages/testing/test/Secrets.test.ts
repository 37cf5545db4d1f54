import { assert, describe, it } from "@effect/vitest"
import { Gateway, TokenProvider } from "@genesys-llm/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as TestHttpClient from "../src/TestHttpClient.js"
import { chatPath, request, tokenPath } from "./gatewayHelpers.js"

const clientSecret = "Sup3r-Secret+Value%:42"
const bearer = "eyJhbGciOi.BEARER-TOKEN-9f8e7d"

// Every form the secret or the token could take on the way out.
const forbidden = [
  clientSecret,
  TokenProvider.formUrlEncode(clientSecret),
  Redacted.value(TokenProvider.basicAuthorization("client", Redacted.make(clientSecret))).slice("Basic ".length),
  bearer
]

const scenarios: ReadonlyArray<readonly [string, TestHttpClient.Handler, TestHttpClient.Handler]> = [
  [
    "success",
    TestHttpClient.always(TestHttpClient.ndjson([{ content: "hi" }])),
    TestHttpClient.always(TestHttpClient.json(200, { access_token: bearer, expires_in: 60 }))
  ],
  [
    "401 twice",
    TestHttpClient.always(TestHttpClient.json(401, { message: `token ${bearer} expired` })),
    TestHttpClient.always(TestHttpClient.json(200, { access_token: bearer, expires_in: 60 }))
  ],
  [
    "403",
    TestHttpClient.always(TestHttpClient.json(403, { message: `no scope for ${bearer}` })),
    TestHttpClient.always(TestHttpClient.json(200, { access_token: bearer, expires_in: 60 }))
  ],
  [
    "400 echoing the token",
    TestHttpClient.always(TestHttpClient.json(400, { message: `bad request with Bearer ${bearer}` })),
    TestHttpClient.always(TestHttpClient.json(200, { access_token: bearer, expires_in: 60 }))
  ],
  [
    "429 forever",
    TestHttpClient.always(TestHttpClient.json(429, { message: `slow ${bearer}` }, { "retry-after": "1" })),
    TestHttpClient.always(TestHttpClient.json(200, { access_token: bearer, expires_in: 60 }))
  ],
  [
    "transport error naming the token",
    TestHttpClient.always(TestHttpClient.transportError(`boom ${bearer}`)),
    TestHttpClient.always(TestHttpClient.json(200, { access_token: bearer, expires_in: 60 }))
  ],
  [
    "stall after a frame",
    TestHttpClient.always(TestHttpClient.ndjson([{ content: "a" }], { then: [TestHttpClient.hang] })),
    TestHttpClient.always(TestHttpClient.json(200, { access_token: bearer }))
  ],
  [
    "wrong credentials echoed by the login server",
    TestHttpClient.always(TestHttpClient.ndjson([])),
    TestHttpClient.always(
      TestHttpClient.json(401, { error: "invalid_client", error_description: `secret ${clientSecret} is wrong` })
    )
  ],
  [
    "login server error echoing the secret",
    TestHttpClient.always(TestHttpClient.ndjson([])),
    TestHttpClient.always(TestHttpClient.text(500, `oops ${clientSecret} ${TokenProvider.formUrlEncode(clientSecret)}`))
  ],
  [
    "login transport error naming the secret",
    TestHttpClient.always(TestHttpClient.ndjson([])),
    TestHttpClient.always(TestHttpClient.transportError(`refused ${clientSecret}`))
  ]
]

describe("secrets", () => {
  for (const [name, chat, token] of scenarios) {
    it.effect(`${name}: neither the client secret nor the bearer token appears in an error or a log line`, () =>
      Effect.gen(function*() {
        const lines: Array<string> = []
        const capture = Logger.make((options) => {
          lines.push(Logger.logfmtLogger.log(options))
        })
        const layer = Gateway.layer({ apiUrl: "https://api.example.test" }).pipe(
          Layer.provideMerge(
            TokenProvider.layer({
              loginUrl: "https://login.example.test",
              clientId: "client",
              clientSecret: Redacted.make(clientSecret)
            })
          ),
          Layer.provideMerge(TestHttpClient.layer(TestHttpClient.byPath({ [tokenPath]: token, [chatPath]: chat })))
        )
        const fiber = yield* Effect.gen(function*() {
          const gateway = yield* Gateway.Gateway
          const exit = yield* gateway.stream(request()).pipe(Stream.runCollect, Effect.exit)
          yield* Effect.logDebug("call ended").pipe(Effect.annotateLogs("exit", Exit.isSuccess(exit) ? "ok" : "failed"))
          if (Exit.isFailure(exit)) yield* Effect.logError("call failed", exit.cause)
          return exit
        }).pipe(
          Effect.provide(layer),
          Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
          Logger.withMinimumLogLevel(LogLevel.All),
          Effect.fork
        )
        yield* TestClock.adjust("5 minutes")
        const exit = yield* Fiber.join(fiber)
        const texts = [...lines]
        if (Exit.isFailure(exit)) {
          texts.push(Cause.pretty(exit.cause))
          for (const error of Cause.failures(exit.cause)) {
            texts.push(error.message, String(error), JSON.stringify(error))
          }
        }
        assert.isAbove(lines.length, 0, "the scenario logged something")
        for (const text of texts) {
          for (const secret of forbidden) assert.notInclude(text, secret)
        }
      }))
  }
})
