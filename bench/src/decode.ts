/**
 * Stream decoding: the gateway's NDJSON decoder over a recorded answer, in socket-sized (16 KiB) and tiny
 * (17-byte) chunks, against the hand-written split-and-parse loop; and the whole `Gateway.stream` (decoder,
 * Effect stream, events) over an in-memory HTTP client, against the loop reading the same web stream.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Gateway, TokenProvider } from "@genesys-llm/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
// The decoder is internal to core: the bench reaches into the source, as core's own tests do.
import * as Ndjson from "../../packages/core/src/internal/ndjson.js"
import * as Baseline from "./baselines.js"
import * as Data from "./data.js"
import { elapsedMs, median, now, pair, type Row, row } from "./harness.js"

export interface Options {
  /** Bytes of the recorded stream. */
  readonly size: number
  readonly chunkSizes: ReadonlyArray<number>
  readonly samples: number
  /** Bytes of the stream for the `Gateway.stream` rows (it costs more per pass). */
  readonly gatewaySize: number
  readonly gatewaySamples: number
  readonly warmupMs?: number | undefined
}

export const options = {
  full: { size: 50_000_000, chunkSizes: [16_384, 17], samples: 3, gatewaySize: 20_000_000, gatewaySamples: 3 },
  quick: { size: 10_000_000, chunkSizes: [16_384, 17], samples: 3, gatewaySize: 10_000_000, gatewaySamples: 3 },
  tiny: { size: 20_000, chunkSizes: [16_384, 17], samples: 1, gatewaySize: 20_000, gatewaySamples: 1, warmupMs: 1 }
} satisfies Record<string, Options>

/** The library's decoder over the chunks; the same figures as the baseline's. */
export const decodeWithLibrary = (chunks: ReadonlyArray<Uint8Array>): Baseline.Decoded => {
  const decoder = new Ndjson.Decoder({ maxFrameBytes: Gateway.defaults.maxFrameBytes, strict: true })
  const result = { frames: 0, characters: 0, completionTokens: 0 }
  const take = (out: Ndjson.Output) => {
    if (out.failure !== undefined) throw new Error(`decode failure: ${out.failure._tag}`)
    for (const frame of out.frames) {
      if (frame.content !== undefined) {
        result.frames++
        result.characters += frame.content.length
      }
      if (frame.completionTokens !== undefined) result.completionTokens += frame.completionTokens
    }
  }
  for (const chunk of chunks) take(decoder.push(chunk))
  take(decoder.end())
  return result
}

const same = (a: Baseline.Decoded, b: Baseline.Decoded) =>
  a.frames === b.frames && a.characters === b.characters && a.completionTokens === b.completionTokens

const webStream = (chunks: ReadonlyArray<Uint8Array>) => {
  let i = 0
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++])
      else controller.close()
    }
  })
}

/** A gateway whose HTTP client answers every request with the recorded stream. */
export const makeGateway = (chunks: ReadonlyArray<Uint8Array>, retainText: boolean | undefined) => {
  const client = HttpClient.make((request) =>
    Effect.sync(() =>
      HttpClientResponse.fromWeb(
        request,
        new Response(webStream(chunks), { status: 200, headers: { "content-type": "application/x-ndjson" } })
      )
    )
  )
  const tokens = Layer.succeed(TokenProvider.TokenProvider, {
    get: Effect.succeed(Redacted.make("bench-token")),
    invalidate: () => Effect.void
  })
  const gateway = Effect.runSync(
    Gateway.make({ apiUrl: "http://gateway.invalid", strictFrames: true }).pipe(
      Effect.provide(Layer.merge(Layer.succeed(HttpClient.HttpClient, client), tokens))
    )
  )
  const payload = Data.chatPayload(0) as never
  return Effect.suspend(() => {
    const result = { frames: 0, characters: 0, completionTokens: 0 }
    return gateway.stream({
      payload,
      idempotencyKey: "bench-decode",
      options: { ...(retainText === undefined ? {} : { retainText }) } as Gateway.CallOptions
    }).pipe(
      Stream.runForEachChunk((events) =>
        Effect.sync(() => {
          for (const event of events) {
            if (event._tag === "Delta") {
              result.frames++
              result.characters += event.text.length
            } else if (event._tag === "Done") result.completionTokens = event.completionTokens
          }
        })
      ),
      Effect.as(result)
    )
  })
}

const decodeWeb = async (chunks: ReadonlyArray<Uint8Array>): Promise<Baseline.Decoded> => {
  const decoder = new Baseline.LineDecoder()
  const reader = webStream(chunks).getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    decoder.push(value)
  }
  return decoder.end()
}

const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000)

export const run = async (opts: Options): Promise<ReadonlyArray<Row>> => {
  const rows: Array<Row> = []
  const recorded = Data.recordedStream(opts.size)
  const size = recorded.bytes.length
  const expected = {
    frames: recorded.frames,
    characters: recorded.characters,
    completionTokens: recorded.completionTokens
  }
  const mb = `${Math.round(size / 1e6)} MB`
  for (const chunkSize of opts.chunkSizes) {
    const chunks = Data.chunks(recorded.bytes, chunkSize)
    const equal = same(decodeWithLibrary(chunks), expected) && same(Baseline.decodeAll(chunks), expected)
    const result = pair(() => decodeWithLibrary(chunks), () => Baseline.decodeAll(chunks), {
      samples: opts.samples,
      sampleMs: 0,
      warmupMs: opts.warmupMs
    })
    const library = mbps(size, result.library)
    rows.push(row({
      group: "decoding",
      name: `NDJSON decoder, ${mb} in ${chunkSize === 16_384 ? "16 KiB" : `${chunkSize}-byte`} chunks`,
      unit: "MB/s",
      library,
      baseline: mbps(size, result.baseline),
      better: "higher",
      equal,
      target: ">= 0.5x",
      met: library / mbps(size, result.baseline) >= 0.5
    }))
  }

  // The whole gateway stream, in 16 KiB chunks, with and without keeping the text.
  const gatewayRecorded = opts.gatewaySize === opts.size ? recorded : Data.recordedStream(opts.gatewaySize)
  const gatewayBytes = gatewayRecorded.bytes.length
  const chunks = Data.chunks(gatewayRecorded.bytes, 16_384)
  const gatewayExpected = {
    frames: gatewayRecorded.frames,
    characters: gatewayRecorded.characters,
    completionTokens: gatewayRecorded.completionTokens
  }
  for (const retainText of [undefined, false] as const) {
    const call = makeGateway(chunks, retainText)
    const lib: Array<number> = []
    const base: Array<number> = []
    let equal = same(await Effect.runPromise(call), gatewayExpected) &&
      same(await decodeWeb(chunks), gatewayExpected)
    for (let s = 0; s < opts.gatewaySamples; s++) {
      let start = now()
      const a = await Effect.runPromise(call)
      lib.push(elapsedMs(start))
      start = now()
      const b = await decodeWeb(chunks)
      base.push(elapsedMs(start))
      equal &&= same(a, b)
    }
    const library = mbps(gatewayBytes, median(lib))
    const baseline = mbps(gatewayBytes, median(base))
    rows.push(row({
      group: "decoding",
      name: `Gateway.stream${retainText === false ? " (retainText: false)" : ""}, ${
        Math.round(gatewayBytes / 1e6)
      } MB in 16 KiB chunks`,
      unit: "MB/s",
      library,
      baseline,
      better: "higher",
      equal
    }))
  }
  return rows
}
