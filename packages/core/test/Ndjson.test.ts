import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as Ndjson from "../src/internal/ndjson.js"

const encoder = new TextEncoder()
const bytes = (s: string) => encoder.encode(s)

interface Result {
  readonly frames: ReadonlyArray<Ndjson.Frame>
  readonly failure: Ndjson.DecodeFailure | undefined
  readonly skipped: number
}

const decodeChunks = (
  chunks: ReadonlyArray<Uint8Array>,
  options: Partial<Ndjson.Options> = {}
): Result => {
  const decoder = new Ndjson.Decoder({ maxFrameBytes: 1024, strict: false, ...options })
  const frames: Array<Ndjson.Frame> = []
  let failure: Ndjson.DecodeFailure | undefined
  for (const chunk of chunks) {
    const out = decoder.push(chunk)
    frames.push(...out.frames)
    if (out.failure !== undefined) {
      failure = out.failure
      break
    }
  }
  if (failure === undefined) {
    const out = decoder.end()
    frames.push(...out.frames)
    failure = out.failure
  }
  return { frames, failure, skipped: decoder.skipped }
}

const split = (all: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let previous = 0
  for (const point of points) {
    out.push(all.slice(previous, point))
    previous = point
  }
  out.push(all.slice(previous))
  return out
}

const oneByOne = (all: Uint8Array): Array<Uint8Array> => Array.from(all, (b) => Uint8Array.of(b))

const frame = (content: string | undefined, completionTokens?: number): Ndjson.Frame => ({
  content,
  completionTokens
})

