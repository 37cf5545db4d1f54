/**
 * An `HttpClient` test double for protocol-level tests: every request is recorded (method, URL, headers, body
 * bytes, whether it was aborted) and answered by a handler, with replies whose bodies stream chunk by chunk on
 * Effect's `Clock`, so that TestClock drives every delay.
 *
 * ```ts
 * const client = TestHttpClient.layer(TestHttpClient.byPath({
 *   "/oauth/token": TestHttpClient.always(TestHttpClient.json(200, { access_token: "t", expires_in: 3600 })),
 *   "/api/v2/ai/llm-gateway/chat": TestHttpClient.sequence(
 *     TestHttpClient.json(429, { message: "slow down" }, { "retry-after": "1" }),
 *     TestHttpClient.ndjson([{ content: "Hello" }, { usage: { completion_tokens: 1 } }])
 *   )
 * }))
 * ```
 *
 * @since 0.1.0
 */
import * as Cookies from "@effect/platform/Cookies"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * A request as the double saw it.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordedRequest {
  /** 0-based position among all requests of this double. */
  readonly index: number
  /** When the request arrived, by Effect's `Clock` (TestClock in tests). */
  readonly at: number
  readonly method: string
  /** The full URL, query included. */
  readonly url: string
  /** The path of the URL. */
  readonly path: string
  readonly headers: Headers.Headers
  readonly body: Uint8Array
  readonly bodyText: string
  /**
   * Whether the request's abort signal fired. The platform client aborts when the caller is interrupted and also
   * once a body stream ends, so for a streamed answer look at `bodyOutcome` too.
   */
  readonly aborted: boolean
  /**
   * What became of the response body: not read yet, being read, read to its end, broken by a `reset` part, or
   * abandoned by the reader (interrupted) before its end.
   */
  readonly bodyOutcome: BodyOutcome
}

/**
 * @since 0.1.0
 * @category models
 */
export type BodyOutcome = "unread" | "reading" | "complete" | "broken" | "interrupted"

/**
 * One part of a streamed body: bytes after an optional delay on the Clock, a break of the connection, or a hang
 * that never ends.
 *
 * @since 0.1.0
 * @category models
 */
export type BodyPart =
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array; readonly delayMillis: number }
  | { readonly _tag: "Break"; readonly message: string; readonly delayMillis: number }
  | { readonly _tag: "Hang" }

/**
 * What the double answers with.
 *
 * @since 0.1.0
 * @category models
 */
export type Reply =
  | {
    readonly _tag: "Response"
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    readonly body: ReadonlyArray<BodyPart>
    /** A delay on the Clock before the status line arrives. */
    readonly delayMillis: number
  }
  | { readonly _tag: "TransportError"; readonly message: string; readonly delayMillis: number }
  | { readonly _tag: "Hang" }

/**
 * Decides the reply to a request.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler = (request: RecordedRequest) => Effect.Effect<Reply>

/**
 * Reads what the double recorded.
 *
 * @since 0.1.0
 * @category models
 */
export interface Recorder {
  readonly requests: Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** The requests whose path is `path`. */
  readonly requestsTo: (path: string) => Effect.Effect<ReadonlyArray<RecordedRequest>>
}

/**
 * @since 0.1.0
 * @category context
 */
export class TestHttpClient extends Context.Tag("@genesys-llm/testing/TestHttpClient")<TestHttpClient, Recorder>() {}

const toBytes = (input: string | Uint8Array): Uint8Array => typeof input === "string" ? encoder.encode(input) : input

/**
 * Body bytes, sent at once (after `delayMillis`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const bytes = (input: string | Uint8Array, delayMillis = 0): BodyPart => ({
  _tag: "Bytes",
  bytes: toBytes(input),
  delayMillis
})

/**
 * The connection breaks (after `delayMillis`): the body stream fails as a reset socket does.
 *
 * @since 0.1.0
 * @category constructors
 */
export const reset = (message = "socket hang up", delayMillis = 0): BodyPart => ({
  _tag: "Break",
  message,
  delayMillis
})

/**
 * The body stops sending and never ends (until the client aborts).
 *
 * @since 0.1.0
 * @category constructors
 */
export const hang: BodyPart = { _tag: "Hang" }

/**
 * A response with a streamed body.
 *
 * @since 0.1.0
 * @category constructors
 */
