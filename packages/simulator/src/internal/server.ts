import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Validation from "@genesys-llm/core/Validation"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Fault from "../Fault.js"
import * as Reply from "./reply.js"
import type { State } from "./state.js"
import * as Wire from "./wire.js"

/**
 * The decoded options the server needs.
 *
 * @internal
 */
export interface ServerOptions {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  readonly tokenLifetimeSeconds: number
  readonly requestsPerMinute: number
  readonly paceMs: number
  readonly frameChars: number
  readonly replyText: string | undefined
  readonly replyBytes: number | undefined
  readonly chatPath: `/${string}`
  readonly validation: Validation.Service
  readonly maxBodyBytes: number
}

/** @internal */
export const CONTROL_PREFIX = "/__simulator"

class Current extends Context.Tag("@genesys-llm/simulator/internal/Current")<Current, {
  readonly correlationId: string
  /** The request's line in the log; absent for the control routes, which are not logged. */
  readonly recordId: number | undefined
}>() {}

const REALM = "genesys-llm-simulator"

const sha256 = (data: Uint8Array | string): string => Crypto.createHash("sha256").update(data).digest("hex")

const sameSecret = (a: string, b: string): boolean =>
  Crypto.timingSafeEqual(Crypto.createHash("sha256").update(a).digest(), Crypto.createHash("sha256").update(b).digest())

const newToken = (): string => `sim-${Crypto.randomBytes(24).toString("base64url")}`

const codeFor = (status: number): string => {
  switch (status) {
    case 400:
      return "bad.request"
    case 401:
      return "bad.credentials"
    case 403:
      return "not.authorized"
    case 404:
      return "not.found"
    case 408:
      return "request.timeout"
    case 409:
      return "conflict"
    case 413:
      return "payload.too.large"
    case 415:
      return "unsupported.media.type"
    case 422:
      return "unprocessable.entity"
    case 429:
      return "too.many.requests"
    case 500:
      return "internal.server.error"
    case 502:
      return "bad.gateway"
    case 503:
      return "service.unavailable"
    case 504:
      return "gateway.timeout"
    default:
      return status >= 500 ? "server.error" : "client.error"
  }
}

/**
 * A Genesys-shaped error: `{message, code, status, contextId}` plus any extra fields. Messages are fixed texts
 * of this module or schema messages that never echo a submitted string.
 */
const errorResponse = (
  status: number,
  message: string,
  options: {
    readonly code?: string | undefined
    readonly extra?: Record<string, unknown> | undefined
    readonly headers?: Record<string, string> | undefined
  } = {}
) =>
  Effect.map(Current, ({ correlationId }) =>
    HttpServerResponse.unsafeJson(
      { message, code: options.code ?? codeFor(status), status, contextId: correlationId, ...options.extra },
      { status, headers: options.headers }
    ))

const isForm = (contentType: string | undefined) =>
  contentType !== undefined && contentType.split(";")[0].trim().toLowerCase() === "application/x-www-form-urlencoded"

const isJson = (contentType: string | undefined) =>
  contentType !== undefined && contentType.split(";")[0].trim().toLowerCase() === "application/json"

const formDecode = (s: string): string | undefined => {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "))
  } catch {
    return undefined
  }
}

/** Client credentials from `Authorization: Basic` (RFC 6749 2.3.1): form-url-encoded id and secret. */
const basicCredentials = (header: string | undefined) => {
  if (header === undefined) return Option.none<{ id: string; secret: string } | undefined>()
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header)
  if (match === null) return Option.some(undefined)
  const decoded = Buffer.from(match[1], "base64").toString("utf8")
  const colon = decoded.indexOf(":")
  if (colon < 0) return Option.some(undefined)
  const id = formDecode(decoded.slice(0, colon))
  const secret = formDecode(decoded.slice(colon + 1))
  return Option.some(id === undefined || secret === undefined ? undefined : { id, secret })
}

const bearerToken = (header: string | undefined): string | undefined => {
  if (header === undefined) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match === null ? undefined : match[1]
}

const parseJson = (bytes: Uint8Array): Option.Option<unknown> => {
  try {
    return Option.some(JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)))
  } catch {
    return Option.none()
  }
}

const isFaultList = (value: typeof Fault.ControlRequest.Type): value is ReadonlyArray<Fault.Fault> =>
  Array.isArray(value)

const httpDate = (millis: number) => new Date(millis).toUTCString()

