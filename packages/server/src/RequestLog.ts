/**
 * One structured log line per request: its id, method, route, status, latency, and for a call its idempotency key
 * and how it ended. Never a body, a header value, a query string, prompt text or a key.
 *
 * @since 0.1.0
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"

/**
 * What the handler of a call tells the request's log line.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallNote {
  readonly idempotencyKey?: string | undefined
  readonly callStatus?: string | undefined
}

/**
 * The note of the request being handled, when a request log is in force.
 *
 * @since 0.1.0
 * @category fiber refs
 */
export const currentNote: FiberRef.FiberRef<Option.Option<Ref.Ref<CallNote>>> = FiberRef.unsafeMake(Option.none())

/**
 * Adds to the note of the request being handled (nothing without a request log).
 *
 * @since 0.1.0
 * @category utils
 */
export const note = (fields: CallNote): Effect.Effect<void> =>
  Effect.flatMap(FiberRef.get(currentNote), (current) =>
    Option.match(current, {
      onNone: () => Effect.void,
      onSome: (ref) => Ref.update(ref, (previous) => ({ ...previous, ...fields }))
    }))

/**
 * The routes logged by name; any other path is logged as `other` (a path may hold what a caller typed).
 *
 * @since 0.1.0
 * @category models
 */
export const knownRoutes: ReadonlySet<string> = new Set([
  "/data-action/reply",
  "/healthz",
  "/readyz",
  "/metrics"
])

const requestIdPattern = /^[A-Za-z0-9._-]{1,64}$/

const requestIdOf = (request: HttpServerRequest.HttpServerRequest) => {
  const given = request.headers["x-request-id"]
  return given !== undefined && requestIdPattern.test(given)
    ? Effect.succeed(given)
    : Effect.map(Random.nextIntBetween(0, 2 ** 31), (n) => `req-${n.toString(36)}`)
}

const routeOf = (url: string) => {
  const path = url.split("?")[0] ?? ""
  return knownRoutes.has(path) ? path : "other"
}

/**
 * The middleware: serve an app with it (`HttpApiBuilder.serve(RequestLog.middleware)`) to get the lines, logged
 * at level Info with their fields as annotations (a JSON logger prints them as one JSON object). The request id is
 * the caller's `X-Request-Id` when it is a plain token, else one made here; it is sent back in `X-Request-Id`.
 *
 * @since 0.1.0
 * @category middleware
 */
export const middleware = HttpMiddleware.make((app) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const start = yield* Clock.currentTimeMillis
    const requestId = yield* requestIdOf(request)
    const ref = yield* Ref.make<CallNote>({})
    // The answer is written inside the served app, before this middleware sees it: the header goes on there.
    yield* HttpApp.appendPreResponseHandler((_, response) =>
      Effect.succeed(HttpServerResponse.setHeader(response, "x-request-id", requestId))
    )
    const exit = yield* app.pipe(Effect.locally(currentNote, Option.some(ref)), Effect.exit)
    const end = yield* Clock.currentTimeMillis
    const callNote = yield* Ref.get(ref)
    const status = Exit.isSuccess(exit) ? exit.value.status : 500
    yield* Effect.logInfo("request").pipe(
      Effect.annotateLogs({
        requestId,
        method: request.method,
        route: routeOf(request.url),
        status,
        latencyMs: end - start,
        ...(callNote.idempotencyKey === undefined ? {} : { idempotencyKey: callNote.idempotencyKey }),
        ...(callNote.callStatus === undefined ? {} : { callStatus: callNote.callStatus })
      })
    )
    return yield* exit
  })
)