describe("Ndjson.Decoder", () => {
  it("decodes frames with content and usage, LF and CRLF, skipping blank lines", () => {
    const input = "{\"content\":\"Hel\"}\r\n\r\n  \n{\"content\":\"lo\"}\n{\"usage\":{\"completion_tokens\":3}}\n"
    const result = decodeChunks([bytes(input)])
    assert.deepStrictEqual(result.frames, [frame("Hel"), frame("lo"), frame(undefined, 3)])
    assert.strictEqual(result.failure, undefined)
    assert.strictEqual(result.skipped, 0)
  })

  it("strips a leading BOM, even split across chunks, but not a BOM later on", () => {
    const all = new Uint8Array([0xef, 0xbb, 0xbf, ...bytes("{\"content\":\"a\"}\n")])
    for (const chunks of [[all], oneByOne(all), split(all, [1]), split(all, [2])]) {
      assert.deepStrictEqual(decodeChunks(chunks).frames, [frame("a")])
    }
    const later = decodeChunks([bytes("{\"content\":\"a\"}\n\uFEFF{\"content\":\"b\"}\n")])
    assert.deepStrictEqual(later.frames, [frame("a")])
    assert.strictEqual(later.skipped, 1)
  })

  it("joins multi-byte characters split across chunks", () => {
    const all = bytes("{\"content\":\"h\u00e9llo \u20ac \ud83d\ude00\"}\n")
    assert.deepStrictEqual(decodeChunks(oneByOne(all)).frames, [frame("h\u00e9llo \u20ac \ud83d\ude00")])
  })

  it("accepts null fields and ignores unknown ones", () => {
    const result = decodeChunks([
      bytes("{\"id\":1,\"content\":null,\"usage\":null}\n{\"content\":\"x\",\"usage\":{\"completion_tokens\":null}}\n")
    ])
    assert.deepStrictEqual(result.frames, [frame(undefined), frame("x")])
  })

  it("skips and counts lines that are not JSON or not frames", () => {
    const input = [
      "not json",
      "{\"content\":\"unterminated",
      "42",
      "[1,2]",
      "null",
      "{\"content\":5}",
      "{\"usage\":{\"completion_tokens\":-1}}",
      "{\"usage\":{\"completion_tokens\":1.5}}",
      "{\"content\":\"ok\"}"
    ].join("\n") + "\n"
    const result = decodeChunks([bytes(input)])
    assert.deepStrictEqual(result.frames, [frame("ok")])
    assert.strictEqual(result.skipped, 8)
    assert.strictEqual(result.failure, undefined)
  })

  it("fails on the first bad line when strict, keeping the frames before it", () => {
    const result = decodeChunks([bytes("{\"content\":\"a\"}\n\n{\"content\":5}\n{\"content\":\"b\"}\n")], {
      strict: true
    })
    assert.deepStrictEqual(result.frames, [frame("a")])
    assert.deepStrictEqual(result.failure, { _tag: "Malformed", line: 3, reason: "wrong-shape" })
    const notJson = decodeChunks([bytes("oops\n")], { strict: true })
    assert.deepStrictEqual(notJson.failure, { _tag: "Malformed", line: 1, reason: "not-json" })
  })

  it("fails on invalid UTF-8 at the bad line, after the good lines before it", () => {
    const all = new Uint8Array([
      ...bytes("{\"content\":\"a\"}\n{\"content\":\""),
      0xff,
      ...bytes("\"}\n{\"content\":\"c\"}\n")
    ])
    const result = decodeChunks([all])
    assert.deepStrictEqual(result.frames, [frame("a")])
    assert.deepStrictEqual(result.failure, { _tag: "InvalidUtf8", line: 2 })
    assert.deepStrictEqual(decodeChunks(oneByOne(all)), result)
  })

  it("decodes a whole last line without its newline when the stream ends there", () => {
    for (
      const chunks of [[bytes("{\"content\":\"a\"}\n{\"content\":\"b\"}")], oneByOne(bytes("{\"content\":\"b\"}\r"))]
    ) {
      const result = decodeChunks(chunks)
      assert.deepStrictEqual(result.frames.at(-1), frame("b"))
      assert.strictEqual(result.failure, undefined)
    }
    const skipped = decodeChunks([bytes("{\"content\":\"a\"}\n[1]")])
    assert.strictEqual(skipped.skipped, 1)
    const strict = decodeChunks([bytes("{\"content\":\"a\"}\n[1]")], { strict: true })
    assert.deepStrictEqual(strict.failure, { _tag: "Malformed", line: 2, reason: "wrong-shape" })
  })

  it("fails when the stream ends inside a line that is not whole", () => {
    const result = decodeChunks([bytes("{\"content\":\"a\"}\n{\"content\":\"b")])
    assert.deepStrictEqual(result.frames, [frame("a")])
    assert.deepStrictEqual(result.failure, { _tag: "Truncated", line: 2, insideCharacter: false })
  })

  it("fails when the stream ends inside a UTF-8 sequence", () => {
    const euro = bytes("\u20ac")
    const all = new Uint8Array([...bytes("{\"content\":\"a\"}\n{\"content\":\""), euro[0], euro[1]])
    const result = decodeChunks(oneByOne(all))
    assert.deepStrictEqual(result.failure, { _tag: "Truncated", line: 2, insideCharacter: true })
    const bomStart = decodeChunks([Uint8Array.of(0xef, 0xbb)])
    assert.deepStrictEqual(bomStart.failure, { _tag: "Truncated", line: 1, insideCharacter: true })
  })

  it("accepts an unterminated blank tail", () => {
    const result = decodeChunks([bytes("{\"content\":\"a\"}\n \r")])
    assert.deepStrictEqual(result.frames, [frame("a")])
    assert.strictEqual(result.failure, undefined)
  })

  it("fails with FrameTooLarge as soon as the pending line passes the limit", () => {
    const decoder = new Ndjson.Decoder({ maxFrameBytes: 10, strict: false })
    assert.deepStrictEqual(decoder.push(bytes("{\"content\"")), { frames: [], failure: undefined })
    const out = decoder.push(bytes(":"))
    assert.deepStrictEqual(out.failure, { _tag: "FrameTooLarge", line: 1, limit: 10 })
    // Sticky: nothing more is decoded.
    assert.deepStrictEqual(decoder.push(bytes("\n{}\n")).frames, [])
  })

  it("counts the limit without the line terminator", () => {
    const line = "{\"content\":\"abcd\"}" // 18 bytes
    for (const ending of ["\n", "\r\n"]) {
      const all = bytes(line + ending + line + ending)
      const exact = decodeChunks(oneByOne(all), { maxFrameBytes: 18 })
      assert.deepStrictEqual(exact.frames, [frame("abcd"), frame("abcd")])
      assert.strictEqual(exact.failure, undefined)
      const whole = decodeChunks([all], { maxFrameBytes: 17 })
      assert.deepStrictEqual(whole.failure, { _tag: "FrameTooLarge", line: 1, limit: 17 })
    }
  })

  it("reports an oversized line inside a chunk after the frames before it", () => {
    const all = bytes(`{"content":"a"}\n{"content":"${"x".repeat(40)}"}\n{"content":"b"}\n`)
    const result = decodeChunks([all], { maxFrameBytes: 20 })
    assert.deepStrictEqual(result.frames, [frame("a")])
    assert.deepStrictEqual(result.failure, { _tag: "FrameTooLarge", line: 2, limit: 20 })
    assert.deepStrictEqual(decodeChunks(oneByOne(all), { maxFrameBytes: 20 }), result)
  })

  it("keeps memory bounded: the pending bytes never exceed the limit plus one chunk", () => {
    const decoder = new Ndjson.Decoder({ maxFrameBytes: 64, strict: false })
    let failure: Ndjson.DecodeFailure | undefined
    for (let i = 0; i < 10_000 && failure === undefined; i++) failure = decoder.push(bytes("xxxxxxxx")).failure
    assert.deepStrictEqual(failure, { _tag: "FrameTooLarge", line: 1, limit: 64 })
  })
})