const resetConnection = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.async<void>((resume) => {
    const socket = NodeHttpServerRequest.toServerResponse(request).socket
    if (socket === null || socket.destroyed) return resume(Effect.void)
    // An empty write completes once everything written before it has been flushed to the kernel: the client
    // gets every frame sent so far, then the RST.
    socket.write(new Uint8Array(0), () => {
      socket.resetAndDestroy()
      resume(Effect.void)
    })
  })

/**
 * Node holds the headers back until the first body write (`headersSent` is already true then); a stall or reset
 * before any frame sends them. Once they are out, this writes nothing.
 */
const flushHeaders = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.sync(() => {
    const response = NodeHttpServerRequest.toServerResponse(request)
    if (!response.destroyed && !response.writableEnded) response.flushHeaders()
  })

const hangup = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.sync(() => {
    const socket = NodeHttpServerRequest.toServerResponse(request).socket
    if (socket !== null && !socket.destroyed) socket.resetAndDestroy()
  })

/** @internal */
export const make = (options: ServerOptions, state: State) => {
  const record = (patch: Parameters<State["update"]>[1]) =>
    Effect.flatMap(Current, ({ recordId }) => recordId === undefined ? Effect.void : state.update(recordId, patch))

  /**
   * Reads the body, at most `maxBodyBytes` of it. A larger body is still drained (up to a hard cap), so that
   * the client, still sending, receives the 413 rather than a broken connection.
   */
  const readBody: Effect.Effect<Option.Option<Uint8Array>, never, HttpServerRequest.HttpServerRequest> = Effect
    .flatMap(
      HttpServerRequest.HttpServerRequest,
      (request) =>
        request.stream.pipe(
          Stream.runFoldWhile(
            { parts: [] as Array<Uint8Array>, size: 0 },
            (acc) => acc.size <= options.maxBodyBytes * 16,
            (acc, chunk) => {
              if (acc.size + chunk.length <= options.maxBodyBytes) acc.parts.push(chunk)
              acc.size += chunk.length
              return acc
            }
          ),
          Effect.map((acc) => acc.size > options.maxBodyBytes ? Option.none() : Option.some(Buffer.concat(acc.parts))),
          Effect.orElseSucceed(() => Option.none())
        )
    )

  /** The request as an echoing proxy repeats it: the body, then the `Authorization` header, raw and in base64. */
  const echo = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const body = yield* readBody
    const text = Option.match(body, { onNone: () => "", onSome: (bytes) => new TextDecoder().decode(bytes) })
    const authorization = request.headers["authorization"] ?? ""
    return `request body: ${text} authorization: ${authorization} (${Buffer.from(authorization).toString("base64")})`
  })

  /** A status fault: the configured body or a Genesys-shaped one, with `Retry-After` on 429. */
  const statusFault = (fault: typeof Fault.Status.Type) =>
    Effect.gen(function*() {
      const headers: Record<string, string> = {}
      if (fault.status === 429 || fault.retryAfterSeconds !== undefined) {
        const seconds = fault.retryAfterSeconds ?? 1
        if (fault.retryAfterFormat === "http-date") {
          const now = yield* Clock.currentTimeMillis
          // HTTP dates have whole seconds: round up so that the client never waits less than asked.
          headers["retry-after"] = httpDate(Math.ceil((now + seconds * 1000) / 1000) * 1000)
        } else {
          headers["retry-after"] = String(seconds)
        }
        if (fault.status === 429) {
          // As if the token had used up its window.
          headers["inin-ratelimit-allowed"] = String(options.requestsPerMinute)
          headers["inin-ratelimit-count"] = String(options.requestsPerMinute)
          headers["inin-ratelimit-reset"] = String(seconds)
        }
      }
      Object.assign(headers, fault.headers)
      yield* record({ status: fault.status, fault: "status", outcome: "fault" })
      const echoed = fault.echo === true ? ` ${yield* echo}` : ""
      if (fault.body !== undefined) {
        return HttpServerResponse.text(`${fault.body}${echoed}`, {
          status: fault.status,
          headers,
          contentType: fault.contentType ?? "text/plain"
        })
      }
      return yield* errorResponse(fault.status, `${fault.message ?? `simulated ${fault.status} fault`}${echoed}`, {
        code: fault.code,
        headers
      })
    })

  /**
   * Applies a fault taken on arrival. `undefined` means carry on (no fault, a finished delay, or a stream fault
   * drawn by rate, returned in `held`).
   */
  const arrival = (route: Fault.Route) =>
    Effect.gen(function*() {
      const fault = yield* state.take(route, "arrival")
      if (fault === undefined) return { response: undefined, held: undefined }
      if (!Fault.isArrivalFault(fault)) return { response: undefined, held: fault }
      switch (fault.kind) {
        case "status":
          return { response: yield* statusFault(fault), held: undefined }
        case "hangup": {
          const request = yield* HttpServerRequest.HttpServerRequest
          yield* record({ status: null, fault: "hangup", outcome: "hung up" })
          yield* hangup(request)
          return { response: HttpServerResponse.empty({ status: 500 }), held: undefined }
        }
        case "delay": {
          yield* record({ fault: "delay", outcome: "delayed" })
          yield* Effect.sleep(fault.ms)
          return { response: undefined, held: undefined }
        }
        case "expireToken": {
          const request = yield* HttpServerRequest.HttpServerRequest
          const token = bearerToken(request.headers["authorization"])
          if (token !== undefined) yield* state.expireToken(token)
          yield* record({ status: 401, fault: "expireToken", outcome: "expired token" })
          return { response: yield* unauthorized("the access token has expired"), held: undefined }
        }
      }
    })

  const unauthorized = (message: string) =>
    errorResponse(401, message, {
      headers: { "www-authenticate": `Bearer realm="${REALM}", error="invalid_token"` }
    })

  const oauthError = (status: number, error: string, message: string) =>
    errorResponse(status, message, {
      code: error,
      extra: { error, error_description: message },
      headers: status === 401
        ? { "www-authenticate": `Basic realm="${REALM}"`, "cache-control": "no-store" }
        : { "cache-control": "no-store" }
    })

  const token = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const { response: faulted } = yield* arrival("token")
    if (faulted !== undefined) return faulted

    if (!isForm(request.headers["content-type"])) {
      yield* record({ status: 400, outcome: "unsupported media type" })
      return yield* oauthError(400, "invalid_request", "the body must be application/x-www-form-urlencoded")
    }
    const body = yield* readBody
    if (Option.isNone(body)) {
      yield* record({ status: 400, outcome: "unreadable body" })
      return yield* oauthError(400, "invalid_request", "the request body could not be read")
    }
    const form = new URLSearchParams(new TextDecoder().decode(body.value))
    const basic = basicCredentials(request.headers["authorization"])
    const inBody = form.has("client_id") || form.has("client_secret")
    if (Option.isSome(basic) && inBody) {
      yield* record({ status: 400, outcome: "two authentication methods" })
      return yield* oauthError(400, "invalid_request", "use one client authentication method, not two")
    }
    const credentials = Option.isSome(basic)
      ? basic.value
      : inBody
      ? { id: form.get("client_id") ?? "", secret: form.get("client_secret") ?? "" }
      : undefined
    if (credentials === undefined) {
      yield* record({ status: 401, outcome: Option.isSome(basic) ? "malformed credentials" : "missing credentials" })
      return yield* oauthError(401, "invalid_client", "client authentication failed")
    }
    // Both comparisons run, so that the time taken does not tell which part was wrong.
    const idOk = sameSecret(credentials.id, options.clientId)
    const secretOk = sameSecret(credentials.secret, Redacted.value(options.clientSecret))
    if (!(idOk && secretOk)) {
      yield* record({ status: 401, outcome: "invalid credentials" })
      return yield* oauthError(401, "invalid_client", "client authentication failed")
    }
    const grantType = form.get("grant_type")
    if (grantType !== "client_credentials") {
      yield* record({ status: 400, outcome: "unsupported grant type" })
      return yield* oauthError(
        400,
        grantType === null ? "invalid_request" : "unsupported_grant_type",
        grantType === null ? "grant_type is missing" : "only grant_type=client_credentials is supported"
      )
    }
    const accessToken = newToken()
    yield* state.issueToken(accessToken, options.tokenLifetimeSeconds)
    yield* record({ status: 200, outcome: "token issued" })
    return HttpServerResponse.unsafeJson(
      { access_token: accessToken, token_type: "bearer", expires_in: options.tokenLifetimeSeconds },
      { headers: { "cache-control": "no-store", pragma: "no-cache" } }
    )
  })

  const planFor = (messages: number, text: string | undefined, maxTokens: number, bodySha256: string) => () => {
    const seed = Reply.seedOf(bodySha256)
    if (options.replyBytes !== undefined) return Reply.sizedPlan(options.replyBytes, options.frameChars, seed)
    const reply = Reply.truncateToTokens(text ?? Reply.composeText(seed, messages), maxTokens)
    return Reply.textPlan(reply, options.frameChars)
  }

  const chat = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const { held, response: faulted } = yield* arrival("chat")
    if (faulted !== undefined) return faulted

    const bearer = bearerToken(request.headers["authorization"])
    if (bearer === undefined) {
      yield* record({ status: 401, outcome: "missing token" })
      return yield* unauthorized("a bearer token is required")
    }
    const check = yield* state.checkToken(bearer)
    if (check !== "valid") {
      yield* record({ status: 401, outcome: `${check} token` })
      return yield* unauthorized(check === "expired" ? "the access token has expired" : "the access token is not valid")
    }

    const rate = yield* state.hit(bearer)
    const rateHeaders = {
      "inin-ratelimit-allowed": String(rate.allowed),
      "inin-ratelimit-count": String(rate.count),
      "inin-ratelimit-reset": String(rate.resetSeconds)
    }
    if (rate.limited) {
      yield* record({ status: 429, outcome: "rate limited" })
      return yield* errorResponse(429, `rate limit of ${rate.allowed} requests a minute exceeded`, {
        headers: { ...rateHeaders, "retry-after": String(rate.resetSeconds) }
      })
    }
    const fail = (
      status: number,
      outcome: string,
      message: string,
      more: { readonly code?: string; readonly extra?: Record<string, unknown> } = {}
    ) =>
      Effect.zipRight(
        record({ status, outcome }),
        errorResponse(status, message, { code: more.code, extra: more.extra, headers: rateHeaders })
      )

    if (!isJson(request.headers["content-type"])) {
      return yield* fail(415, "unsupported media type", "the body must be application/json")
    }
    const key = request.headers["idempotency-key"]
    if (key === undefined || key.trim().length === 0) {
      return yield* fail(400, "missing idempotency key", "the Idempotency-Key header is required")
    }
    if (key.length > 255) {
      return yield* fail(400, "invalid idempotency key", "the Idempotency-Key header must be at most 255 characters")
    }
    const body = yield* readBody
    if (Option.isNone(body)) {
      return yield* fail(413, "body too large", `the body must be at most ${options.maxBodyBytes} bytes`)
    }
    const bodySha256 = sha256(body.value)
    yield* record({ bodySha256 })
    const json = parseJson(body.value)
    if (Option.isNone(json)) {
      return yield* fail(400, "invalid json", "the body is not valid UTF-8 JSON")
    }
    const payload = yield* Effect.either(options.validation.validate(json.value))
    if (payload._tag === "Left") {
      return yield* fail(400, "invalid payload", payload.left.message, {
        code: "invalid.prompt",
        extra: { details: payload.left.issues.map((issue) => ({ path: issue.path, message: issue.message })) }
      })
    }
    const { context, maxTokens } = payload.right
    const claim = yield* state.claim(
      key,
      bodySha256,
      planFor(context.length, options.replyText, maxTokens, bodySha256)
    )
    if (claim._tag === "Conflict") {
      return yield* fail(
        422,
        "idempotency key reused",
        "the Idempotency-Key was already used with a different body",
        { code: "idempotency.key.reused" }
      )
    }
    const { recordId } = yield* Current
    const fault = (yield* state.take("chat", "stream")) ?? held
    const progress: Wire.Progress = { frames: 0, outcome: undefined }
    yield* record({
      ...(fault === undefined ? {} : { fault: fault.kind }),
      status: 200,
      outcome: "streaming",
      replayed: claim._tag === "Replay",
      frames: 0
    })
    const stream = Wire.body({
      plan: claim.plan,
      paceMs: options.paceMs,
      fault: fault !== undefined && !Fault.isArrivalFault(fault) ? fault : undefined,
      reset: resetConnection(request),
      checkpoint: Effect.zipRight(
        flushHeaders(request),
        recordId === undefined
          ? Effect.void
          : Effect.suspend(() =>
            state.update(recordId, { frames: progress.frames, outcome: progress.outcome ?? "streaming" })
          )
      ),
      progress
    }).pipe(
      Stream.ensuring(Effect.suspend(() =>
        recordId === undefined
          ? Effect.void
          : state.update(recordId, { frames: progress.frames, outcome: progress.outcome ?? "client disconnected" })
      ))
    )
    return HttpServerResponse.stream(stream, {
      contentType: "application/x-ndjson",
      headers: { ...rateHeaders, "cache-control": "no-store", "x-accel-buffering": "no" }
    })
  })

  // Decoded by shape rather than as one union, so that an error names what is wrong with the shape meant.
  const strict = { errors: "all", onExcessProperty: "error" } as const
  const decodeFaults = Schema.decodeUnknown(Schema.Array(Fault.Fault), strict)
  const decodeFault = Schema.decodeUnknown(Fault.Fault, strict)
  const decodeRate = Schema.decodeUnknown(Fault.RateSetting, strict)
  const controlDecode = (input: unknown): Effect.Effect<typeof Fault.ControlRequest.Type, ParseResult.ParseError> =>
    Array.isArray(input)
      ? decodeFaults(input)
      : typeof input === "object" && input !== null && !("kind" in input) && "rate" in input
      ? decodeRate(input)
      : decodeFault(input)

  const faultsView = Effect.map(state.faultConfig, (config) => HttpServerResponse.unsafeJson(config))

  const postFaults = Effect.gen(function*() {
    const body = yield* readBody
    const json = Option.flatMap(body, parseJson)
    if (Option.isNone(json)) {
      return yield* errorResponse(400, "the body is not valid JSON")
    }
    const decoded = yield* Effect.either(controlDecode(json.value))
    if (decoded._tag === "Left") {
      const details = ParseResult.ArrayFormatter.formatErrorSync(decoded.left).map((issue) => ({
        path: Validation.formatPath(issue.path),
        message: issue.message
      }))
      return yield* errorResponse(400, "invalid fault: " + details.map((d) => `${d.path}: ${d.message}`).join("; "), {
        extra: { details }
      })
    }
    const value = decoded.right
    if (isFaultList(value)) yield* state.enqueue(value)
    else if ("kind" in value) yield* state.enqueue([value])
    else yield* state.setRate(value)
    return yield* faultsView
  })

  // The log names what a client sent; a client that puts its secret or a token in a path or a key gets it
  // masked, so that the log never holds one.
  const isSecret = (candidate: string) => {
    const decoded = formDecode(candidate) ?? candidate
    return candidate === Redacted.value(options.clientSecret) || decoded === Redacted.value(options.clientSecret)
      ? Effect.succeed(true)
      : Effect.map(
        Effect.all([state.isToken(candidate), state.isToken(decoded)]),
        ([a, b]) => a || b
      )
  }
  const redactPath = (path: string) =>
    Effect.map(
      Effect.forEach(path.split("/"), (segment) =>
        segment === "" ? Effect.succeed(segment) : Effect.map(isSecret(segment), (s) =>
          s ? "<redacted>" : segment)),
      (segments) =>
        segments.join("/")
    )

  const router = HttpRouter.empty.pipe(
    HttpRouter.post("/oauth/token", token),
    HttpRouter.post(options.chatPath, chat),
    HttpRouter.post(`${CONTROL_PREFIX}/faults`, postFaults),
    HttpRouter.get(`${CONTROL_PREFIX}/faults`, faultsView),
    HttpRouter.post(
      `${CONTROL_PREFIX}/reset`,
      Effect.as(state.reset, HttpServerResponse.unsafeJson({ reset: true }))
    ),
    HttpRouter.get(
      `${CONTROL_PREFIX}/requests`,
      Effect.map(state.records, (records) => HttpServerResponse.unsafeJson(records))
    )
  )

  return Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const correlationId = Crypto.randomUUID()
    const url = new URL(request.url, "http://simulator")
    const logged = !url.pathname.startsWith(CONTROL_PREFIX)
    const receivedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
    const key = request.headers["idempotency-key"]
    const recordId = logged
      ? yield* state.open({
        receivedAt,
        method: request.method,
        path: yield* redactPath(url.pathname),
        correlationId,
        idempotencyKey: key === undefined ? null : (yield* isSecret(key)) ? "<redacted>" : key,
        bodySha256: null,
        status: null,
        fault: null,
        outcome: "received",
        replayed: false,
        frames: null
      })
      : undefined
    const response = yield* router.pipe(
      Effect.catchTag("RouteNotFound", () =>
        Effect.zipRight(
          recordId === undefined ? Effect.void : state.update(recordId, { status: 404, outcome: "not found" }),
          errorResponse(404, `no route for this ${request.method} request`)
        )),
      Effect.provideService(Current, { correlationId, recordId })
    )
    return HttpServerResponse.setHeader(response, "inin-correlation-id", correlationId)
  }).pipe(Effect.interruptible)
}
