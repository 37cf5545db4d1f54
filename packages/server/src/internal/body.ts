/**
 * Reads a request body under a size limit and a deadline, straight from Node's request: the body is refused as
 * soon as the limit is passed, and the rest is discarded as it comes (never kept) so that the client, still
 * sending, reads the refusal rather than a reset connection; a client that goes on sending anyway is cut off a
 * little after the answer.
 *
 * @internal
 */
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { PayloadTooLarge, RequestTimeout } from "../DataActionApi.js"

/** @internal */
export interface Limits {
  readonly maxBytes: number
  readonly timeout: Duration.DurationInput
}

/** How long a client may go on sending a refused body once it has the answer. @internal */
export const discardGraceMillis = 5000

const closeAfterAnswer = (request: HttpServerRequest.HttpServerRequest) => {
  const incoming = NodeHttpServerRequest.toIncomingMessage(request)
  const response = NodeHttpServerRequest.toServerResponse(request)
  incoming.resume()
  response.once("finish", () => {
    if (incoming.complete) return
    setTimeout(() => {
      if (!incoming.complete) incoming.socket.destroy()
    }, discardGraceMillis).unref()
  })
}

const tooLarge = (maxBytes: number) => new PayloadTooLarge({ message: `the body is larger than ${maxBytes} bytes` })

const collect = (request: HttpServerRequest.HttpServerRequest, maxBytes: number) =>
  Effect.async<Buffer, PayloadTooLarge | RequestTimeout>((resume) => {
    const incoming = NodeHttpServerRequest.toIncomingMessage(request)
    const chunks: Array<Buffer> = []
    let size = 0
    const cleanup = () => {
      incoming.off("data", onData)
      incoming.off("end", onEnd)
      incoming.off("error", onError)
      incoming.off("aborted", onError)
    }
    function onData(chunk: Buffer) {
      size += chunk.length
      if (size > maxBytes) {
        cleanup()
        chunks.length = 0
        resume(Effect.fail(tooLarge(maxBytes)))
      } else {
        chunks.push(chunk)
      }
    }
    function onEnd() {
      cleanup()
      resume(Effect.succeed(Buffer.concat(chunks, size)))
    }
    function onError() {
      cleanup()
      resume(Effect.fail(new RequestTimeout({ message: "the body did not arrive whole" })))
    }
    incoming.on("data", onData)
    incoming.once("end", onEnd)
    incoming.once("error", onError)
    incoming.once("aborted", onError)
    return Effect.sync(cleanup)
  })

/**
 * The body's bytes; `PayloadTooLarge` at once when `Content-Length` says more than the limit or when the bytes read
 * pass it, `RequestTimeout` when the body is not whole within the deadline.
 *
 * @internal
 */
export const read = (
  request: HttpServerRequest.HttpServerRequest,
  limits: Limits
): Effect.Effect<Buffer, PayloadTooLarge | RequestTimeout> => {
  const declared = Number(request.headers["content-length"] ?? Number.NaN)
  const body = Number.isFinite(declared) && declared > limits.maxBytes
    ? Effect.fail(tooLarge(limits.maxBytes))
    : collect(request, limits.maxBytes).pipe(
      Effect.timeoutFail({
        duration: limits.timeout,
        onTimeout: () =>
          new RequestTimeout({
            message: `the body did not arrive within ${Duration.format(Duration.decode(limits.timeout))}`
          })
      })
    )
  return Effect.tapError(body, () => Effect.sync(() => closeAfterAnswer(request)))
}