// Valid streams: frames with any Unicode content (multi-byte, astral), optional usage, blank lines, LF or CRLF
// endings, an optional BOM, and lines that are skipped.
const contentArb = FastCheck.option(FastCheck.fullUnicodeString({ maxLength: 20 }), { nil: undefined })
const usageArb = FastCheck.option(FastCheck.nat({ max: 1000 }), { nil: undefined })
const lineArb = FastCheck.oneof(
  {
    weight: 6,
    arbitrary: FastCheck.record({ content: contentArb, usage: usageArb }).map((f) => ({ kind: "frame" as const, ...f }))
  },
  { weight: 1, arbitrary: FastCheck.constantFrom("", "  ", "\t").map((text) => ({ kind: "blank" as const, text })) },
  {
    weight: 1,
    arbitrary: FastCheck.constantFrom("nope", "{\"content\":7}", "[]", "{\"content\":\"x").map((text) => ({
      kind: "junk" as const,
      text
    }))
  }
)
const streamArb = FastCheck.record({
  lines: FastCheck.array(FastCheck.record({ line: lineArb, crlf: FastCheck.boolean() }), { maxLength: 30 }),
  bom: FastCheck.boolean()
}).map(({ bom, lines }) => {
  let text = ""
  const expected: Array<Ndjson.Frame> = []
  let skipped = 0
  for (const { crlf, line } of lines) {
    if (line.kind === "frame") {
      const wire: Record<string, unknown> = {}
      if (line.content !== undefined) wire.content = line.content
      if (line.usage !== undefined) wire.usage = { completion_tokens: line.usage }
      text += JSON.stringify(wire)
      expected.push(frame(line.content, line.usage))
    } else {
      text += line.text
      if (line.kind === "junk") skipped++
    }
    text += crlf ? "\r\n" : "\n"
  }
  const body = bytes(text)
  const all = bom ? new Uint8Array([0xef, 0xbb, 0xbf, ...body]) : body
  return { all, expected, skipped }
})

describe("Ndjson.Decoder properties", () => {
  it.prop(
    "any chunking of a valid stream decodes to the same frames",
    [streamArb, FastCheck.array(FastCheck.nat(), { maxLength: 40 })],
    ([stream, cuts]) => {
      const result = decodeChunks(split(stream.all, cuts), { maxFrameBytes: 4096 })
      assert.deepStrictEqual(result.frames, stream.expected)
      assert.strictEqual(result.skipped, stream.skipped)
      assert.strictEqual(result.failure, undefined)
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "1-byte slices decode like one chunk",
    [streamArb],
    ([stream]) => {
      assert.deepStrictEqual(
        decodeChunks(oneByOne(stream.all), { maxFrameBytes: 4096 }),
        decodeChunks([stream.all], { maxFrameBytes: 4096 })
      )
    },
    { fastCheck: { numRuns: 100 } }
  )

  it.prop(
    "any chunking of any bytes gives the same frames and the same failure",
    [
      FastCheck.array(
        FastCheck.oneof(
          FastCheck.constantFrom(0x0a, 0x0d, 0x7b, 0x7d, 0x22, 0xef, 0xbb, 0xbf, 0xe2, 0x82, 0xac, 0xff),
          FastCheck.integer({ min: 0, max: 255 })
        ),
        { maxLength: 120 }
      ),
      FastCheck.array(FastCheck.nat(), { maxLength: 20 }),
      FastCheck.integer({ min: 1, max: 24 }),
      FastCheck.boolean()
    ],
    ([raw, cuts, limit, strict]) => {
      const all = Uint8Array.from(raw)
      const options = { maxFrameBytes: limit, strict }
      const whole = decodeChunks([all], options)
      assert.deepStrictEqual(decodeChunks(split(all, cuts), options), whole)
      assert.deepStrictEqual(decodeChunks(oneByOne(all), options), whole)
    },
    { fastCheck: { numRuns: 500 } }
  )
})

const anyValue = FastCheck.oneof(
  FastCheck.constant(undefined),
  FastCheck.constant(null),
  FastCheck.string({ maxLength: 5 }),
  FastCheck.integer({ min: -5, max: 5 }),
  FastCheck.double(),
  FastCheck.boolean(),
  FastCheck.constant([]),
  FastCheck.constant({})
)
const nearFrame = FastCheck.record(
  {
    content: anyValue,
    usage: FastCheck.oneof(
      anyValue,
      FastCheck.record({ completion_tokens: anyValue, other: anyValue }, { requiredKeys: [] }),
      FastCheck.constant([1])
    ),
    extra: anyValue
  },
  { requiredKeys: [] }
)

describe("Ndjson.readFrame", () => {
  const decode = Schema.decodeUnknownEither(Ndjson.FrameSchema)
  it.prop(
    "accepts exactly what FrameSchema accepts, with the same fields",
    [FastCheck.oneof(nearFrame, FastCheck.jsonValue())],
    ([value]) => {
      const json = JSON.parse(JSON.stringify(value) ?? "null") as unknown
      const fast = Ndjson.readFrame(json)
      const slow = decode(json)
      if (Either.isLeft(slow)) {
        assert.isUndefined(fast)
      } else {
        assert.deepStrictEqual(fast, {
          content: slow.right.content ?? undefined,
          completionTokens: slow.right.usage?.completion_tokens ?? undefined
        })
      }
    },
    { fastCheck: { numRuns: 2000 } }
  )
})