export const response = (
  status: number,
  body: ReadonlyArray<BodyPart> = [],
  headers: Readonly<Record<string, string>> = {},
  delayMillis = 0
): Reply => ({ _tag: "Response", status, headers, body, delayMillis })

/**
 * A JSON response.
 *
 * @since 0.1.0
 * @category constructors
 */
export const json = (status: number, value: unknown, headers: Readonly<Record<string, string>> = {}): Reply =>
  response(status, [bytes(JSON.stringify(value))], { "content-type": "application/json", ...headers })

/**
 * A text response.
 *
 * @since 0.1.0
 * @category constructors
 */
export const text = (status: number, value: string, headers: Readonly<Record<string, string>> = {}): Reply =>
  response(status, [bytes(value)], { "content-type": "text/plain", ...headers })

/**
 * A `200` NDJSON stream, one part per frame, each frame sent `delayMillis` after the previous one. A frame given as
 * a string is sent verbatim (for malformed lines); anything else as JSON. Lines end with `lineEnding`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ndjson = (
  frames: ReadonlyArray<unknown>,
  options: {
    readonly delayMillis?: number | undefined
    readonly lineEnding?: "\n" | "\r\n" | undefined
    readonly headers?: Readonly<Record<string, string>> | undefined
    readonly then?: ReadonlyArray<BodyPart> | undefined
  } = {}
): Reply =>
  response(
    200,
    [
      ...frames.map((frame) =>
        bytes(
          `${typeof frame === "string" ? frame : JSON.stringify(frame)}${options.lineEnding ?? "\n"}`,
          options.delayMillis ?? 0
        )
      ),
      ...(options.then ?? [])
    ],
    { "content-type": "application/x-ndjson", ...options.headers }
  )

/**
 * The request fails before any response (after `delayMillis`), as a refused or reset connection does.
 *
 * @since 0.1.0
 * @category constructors
 */
export const transportError = (message = "connect ECONNREFUSED", delayMillis = 0): Reply => ({
  _tag: "TransportError",
  message,
  delayMillis
})

/**
 * The request never gets an answer (until the client aborts).
 *
 * @since 0.1.0
 * @category constructors
 */
export const hangReply: Reply = { _tag: "Hang" }

/**
 * Answers every request with the same reply.
 *
 * @since 0.1.0
 * @category constructors
 */
export const always = (reply: Reply): Handler => () => Effect.succeed(reply)

