// Helpers for the tests of the rules every call shares: the guarded gateway over the HTTP double, and a call run
// in a fiber of its own with the time of its first event.
import { CircuitBreaker, Gateway, RateBudget, RetryBudget, TokenProvider } from "@genesys-llm/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestHttpClient from "../src/TestHttpClient.js"
import { chatPath, request, secret, tokenPath, tokens } from "./gatewayHelpers.js"

type Guards = RateBudget.Options & CircuitBreaker.Options & RetryBudget.Options

export const guardedLayer = (
  chat: TestHttpClient.Handler,
  guards: Guards = {},
  options: Partial<Gateway.Options> = {}
) =>
  Gateway.layerGuarded({ apiUrl: "https://api.example.test", clientId: "client-a", backoffBaseMillis: 0, ...options })
    .pipe(
      Layer.provideMerge(Layer.mergeAll(
        RateBudget.layerTest({ rateLimitPerMinute: guards.rateLimitPerMinute }),
        CircuitBreaker.layerTest(guards),
        RetryBudget.layerTest({ retryBudget: guards.retryBudget })
      )),
      Layer.provideMerge(
        TokenProvider.layer({
          loginUrl: "https://login.example.test",
          clientId: "client-a",
          clientSecret: Redacted.make(secret)
        })
      ),
      Layer.provideMerge(TestHttpClient.layer(TestHttpClient.byPath({ [tokenPath]: tokens(), [chatPath]: chat })))
    )

/** How a call ended: its events, its exit, when it started and when its first event (or its failure) came. */
export interface Ended {
  readonly exit: Exit.Exit<ReadonlyArray<Gateway.Event>, Gateway.GatewayError>
  readonly startedAt: number
  readonly firstAt: number
}

/** Starts a call in a fiber of its own. */
export const start = (options: Gateway.CallOptions = {}) =>
  Effect.gen(function*() {
    const gateway = yield* Gateway.Gateway
    const startedAt = yield* Clock.currentTimeMillis
    let firstAt: number | undefined
    const mark = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        firstAt ??= now
      }))
    return yield* gateway.stream(request(options)).pipe(
      Stream.tap(() => mark),
      Stream.runCollect,
      Effect.map((events) => [...events]),
      Effect.tapError(() => mark),
      Effect.exit,
      Effect.map((exit): Ended => ({ exit, startedAt, firstAt: firstAt ?? -1 })),
      Effect.fork
    )
  })
