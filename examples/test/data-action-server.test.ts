import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServer from "@effect/platform/HttpServer"
import { assert, describe, it } from "@effect/vitest"
import { IdGenerator, Prompt } from "@genesys-llm/core"
import type { Fault } from "@genesys-llm/simulator"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as DataAction from "../src/data-action-server.js"
import { pipelineOnSimulator } from "../src/internal/simulated.js"

const reply = "Your order 1042 left the warehouse this morning."
const apiKey = "test-key-7f3a"
const fallbackText = "One moment please, an agent will help you."
const options: DataAction.Options = {
  ...DataAction.defaults,
  apiKeys: [Redacted.make(apiKey)],
  // The bodies of the tests of long histories are megabytes (the service's default bound is 64 KiB).
  maxBodyBytes: 16 * 1024 * 1024,
  fallbackText
}

// The service on a free loopback port over the pipeline against a simulator; an HttpClient aimed at the service.
const stack = (faults: ReadonlyArray<Fault.Fault> = [], gateway: { readonly maxLatencyMillis?: number } = {}) =>
  HttpServer.layerTestClient.pipe(
    Layer.provide(NodeHttpClient.layerUndici),
    Layer.provideMerge(
      DataAction.serverLayer({ host: "127.0.0.1", port: 0 }, options).pipe(
        Layer.provide(pipelineOnSimulator({ fallbackText, gateway }))
      )
    ),
    Layer.provideMerge(GatewaySimulator.layer({ replyText: reply, frameChars: 8, faults }))
  )

const post = (body: unknown, headers: Record<string, string> = { "x-api-key": apiKey }) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(
      HttpClientRequest.post("/data-action/reply").pipe(
        HttpClientRequest.setHeaders(headers),
        HttpClientRequest.bodyText(typeof body === "string" ? body : JSON.stringify(body), "application/json")
      )
    )
    return { status: response.status, body: (yield* response.json) as Record<string, unknown> }
  })

// The status and the text of an answer, read whatever its size.
const postRaw = (body: string) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(
      HttpClientRequest.post("/data-action/reply").pipe(
        HttpClientRequest.setHeaders({ "x-api-key": apiKey }),
        HttpClientRequest.bodyText(body, "application/json")
      )
    )
    return { status: response.status, text: yield* response.text }
  })

const fields = (body: Record<string, unknown>) =>
  (body.issues as ReadonlyArray<{ readonly field: string }>).map((i) => i.field)

const chatRequests = Effect.gen(function*() {
  const simulator = yield* GatewaySimulator.GatewaySimulator
  return (yield* simulator.control.requests).filter((r) => r.path === simulator.options.chatPath)
})

const turn = (n: number, extra: Record<string, unknown> = {}) => ({
  conversationId: "conv-42",
  turn: n,
  customerMessage: "Where is my order 1042?",
  ...extra
})

// -- the contracts and configuration an admin pastes, read from the page they paste them from
const readme = fs.readFileSync(new URL("../data-action/README.md", import.meta.url), "utf8")
const block = (name: string) => {
  const match = new RegExp(`<!-- contract:${name} -->\\s*\`\`\`json\\n([\\s\\S]*?)\`\`\``).exec(readme)
  if (match === null) throw new Error(`no ${name} block in examples/data-action/README.md`)
  return JSON.parse(match[1])
}
interface Contract {
  readonly required?: ReadonlyArray<string>
  readonly properties: Record<string, { readonly type: "string" | "integer" }>
}
const inputContract: Contract = block("input")
const outputContract: Contract = block("output")
const requestConfig = block("request")

const conforms = (contract: Contract, value: Record<string, unknown>) => {
  for (const name of contract.required ?? []) assert.property(value, name)
  for (const [name, property] of Object.entries(contract.properties)) {
    if (!(name in value)) continue
    if (property.type === "integer") assert.isTrue(Number.isInteger(value[name]), `${name} is an integer`)
    else assert.isString(value[name], `${name} is a string`)
  }
}