/**
 * Answers with the replies in order; after the last one, the last one again.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sequence = (...replies: readonly [Reply, ...Array<Reply>]): Handler => {
  let index = 0
  return () => Effect.sync(() => replies[Math.min(index++, replies.length - 1)])
}

/**
 * Routes by path; a path without a handler gets a `404`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const byPath = (routes: Readonly<Record<string, Handler>>): Handler => (request) => {
  const handler = routes[request.path]
  return handler === undefined
    ? Effect.succeed(json(404, { message: "no route", code: "not.found" }))
    : handler(request)
}

const bodyBytes = (request: HttpClientRequest.HttpClientRequest): Uint8Array => {
  const body = request.body
  switch (body._tag) {
    case "Uint8Array":
      return body.body
    case "Raw":
      return typeof body.body === "string" ? encoder.encode(body.body) : new Uint8Array()
    default:
      return new Uint8Array()
  }
}

class BodyBroken {
  readonly _tag = "BodyBroken"
  constructor(readonly message: string) {}
}

const bodyStream = (
  parts: ReadonlyArray<BodyPart>,
  setOutcome: (outcome: BodyOutcome) => void
): Stream.Stream<Uint8Array, BodyBroken> =>
  Stream.fromIterable(parts).pipe(
    Stream.onStart(Effect.sync(() => setOutcome("reading"))),
    Stream.mapEffect((part) => {
      switch (part._tag) {
        case "Bytes":
          return part.delayMillis > 0
            ? Effect.as(Effect.sleep(Duration.millis(part.delayMillis)), part)
            : Effect.succeed(part)
        case "Break":
          return Effect.zipRight(
            part.delayMillis > 0 ? Effect.sleep(Duration.millis(part.delayMillis)) : Effect.void,
            Effect.fail(new BodyBroken(part.message))
          )
        case "Hang":
          return Effect.never
      }
    }),
    Stream.map((part) => part.bytes),
    Stream.onEnd(Effect.sync(() => setOutcome("complete"))),
    Stream.tapError(() => Effect.sync(() => setOutcome("broken"))),
    Stream.ensuringWith((exit) =>
      Effect.sync(() => {
        if (Exit.isInterrupted(exit)) setOutcome("interrupted")
      })
    )
  )

class TestResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly headers: Headers.Headers
  readonly cookies = Cookies.empty
  readonly remoteAddress = Option.none<string>()

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    readonly status: number,
    headers: Readonly<Record<string, string>>,
    private readonly body: ReadonlyArray<BodyPart>,
    private readonly setOutcome: (outcome: BodyOutcome) => void
  ) {
    super()
    this.headers = Headers.fromInput(headers)
  }

  private error(reason: "Decode", cause: unknown) {
    return new HttpClientError.ResponseError({ request: this.request, response: this, reason, cause })
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return bodyStream(this.body, this.setOutcome).pipe(
      Stream.mapError((broken) => this.error("Decode", new Error(broken.message)))
    )
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Stream.runCollect(this.stream).pipe(Effect.map((chunks) => {
      const all = Chunk.toReadonlyArray(chunks)
      const out = new Uint8Array(all.reduce((n, c) => n + c.length, 0))
      let offset = 0
      for (const c of all) {
        out.set(c, offset)
        offset += c.length
      }
      return out.buffer
    }))
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.map(this.arrayBuffer, (buffer) => decoder.decode(buffer))
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.flatMap(
      this.text,
      (text) =>
        Effect.try({
          try: () => (text === "" ? null : JSON.parse(text)) as unknown,
          catch: (cause) => this.error("Decode", cause)
        })
    )
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.map(this.text, (text) => UrlParams.fromInput(new URLSearchParams(text)))
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.fail(this.error("Decode", new Error("the test double does not serve form data")))
  }

  toJSON(): unknown {
    return { _id: "@genesys-llm/testing/TestHttpClient/Response", status: this.status }
  }
}

/**
 * Builds the double: the client, and the recorder of what it saw.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  handler: Handler
): Effect.Effect<{ readonly client: HttpClient.HttpClient; readonly recorder: Recorder }> =>
  Effect.gen(function*() {
    const recorded = yield* Ref.make<ReadonlyArray<RecordedRequest>>([])
    let index = 0
    const client = HttpClient.make((request, url, signal) =>
      Effect.gen(function*() {
        const body = bodyBytes(request)
        const at = yield* Clock.currentTimeMillis
        let outcome: BodyOutcome = "unread"
        const setOutcome = (next: BodyOutcome) => {
          // The first end wins: a stream that broke is not later reported as interrupted.
          if (outcome === "unread" || outcome === "reading") outcome = next
        }
        const record: RecordedRequest = {
          index: index++,
          at,
          method: request.method,
          url: url.toString(),
          path: url.pathname,
          headers: request.headers,
          body,
          bodyText: decoder.decode(body),
          get aborted() {
            return signal.aborted
          },
          get bodyOutcome() {
            return outcome
          }
        }
        yield* Ref.update(recorded, (all) => [...all, record])
        const reply = yield* handler(record)
        switch (reply._tag) {
          case "Hang":
            return yield* Effect.never
          case "TransportError": {
            if (reply.delayMillis > 0) yield* Effect.sleep(Duration.millis(reply.delayMillis))
            return yield* new HttpClientError.RequestError({
              request,
              reason: "Transport",
              cause: new Error(reply.message)
            })
          }
          case "Response": {
            if (reply.delayMillis > 0) yield* Effect.sleep(Duration.millis(reply.delayMillis))
            return new TestResponse(request, reply.status, reply.headers, reply.body, setOutcome)
          }
        }
      })
    )
    const recorder: Recorder = {
      requests: Ref.get(recorded),
      requestsTo: (path) => Effect.map(Ref.get(recorded), (all) => all.filter((r) => r.path === path))
    }
    return { client, recorder }
  })

/**
 * Provides the double as the `HttpClient`, and its recorder as `TestHttpClient`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (handler: Handler): Layer.Layer<HttpClient.HttpClient | TestHttpClient> =>
  Layer.effectContext(
    Effect.map(make(handler), ({ client, recorder }) =>
      Context.make(HttpClient.HttpClient, client).pipe(Context.add(TestHttpClient, recorder)))
  )
