import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Stream from "effect/Stream"
import * as AuditEntry from "../src/AuditEntry.js"
import * as AuditLog from "../src/AuditLog.js"
// The chunked verifier behind `verify` is internal; the test reaches it directly.
import { LineVerifier } from "../src/internal/auditVerify.js"

const record = (i: number): AuditEntry.CallRecord => ({
  kind: "call",
  timestamp: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString(),
  idempotencyKey: `llm-gw-${i}`,
  modelId: "gpt-4o-mini",
  latencyMs: 100 + i,
  tokensUsed: i,
  status: i % 7 === 0 ? "fallback" : "success",
  systemInstructionCount: 1,
  contextMessageCount: 3,
  attempts: 1,
  droppedContextMessages: 0,
  safetyRuleIds: []
})

const chain = (n: number): Array<string> => {
  const lines: Array<string> = []
  let head = AuditEntry.genesis
  for (let i = 0; i < n; i++) {
    const entry = AuditEntry.seal(record(i), head)
    head = entry
    lines.push(AuditEntry.encodeLine(entry))
  }
  return lines
}

const text = (lines: ReadonlyArray<string>) => lines.map((l) => `${l}\n`).join("")

const brokenAt = (result: AuditLog.VerifyResult) => {
  assert.strictEqual(result._tag, "Broken")
  return result as Extract<AuditLog.VerifyResult, { _tag: "Broken" }>
}

describe("AuditLog.verify", () => {
  it("an untouched chain is intact; an empty log too", () => {
    const result = AuditLog.verifyBytes(text(chain(20)))
    assert.strictEqual(result._tag, "Intact")
    if (result._tag === "Intact") {
      assert.strictEqual(result.lines, 20)
      assert.strictEqual(result.entries, 20)
      assert.strictEqual(result.head.seq, 20)
    }
    assert.deepStrictEqual(
      AuditLog.verifyBytes(""),
      AuditLog.VerifyResult.Intact({
        lines: 0,
        entries: 0,
        recoveries: 0,
        head: AuditEntry.genesis
      })
    )
  })

  const n = 12
  const middle = FastCheck.integer({ min: 2, max: n - 1 })

  it.prop("editing a field of any middle line is detected at that line", [middle], ([k]) => {
    const lines = chain(n)
    lines[k - 1] = lines[k - 1].replace(/"latencyMs":\d+/, "\"latencyMs\":1")
    const broken = brokenAt(AuditLog.verifyBytes(text(lines)))
    assert.strictEqual(broken.line, k)
    assert.strictEqual(broken.reason, "edited")
  })

  it.prop("re-hashing an edited line still breaks the chain at the next line", [middle], ([k]) => {
    const lines = chain(n)
    const edited = { ...JSON.parse(lines[k - 1]), tokensUsed: 9999 }
    lines[k - 1] = AuditEntry.encodeLine({ ...edited, hash: AuditEntry.hashOf(edited) })
    const broken = brokenAt(AuditLog.verifyBytes(text(lines)))
    assert.strictEqual(broken.line, k + 1)
    assert.strictEqual(broken.reason, "chain-broken")
  })

  it.prop("a whitespace-only change is an edit", [middle], ([k]) => {
    const lines = chain(n)
    lines[k - 1] = lines[k - 1].replace(",", ", ")
    const broken = brokenAt(AuditLog.verifyBytes(text(lines)))
    assert.strictEqual(broken.line, k)
    assert.strictEqual(broken.reason, "edited")
  })

  it.prop("deleting any middle line is detected at that line's position", [middle], ([k]) => {
    const lines = chain(n)
    lines.splice(k - 1, 1)
    const broken = brokenAt(AuditLog.verifyBytes(text(lines)))
    assert.strictEqual(broken.line, k)
    assert.strictEqual(broken.reason, "removed-or-reordered")
  })

  it.prop("swapping a middle line with the next is detected at the first of the two", [
    FastCheck.integer({ min: 2, max: n - 2 })
  ], ([k]) => {
    const lines = chain(n)
    ;[lines[k - 1], lines[k]] = [lines[k], lines[k - 1]]
    const broken = brokenAt(AuditLog.verifyBytes(text(lines)))
    assert.strictEqual(broken.line, k)
    assert.strictEqual(broken.reason, "removed-or-reordered")
  })

  it("the first line must start the chain; a torn, blank or foreign line is reported", () => {
    const lines = chain(4)
    assert.strictEqual(brokenAt(AuditLog.verifyBytes(text(lines.slice(1)))).line, 1)
    const torn = brokenAt(AuditLog.verifyBytes(text(lines) + lines[0].slice(0, 10)))
    assert.deepStrictEqual([torn.line, torn.reason], [5, "torn-tail"])
    const blank = brokenAt(AuditLog.verifyBytes(text([lines[0], "", lines[1]])))
    assert.deepStrictEqual([blank.line, blank.reason], [2, "invalid-json"])
    const foreign = brokenAt(AuditLog.verifyBytes(text([lines[0], "{\"hello\":1}"])))
    assert.deepStrictEqual([foreign.line, foreign.reason], [2, "invalid-entry"])
  })

  it("a log fed in small chunks verifies the same", () => {
    const bytes = new TextEncoder().encode(text(chain(30)))
    const verifier = new LineVerifier()
    for (let i = 0; i < bytes.length; i += 7) verifier.feed(bytes.subarray(i, i + 7))
    assert.strictEqual((verifier.finish() as { lines: number }).lines, 30)
  })
})

describe("AuditLog.verifyLines", () => {
  it.effect("checks a stream of line texts as verify checks a file, naming the first bad line", () =>
    Effect.gen(function*() {
      const lines = chain(5)
      const intact = yield* AuditLog.verifyLines(Stream.fromIterable(lines))
      assert.strictEqual(intact._tag, "Intact")
      const edited = [...lines]
      edited[2] = edited[2].replace("\"tokensUsed\":2", "\"tokensUsed\":3")
      const broken = brokenAt(yield* AuditLog.verifyLines(Stream.fromIterable(edited)))
      assert.strictEqual(broken.line, 3)
      assert.strictEqual(broken.reason, "edited")
      const removed = brokenAt(yield* AuditLog.verifyLines(Stream.fromIterable([lines[0], lines[2]])))
      assert.strictEqual(removed.line, 2)
      assert.strictEqual(removed.reason, "removed-or-reordered")
    }))
})
