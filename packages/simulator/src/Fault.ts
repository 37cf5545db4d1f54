/**
 * The faults the simulator can inject, as JSON-friendly schemas: the same shapes are accepted by the options,
 * the `--fault` flag and `POST /__simulator/faults`.
 *
 * A fault applies to one request. Faults that answer instead of the server (`status`, `expireToken`, `hangup`)
 * or hold the answer back (`delay`) are taken when a request arrives, before any check; faults that damage a
 * stream are taken when a `200` stream starts, so a request rejected with a 4xx does not use them up.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

const Count = Schema.Int.pipe(Schema.greaterThanOrEqualTo(0))
const Millis = Schema.Int.pipe(Schema.between(0, 86_400_000))

/**
 * Which endpoint a fault targets: the chat route (the default) or the token route.
 *
 * @since 0.1.0
 * @category models
 */
export const Route = Schema.Literal("chat", "token")

/**
 * @since 0.1.0
 * @category models
 */
export type Route = typeof Route.Type

/**
 * How lines end on the wire.
 *
 * @since 0.1.0
 * @category models
 */
export const LineEnding = Schema.Literal("lf", "crlf")

/**
 * @since 0.1.0
 * @category models
 */
export type LineEnding = typeof LineEnding.Type

/**
 * Answers with a status instead of serving the request: a Genesys-shaped JSON error body by default, or `body`
 * verbatim. A `429` gets `Retry-After` (1 second unless `retryAfterSeconds` says otherwise; `retryAfterFormat:
 * "http-date"` sends it as an HTTP date) and the `inin-ratelimit-*` headers.
 *
 * With `echo: true` the answer repeats the request, as a careless proxy or server does: its body, then its
 * `Authorization` header as sent and base64-encoded, appended to `body` or to the JSON body's `message`. It lets a
 * test check that nothing of a prompt or a credential travels from an error answer into a client's errors.
 *
 * @since 0.1.0
 * @category models
 */
export const Status = Schema.Struct({
  kind: Schema.Literal("status"),
  status: Schema.Int.pipe(Schema.between(400, 599)),
  route: Schema.optional(Route),
  message: Schema.optional(Schema.String),
  code: Schema.optional(Schema.String),
  body: Schema.optional(Schema.String),
  contentType: Schema.optional(Schema.String),
  headers: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  retryAfterSeconds: Schema.optional(Count),
  retryAfterFormat: Schema.optional(Schema.Literal("seconds", "http-date")),
  echo: Schema.optional(Schema.Boolean)
})

/**
 * Expires the bearer token the request carries, then answers `401` exactly as an expired token would: the
 * token stays unusable, so only a new one gets through.
 *
 * @since 0.1.0
 * @category models
 */
export const ExpireToken = Schema.Struct({
  kind: Schema.Literal("expireToken")
})

/**
 * Waits `ms` milliseconds (on the server's clock) before handling the request; the answer is then normal.
 *
 * @since 0.1.0
 * @category models
 */
export const Delay = Schema.Struct({
  kind: Schema.Literal("delay"),
  ms: Millis,
  route: Schema.optional(Route)
})

/**
 * Resets the connection as soon as the request arrives: no status line, no headers.
 *
 * @since 0.1.0
 * @category models
 */
export const Hangup = Schema.Struct({
  kind: Schema.Literal("hangup"),
  route: Schema.optional(Route)
})

/**
 * After `afterFrames` content frames, stops sending: for `ms` milliseconds, or forever (until the client goes
 * away or the server stops) when `ms` is absent.
 *
 * @since 0.1.0
 * @category models
 */
export const Stall = Schema.Struct({
  kind: Schema.Literal("stall"),
  afterFrames: Count,
  ms: Schema.optional(Millis)
})

/**
 * After `afterFrames` content frames have been flushed, resets the TCP connection (RST): the client sees the
 * frames, then a connection error, never the end of the body.
 *
 * @since 0.1.0
 * @category models
 */
export const Reset = Schema.Struct({
  kind: Schema.Literal("reset"),
  afterFrames: Count
})

/**
 * Ends the body cleanly after `afterFrames` content frames (all of them when absent) without the usage frame.
 *
 * @since 0.1.0
 * @category models
 */
export const CloseWithoutUsage = Schema.Struct({
  kind: Schema.Literal("closeWithoutUsage"),
  afterFrames: Schema.optional(Count)
})

const SingleLine = Schema.String.pipe(
  Schema.filter((s) => !/[\r\n]/.test(s) || "a malformed line must not contain line breaks")
)

