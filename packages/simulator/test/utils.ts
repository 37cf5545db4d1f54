import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Net from "node:net"
import type * as GatewaySimulator from "../src/GatewaySimulator.js"

export const payload = (text = "Where is my order?", patch: Record<string, unknown> = {}) => ({
  systemInstructions: ["You are a helpful contact-center assistant."],
  context: [{ role: "user", content: text }],
  temperature: 0.2,
  maxTokens: 512,
  modelId: "gpt-4o",
  ...patch
})

/** A plain HTTP client (undici), not the project's gateway client. */
export const clientLayer = NodeHttpClient.layerUndici

export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
}

export const send = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(request)
    const text = yield* response.text
    return { status: response.status, headers: response.headers, text } satisfies Answer
  }).pipe(Effect.scoped)

export const tokenRequest = (simulator: GatewaySimulator.Service) =>
  HttpClientRequest.post(simulator.tokenUrl).pipe(
    HttpClientRequest.basicAuth(simulator.credentials.clientId, Redacted.value(simulator.credentials.clientSecret)),
    HttpClientRequest.bodyUrlParams({ grant_type: "client_credentials" })
  )

export const token = (simulator: GatewaySimulator.Service) =>
  Effect.gen(function*() {
    const answer = yield* send(tokenRequest(simulator))
    if (answer.status !== 200) return yield* Effect.dieMessage(`token request failed: ${answer.status}`)
    return (JSON.parse(answer.text) as { access_token: string }).access_token
  })

export const chatRequest = (
  simulator: GatewaySimulator.Service,
  bearer: string,
  body: unknown,
  key: string
) =>
  HttpClientRequest.post(simulator.chatUrl).pipe(
    HttpClientRequest.bearerToken(bearer),
    HttpClientRequest.setHeader("Idempotency-Key", key),
    HttpClientRequest.bodyText(typeof body === "string" ? body : JSON.stringify(body), "application/json")
  )

export const chat = (simulator: GatewaySimulator.Service, bearer: string, body: unknown, key: string) =>
  send(chatRequest(simulator, bearer, body, key))

export type Frame = { readonly content?: string; readonly usage?: { readonly completion_tokens: number } }

/** NDJSON as the contract says: `\n` or `\r\n`, blank lines ignored. */
export const frames = (text: string): ReadonlyArray<Frame> =>
  text.split(/\r?\n/).filter((line) => line.trim() !== "").map((line) => JSON.parse(line) as Frame)

export const replyOf = (text: string) => {
  const all = frames(text)
  return {
    frames: all,
    content: all.flatMap((f) => (typeof f.content === "string" ? [f.content] : [])),
    text: all.map((f) => f.content ?? "").join(""),
    usage: all.reduce((n, f) => n + (f.usage?.completion_tokens ?? 0), 0),
    usageFrames: all.filter((f) => f.usage !== undefined).length
  }
}

/** What a raw TCP client saw: the status line, headers, each HTTP chunk's data, and how the connection ended. */
export interface Raw {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly chunks: ReadonlyArray<Buffer>
  readonly body: Buffer
  /** The terminating zero-size chunk (or the full Content-Length) arrived. */
  readonly complete: boolean
  /** `end` (FIN), `until` (we stopped reading), or the socket error code (`ECONNRESET`). */
  readonly ending: string
  readonly bytes: Buffer
}

const parseRaw = (bytes: Buffer, ending: string): Raw => {
  const split = bytes.indexOf("\r\n\r\n")
  if (split < 0) return { status: 0, headers: {}, chunks: [], body: Buffer.alloc(0), complete: false, ending, bytes }
  const [statusLine, ...lines] = bytes.subarray(0, split).toString("latin1").split("\r\n")
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(":")
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  const status = Number(statusLine.split(" ")[1])
  const rest = bytes.subarray(split + 4)
  if (headers["transfer-encoding"] !== "chunked") {
    const length = Number(headers["content-length"] ?? "0")
    return {
      status,
      headers,
      chunks: [rest],
      body: rest,
      complete: rest.length >= length,
      ending,
      bytes
    }
  }
  const chunks: Array<Buffer> = []
  let offset = 0
  let complete = false
  while (offset < rest.length) {
    const eol = rest.indexOf("\r\n", offset)
    if (eol < 0) break
    const size = Number.parseInt(rest.subarray(offset, eol).toString("latin1"), 16)
    if (size === 0) {
      complete = true
      break
    }
    if (eol + 2 + size + 2 > rest.length) break
    chunks.push(rest.subarray(eol + 2, eol + 2 + size))
    offset = eol + 2 + size + 2
  }
  return { status, headers, chunks, body: Buffer.concat(chunks), complete, ending, bytes }
}

/**
 * One request over a raw socket, to see the bytes exactly as the server wrote them. `until` stops reading
 * early (for streams that never end).
 */
export const raw = (
  url: string,
  request: {
    readonly method?: string
    readonly path: string
    readonly headers?: Record<string, string>
    readonly body?: string
    readonly until?: (received: Raw) => boolean
  }
) =>
  Effect.async<Raw>((resume) => {
    const target = new URL(url)
    const socket = Net.connect(Number(target.port), target.hostname)
    const received: Array<Buffer> = []
    let done = false
    const finish = (ending: string) => {
      if (done) return
      done = true
      socket.destroy()
      resume(Effect.succeed(parseRaw(Buffer.concat(received), ending)))
    }
    socket.on("data", (data) => {
      received.push(data)
      if (request.until !== undefined && request.until(parseRaw(Buffer.concat(received), "until"))) finish("until")
    })
    socket.on("error", (error: NodeJS.ErrnoException) => finish(error.code ?? "error"))
    socket.on("end", () => finish("end"))
    socket.on("close", () => finish("close"))
    const body = request.body === undefined ? undefined : Buffer.from(request.body)
    const head = [
      `${request.method ?? "POST"} ${request.path} HTTP/1.1`,
      `Host: ${target.host}`,
      "Connection: close",
      ...Object.entries(request.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
      ...(body === undefined ? [] : [`Content-Length: ${body.length}`])
    ].join("\r\n") + "\r\n\r\n"
    socket.write(body === undefined ? head : Buffer.concat([Buffer.from(head), body]))
    return Effect.sync(() => socket.destroy())
  })

export const rawChat = (
  simulator: GatewaySimulator.Service,
  bearer: string,
  body: unknown,
  key: string,
  until?: (received: Raw) => boolean
) =>
  raw(simulator.url, {
    path: new URL(simulator.chatUrl).pathname,
    headers: { Authorization: `Bearer ${bearer}`, "Content-Type": "application/json", "Idempotency-Key": key },
    body: JSON.stringify(body),
    ...(until === undefined ? {} : { until })
  })