// What a Web Services Data Action does with the configuration above: the input checked against the input contract,
// the request built from the request configuration, the answer mapped by the response configuration and checked
// against the output contract. Only the template features the configuration uses are implemented.
const runAction = (input: Record<string, unknown>, responseConfig: Record<string, unknown>) =>
  Effect.gen(function*() {
    conforms(inputContract, input)
    assert.strictEqual(requestConfig.requestType, "POST")
    assert.strictEqual(requestConfig.requestTemplate, "${input.rawRequest}")
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(requestConfig.headers as Record<string, string>)) {
      headers[name.toLowerCase()] = value.replace("${credentials.apiKey}", apiKey)
    }
    const { body, status } = yield* post(JSON.stringify(input), headers)
    if (status < 200 || status > 299) return { path: "failure" as const, status, body }

    const map = responseConfig.translationMap as Record<string, string>
    const defaults = responseConfig.translationMapDefaults as Record<string, string>
    const resolved = (name: string) => {
      const field = /^\$\.(\w+)$/.exec(map[name])![1]
      return field in body ? JSON.stringify(body[field]) : defaults[name]
    }
    const output = JSON.parse(
      (responseConfig.successTemplate as string)
        .replace("${rawResult}", JSON.stringify(body))
        .replace(/\$\{(\w+)\}/g, (_, name: string) => resolved(name))
    )
    conforms(outputContract, output)
    for (const name of Object.keys(outputContract.properties)) assert.property(output, name)
    return { path: "success" as const, status, body: output as Record<string, unknown> }
  })