/**
 * Sends one line that is not a valid frame after `afterFrames` content frames (0 when absent), then carries on.
 * The line is `line`, or `{"content":"unterminated` by default.
 *
 * @since 0.1.0
 * @category models
 */
export const MalformedFrame = Schema.Struct({
  kind: Schema.Literal("malformedFrame"),
  afterFrames: Schema.optional(Count),
  line: Schema.optional(SingleLine)
})

/**
 * Writes the body in pieces of exactly `bytes` bytes (the last one shorter), cut wherever they fall: inside a
 * multi-byte UTF-8 character, between `\r` and `\n` (with `lineEnding: "crlf"`), across frames.
 *
 * @since 0.1.0
 * @category models
 */
export const Slice = Schema.Struct({
  kind: Schema.Literal("slice"),
  bytes: Schema.Int.pipe(Schema.between(1, 1_048_576)),
  lineEnding: Schema.optional(LineEnding)
})

/**
 * Ends every line with `\r\n` instead of `\n`.
 *
 * @since 0.1.0
 * @category models
 */
export const Crlf = Schema.Struct({
  kind: Schema.Literal("crlf")
})

/**
 * Puts `count` blank lines (1 when absent) before every frame and at the end of the body.
 *
 * @since 0.1.0
 * @category models
 */
export const BlankLines = Schema.Struct({
  kind: Schema.Literal("blankLines"),
  count: Schema.optional(Schema.Int.pipe(Schema.between(1, 1000))),
  lineEnding: Schema.optional(LineEnding)
})

/**
 * Sends one extra content frame whose JSON line is `bytes` bytes long (without its line ending), after
 * `afterFrames` content frames (0 when absent). It is written in pieces, never held whole in memory; the usage
 * frame does not count it.
 *
 * @since 0.1.0
 * @category models
 */
export const OversizedFrame = Schema.Struct({
  kind: Schema.Literal("oversizedFrame"),
  bytes: Schema.Int.pipe(Schema.between(16, 1_073_741_824)),
  afterFrames: Schema.optional(Count)
})

/**
 * Any fault.
 *
 * @since 0.1.0
 * @category models
 */
export const Fault = Schema.Union(
  Status,
  ExpireToken,
  Delay,
  Hangup,
  Stall,
  Reset,
  CloseWithoutUsage,
  MalformedFrame,
  Slice,
  Crlf,
  BlankLines,
  OversizedFrame
).annotations({ identifier: "Fault" })

/**
 * @since 0.1.0
 * @category models
 */
export type Fault = typeof Fault.Type

/**
 * The faults taken when a request arrives.
 *
 * @since 0.1.0
 * @category models
 */
export type ArrivalFault = Extract<Fault, { readonly kind: "status" | "expireToken" | "delay" | "hangup" }>

/**
 * The faults taken when a `200` stream starts.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamFault = Exclude<Fault, ArrivalFault>

/**
 * Whether a fault is taken on arrival (rather than when a stream starts).
 *
 * @since 0.1.0
 * @category utils
 */
export const isArrivalFault = (fault: Fault): fault is ArrivalFault =>
  fault.kind === "status" || fault.kind === "expireToken" || fault.kind === "delay" || fault.kind === "hangup"

/**
 * The route a fault targets; stream faults and `expireToken` only ever apply to the chat route.
 *
 * @since 0.1.0
 * @category utils
 */
export const routeOf = (fault: Fault): Route =>
  (fault.kind === "status" || fault.kind === "delay" || fault.kind === "hangup") && fault.route !== undefined
    ? fault.route
    : "chat"

/**
 * What `POST /__simulator/faults` accepts: one fault or an array of them (queued in order), or a rate setting
 * (`rate` between 0 and 1, the `pool` drawn from, an optional new `seed`).
 *
 * @since 0.1.0
 * @category models
 */
export const RateSetting = Schema.Struct({
  rate: Schema.Number.pipe(Schema.between(0, 1)),
  pool: Schema.optional(Schema.Array(Fault)),
  seed: Schema.optional(Schema.Int)
})

/**
 * @since 0.1.0
 * @category models
 */
export type RateSetting = typeof RateSetting.Type

/**
 * The body of `POST /__simulator/faults`.
 *
 * @since 0.1.0
 * @category models
 */
export const ControlRequest = Schema.Union(Fault, Schema.Array(Fault), RateSetting)

/**
 * The pool a fault rate draws from when none is given: retryable statuses a real gateway answers under load.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultPool: ReadonlyArray<Fault> = [
  { kind: "status", status: 429, retryAfterSeconds: 1 },
  { kind: "status", status: 500 },
  { kind: "status", status: 503 }
]