describe("examples/data-action-server", () => {
  it("documents exactly the fields the service reads and writes", () => {
    assert.deepStrictEqual(
      Object.keys(inputContract.properties).sort(),
      Object.keys(DataAction.ReplyRequest.fields).sort()
    )
    assert.deepStrictEqual([...inputContract.required!].sort(), ["conversationId", "customerMessage", "turn"])
    assert.deepStrictEqual(
      Object.keys(outputContract.properties).sort(),
      Object.keys(DataAction.ReplyResponse.fields).sort()
    )
    assert.match(requestConfig.requestUrlTemplate, /^https:\/\/[^/]+\/data-action\/reply$/)
  })

  it.scoped("answers a retried turn with the same key and one gateway answer: the second is a replay", () =>
    Effect.gen(function*() {
      const first = yield* post(turn(7))
      const second = yield* post(turn(7))
      const key = yield* IdGenerator.derive("conv-42", 7)
      assert.strictEqual(first.status, 200)
      assert.deepStrictEqual(first.body, { reply, status: "success", idempotencyKey: key })
      assert.deepStrictEqual(second, first)
      const chats = yield* chatRequests
      assert.deepStrictEqual(chats.map((r) => [r.idempotencyKey, r.status, r.replayed]), [
        [key, 200, false],
        [key, 200, true]
      ])

      const next = yield* post(turn(8))
      assert.strictEqual(next.body.idempotencyKey, yield* IdGenerator.derive("conv-42", 8))
      assert.notStrictEqual(next.body.idempotencyKey, key)
    }).pipe(Effect.provide(stack())))

  it.scoped("works through the contracts and configuration of examples/data-action/README.md", () =>
    Effect.gen(function*() {
      const history = JSON.stringify([
        { role: "user", content: "Hello" },
        { role: "agent", content: "Hi! How can I help?" }
      ])
      const raw = yield* runAction(turn(1, { history }), block("response"))
      assert.strictEqual(raw.path, "success")
      assert.deepStrictEqual(raw.body, {
        reply,
        status: "success",
        idempotencyKey: yield* IdGenerator.derive("conv-42", 1)
      })
      const mapped = yield* runAction(turn(1, { history }), block("response-mapped"))
      assert.deepStrictEqual(mapped, raw)

      const blocked = yield* runAction(
        turn(2, { customerMessage: "Charge 4111 1111 1111 1111 again" }),
        block("response")
      )
      assert.strictEqual(blocked.path, "failure")
      assert.strictEqual(blocked.status, 422)
    }).pipe(Effect.provide(stack())))

  it.scoped("builds the same prompt from history as a JSON string or an array, from no history or an empty one, and trims", () =>
    Effect.gen(function*() {
      const history = [{ role: "user", content: "Hello" }, { role: "agent", content: "Hi! How can I help?" }]
      const asString = yield* post(turn(1, { history: JSON.stringify(history) }))
      const asArray = yield* post(turn(2, { history }))
      const empty = yield* post(turn(3, { history: "" }))
      const none = yield* post(turn(4))
      const spaced = yield* post(turn(5, { customerMessage: "  Where is my order 1042?\n" }))
      assert.deepStrictEqual(
        [asString.status, asArray.status, empty.status, none.status, spaced.status],
        [200, 200, 200, 200, 200]
      )
      const [a, b, c, d, e] = yield* chatRequests
      // The body sent to the gateway, compared by its hash: the key differs per turn, the prompt does not.
      assert.strictEqual(a.bodySha256, b.bodySha256)
      assert.strictEqual(c.bodySha256, d.bodySha256)
      assert.strictEqual(d.bodySha256, e.bodySha256)
      assert.notStrictEqual(a.bodySha256, c.bodySha256)
    }).pipe(Effect.provide(stack())))

  it.scoped("refuses malformed and over-long input with 400 naming the field, and sends nothing", () =>
    Effect.gen(function*() {
      for (const [field, value] of [["turn", -1], ["history", "not json"], ["customerMessage", " "]] as const) {
        const shape = yield* post(turn(1, { [field]: value }))
        assert.strictEqual(shape.status, 400)
        assert.strictEqual(shape.body._tag, "InvalidInput")
        assert.deepStrictEqual(fields(shape.body), [field])
      }
      const notJson = yield* post("{\"conversationId\": ")
      assert.deepStrictEqual([notJson.status, notJson.body._tag, notJson.body.message], [
        400,
        "InvalidInput",
        "the body is not valid JSON"
      ])

      const long = yield* post(turn(1, { customerMessage: "x".repeat(4001) }))
      assert.strictEqual(long.status, 400)
      assert.strictEqual(long.body._tag, "InvalidInput")
      assert.deepStrictEqual((long.body.issues as Array<{ field: string }>).map((i) => i.field), ["customerMessage"])

      const history = JSON.stringify([{ role: "user", content: "ok" }, { role: "agent", content: "y".repeat(4001) }])
      const longHistory = yield* post(turn(2, { history }))
      assert.strictEqual(longHistory.status, 400)
      assert.deepStrictEqual((longHistory.body.issues as Array<{ field: string }>).map((i) => i.field), [
        "history[1].content"
      ])
      assert.strictEqual((yield* chatRequests).length, 0)
    }).pipe(Effect.provide(stack())))

  it.scoped("answers a request of 330,000 bad history items (10 MB) with a short 400 that counts what was sent", () =>
    Effect.gen(function*() {
      const history = Array.from({ length: 330_000 }, () => ({ role: "robot", content: 1 }))
      const big = yield* postRaw(JSON.stringify(turn(1, { history })))
      assert.strictEqual(big.status, 400)
      assert.isBelow(big.text.length, 1000)
      const body = JSON.parse(big.text)
      assert.strictEqual(body._tag, "InvalidInput")
      assert.deepStrictEqual(fields(body), ["history"])
      assert.include(body.message, `history must have at most ${DataAction.maxHistoryMessages} items, got 330000`)
      assert.strictEqual((yield* chatRequests).length, 0)
    }).pipe(Effect.provide(stack())))

  it.scoped("lists the first 20 problems of a request and counts the others", () =>
    Effect.gen(function*() {
      const history = Array.from({ length: DataAction.maxHistoryMessages }, () => ({ role: "robot", content: 1 }))
      const many = yield* postRaw(JSON.stringify(turn(1, { history })))
      assert.strictEqual(many.status, 400)
      assert.isBelow(many.text.length, 4000)
      const body = JSON.parse(many.text)
      assert.strictEqual(body.issues.length, 20)
      assert.strictEqual(body.omittedIssues, 2 * DataAction.maxHistoryMessages - 20)
      assert.deepStrictEqual(fields(body).slice(0, 2), ["history[0].role", "history[0].content"])
      assert.include(body.message, `and ${2 * DataAction.maxHistoryMessages - 20} more`)
    }).pipe(Effect.provide(stack())))

  it.scoped("never repeats a card number sent in a wrong field", () =>
    Effect.gen(function*() {
      const card = "4111111111111111"
      const wrong: ReadonlyArray<Record<string, unknown>> = [
        turn(1, { turn: "4111 1111 1111 1111" }),
        turn(1, { turn: Number(card) + 0.5 }),
        turn(1, { turn: -Number(card) }),
        turn(1, { conversationId: Number(card) }),
        turn(1, { customerMessage: Number(card) }),
        turn(1, { history: [{ role: card, content: "x" }] }),
        turn(1, { history: [{ role: "user", content: Number(card) }] }),
        turn(1, { history: card }),
        turn(1, { history: { card } }),
        turn(1, { history: JSON.stringify([{ role: "user", content: card.repeat(300) }]) }),
        { conversationId: card }
      ]
      for (const body of wrong) {
        const answer = yield* postRaw(JSON.stringify(body))
        assert.strictEqual(answer.status, 400, answer.text)
        assert.notInclude(answer.text, "4111", answer.text)
      }
      assert.strictEqual((yield* chatRequests).length, 0)
    }).pipe(Effect.provide(stack())))

  it.scoped("trims a long history to the newest messages instead of refusing it", () =>
    Effect.gen(function*() {
      const history = Array.from({ length: 30 }, (_, i) => ({ role: i % 2 === 0 ? "user" : "agent", content: `m${i}` }))
      const answer = yield* post(turn(1, { history: JSON.stringify(history) }))
      assert.strictEqual(answer.status, 200)
      const [chat] = yield* chatRequests
      // The newest 24 of the history and the customer's message: the context window's 25.
      const sent = Prompt.toJson({
        systemInstructions: options.systemInstructions,
        context: [...history.slice(6), { role: "user", content: turn(1).customerMessage }] as Array<Prompt.ChatMessage>,
        temperature: options.temperature,
        maxTokens: options.maxTokens,
        modelId: options.modelId
      })
      assert.strictEqual(chat.bodySha256, createHash("sha256").update(sent).digest("hex"))
      const over = yield* post(turn(2, { history: Array(DataAction.maxHistoryMessages + 1).fill(history[0]) }))
      assert.strictEqual(over.status, 400)
      assert.include(over.body.message, `at most ${DataAction.maxHistoryMessages} items, got 1000`)
    }).pipe(Effect.provide(stack())))

  it.scoped("blocks a card number with 422 naming the rule, never the number, and sends nothing", () =>
    Effect.gen(function*() {
      const blocked = yield* post(turn(1, { customerMessage: "My card is 4111 1111 1111 1111" }))
      assert.strictEqual(blocked.status, 422)
      assert.strictEqual(blocked.body._tag, "Blocked")
      assert.deepStrictEqual(blocked.body.ruleIds, ["payment-card"])
      assert.notInclude(JSON.stringify(blocked.body), "4111")
      assert.strictEqual((yield* chatRequests).length, 0)
    }).pipe(Effect.provide(stack())))

  it.scoped("answers 409 when a turn comes back with a different input", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* post(turn(3))).status, 200)
      const changed = yield* post(turn(3, { customerMessage: "Actually, cancel it." }))
      assert.strictEqual(changed.status, 409)
      assert.strictEqual(changed.body._tag, "TurnConflict")
    }).pipe(Effect.provide(stack())))

  it.scoped("answers 401 without the right X-API-Key", () =>
    Effect.gen(function*() {
      const missing = yield* post(turn(1), {})
      const wrong = yield* post(turn(1), { "x-api-key": "nope" })
      assert.deepStrictEqual([missing.status, wrong.status], [401, 401])
      assert.strictEqual(missing.body._tag, "Unauthorized")
      assert.strictEqual((yield* chatRequests).length, 0)
    }).pipe(Effect.provide(stack())))

  it.scoped("says the fallback text when the answer breaks off", () =>
    Effect.gen(function*() {
      const broken = yield* post(turn(1))
      assert.strictEqual(broken.status, 200)
      assert.deepStrictEqual(broken.body, {
        reply: fallbackText,
        status: "error",
        idempotencyKey: yield* IdGenerator.derive("conv-42", 1)
      })
    }).pipe(Effect.provide(stack([{ kind: "reset", afterFrames: 2 }]))))

  // A real stall against a real deadline: on the live clock, with a short deadline; outcomes only, no durations.
  it.live("answers with the fallback text when the model is too slow", () =>
    Effect.scoped(
      Effect.gen(function*() {
        const slow = yield* post(turn(1))
        assert.strictEqual(slow.status, 200)
        assert.deepStrictEqual(slow.body, {
          reply: fallbackText,
          status: "fallback",
          idempotencyKey: yield* IdGenerator.derive("conv-42", 1)
        })
      }).pipe(
        Effect.provide(stack([{ kind: "stall", afterFrames: 0 }], { maxLatencyMillis: 300 })),
        Logger.withMinimumLogLevel(LogLevel.Warning)
      )
    ))
})
