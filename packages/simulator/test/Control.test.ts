import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as GatewaySimulator from "../src/GatewaySimulator.js"
import { chat, clientLayer, payload, send, token } from "./utils.js"

const postJson = (url: string, body: unknown) =>
  send(
    HttpClientRequest.post(url).pipe(
      HttpClientRequest.bodyText(typeof body === "string" ? body : JSON.stringify(body), "application/json")
    )
  )

const decodeSettings = Schema.decodeUnknownSync(Schema.parseJson(GatewaySimulator.FaultSettings))
const decodeRecords = Schema.decodeUnknownSync(Schema.parseJson(Schema.Array(GatewaySimulator.RequestRecord)))

describe("control API", () => {
  it.scoped("POST /__simulator/faults queues one fault or an array, or sets a rate; GET shows them", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make()
      const faults = `${simulator.url}/__simulator/faults`
      const one = yield* postJson(faults, { kind: "reset", afterFrames: 2 })
      assert.strictEqual(one.status, 200)
      assert.deepStrictEqual(decodeSettings(one.text).queue, [{ kind: "reset", afterFrames: 2 }])
      yield* postJson(faults, [{ kind: "crlf" }, { kind: "status", status: 429, retryAfterSeconds: 3 }])
      const rate = yield* postJson(faults, { rate: 0.25, pool: [{ kind: "hangup" }], seed: 9 })
      const settings = decodeSettings(rate.text)
      assert.deepStrictEqual(settings, {
        queue: [{ kind: "reset", afterFrames: 2 }, { kind: "crlf" }, {
          kind: "status",
          status: 429,
          retryAfterSeconds: 3
        }],
        rate: 0.25,
        pool: [{ kind: "hangup" }],
        seed: 9
      })
      assert.deepStrictEqual(decodeSettings((yield* send(HttpClientRequest.get(faults))).text), settings)
      assert.deepStrictEqual(yield* simulator.control.faults, settings)
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("rejects an invalid fault with 400 naming the problem, and queues nothing", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make()
      const faults = `${simulator.url}/__simulator/faults`
      const cases: ReadonlyArray<readonly [unknown, string]> = [
        [{ kind: "status", status: 200 }, "status"],
        [{ kind: "explode" }, "kind"],
        [{ kind: "crlf", extra: true }, "extra"],
        [{ kind: "reset" }, "afterFrames"],
        [{ kind: "slice", bytes: 0 }, "bytes"],
        [{ kind: "malformedFrame", line: "a\nb" }, "line"],
        [[{ kind: "crlf" }, { kind: "stall", afterFrames: -1 }], "[1].afterFrames"],
        [{ rate: 2 }, "rate"]
      ]
      for (const [body, path] of cases) {
        const answer = yield* postJson(faults, body)
        assert.strictEqual(answer.status, 400, JSON.stringify(body))
        const error = JSON.parse(answer.text)
        assert.strictEqual(error.status, 400)
        assert.strictEqual(error.contextId, answer.headers["inin-correlation-id"])
        assert.deepStrictEqual(
          [...new Set(error.details.map((d: { path: string }) => d.path))],
          [path],
          `${JSON.stringify(body)}: ${answer.text}`
        )
        assert.include(error.message, `${path}: `)
      }
      const notJson = yield* postJson(faults, "{kind:")
      assert.strictEqual(notJson.status, 400)
      assert.include(JSON.parse(notJson.text).message, "JSON")
      assert.strictEqual((yield* postJson(faults, "")).status, 400)
      assert.deepStrictEqual((yield* simulator.control.faults).queue, [])
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("GET /__simulator/requests lists the token and chat requests, not the control calls", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make()
      const bearer = yield* token(simulator)
      yield* postJson(`${simulator.url}/__simulator/faults`, { kind: "status", status: 503 })
      yield* chat(simulator, bearer, payload(), "key-a")
      yield* chat(simulator, bearer, payload(), "key-a")
      const records = decodeRecords((yield* send(HttpClientRequest.get(`${simulator.url}/__simulator/requests`))).text)
      assert.deepStrictEqual(
        records.map((r) => [r.id, r.method, r.path, r.idempotencyKey, r.status, r.fault, r.outcome]),
        [
          [1, "POST", "/oauth/token", null, 200, null, "token issued"],
          [2, "POST", "/api/v2/ai/llm-gateway/chat", "key-a", 503, "status", "fault"],
          [3, "POST", "/api/v2/ai/llm-gateway/chat", "key-a", 200, null, "completed"]
        ]
      )
      assert.isNull(records[0].bodySha256)
      assert.match(records[2].bodySha256!, /^[0-9a-f]{64}$/)
      assert.match(records[2].receivedAt, /^\d{4}-\d\d-\d\dT/)
      assert.deepStrictEqual(yield* simulator.control.requests, records)
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("POST /__simulator/reset clears faults, keys, rate windows and the log", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make({ requestsPerMinute: 1 })
      const bearer = yield* token(simulator)
      assert.strictEqual((yield* chat(simulator, bearer, payload("one"), "key")).status, 200)
      assert.strictEqual((yield* chat(simulator, bearer, payload("two"), "key")).status, 429)
      yield* simulator.control.enqueue({ kind: "status", status: 500 })
      const reset = yield* send(HttpClientRequest.post(`${simulator.url}/__simulator/reset`))
      assert.strictEqual(reset.status, 200)
      assert.deepStrictEqual((yield* simulator.control.faults).queue, [])
      assert.deepStrictEqual(yield* simulator.control.requests, [])
      // The window and the key are gone: another body under the same key is a fresh answer, not a 422.
      assert.strictEqual((yield* chat(simulator, bearer, payload("two"), "key")).status, 200)
      const [record] = yield* simulator.control.requests
      assert.deepStrictEqual([record.id, record.replayed], [1, false])
    }).pipe(Effect.provide(clientLayer)))
})

describe("options", () => {
  it.effect("invalid options fail with SimulatorError naming each one, never the secret's value", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        GatewaySimulator.make({
          port: 70_000,
          paceMs: -1,
          prot: 1,
          clientSecret: 424242,
          faults: [{ kind: "nope" }]
        } as unknown as GatewaySimulator.OptionsInput).pipe(Effect.scoped)
      )
      assert.strictEqual(error._tag, "SimulatorError")
      assert.strictEqual(error.reason, "InvalidOptions")
      for (const path of ["port", "paceMs", "prot", "clientSecret", "faults[0].kind"]) {
        assert.include(error.message, `${path}: `)
      }
      assert.notInclude(error.message, "424242")
    }))

  it.scoped("a port in use fails with SimulatorError Listen", () =>
    Effect.gen(function*() {
      const first = yield* GatewaySimulator.make()
      const port = Number(new URL(first.url).port)
      const error = yield* Effect.flip(GatewaySimulator.make({ port }).pipe(Effect.scoped))
      assert.strictEqual(error.reason, "Listen")
      assert.include(error.message, "EADDRINUSE")
    }))

  it.scoped("the service reports its URLs, credentials and decoded options", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make({ clientId: "id-1", clientSecret: "secret-1", paceMs: 0 })
      assert.match(simulator.url, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.strictEqual(simulator.tokenUrl, `${simulator.url}/oauth/token`)
      assert.strictEqual(simulator.chatUrl, `${simulator.url}/api/v2/ai/llm-gateway/chat`)
      assert.strictEqual(simulator.credentials.clientId, "id-1")
      assert.notInclude(String(simulator.credentials.clientSecret), "secret-1")
      assert.notInclude(JSON.stringify(simulator.options), "secret-1")
      assert.strictEqual(simulator.options.requestsPerMinute, 300)
    }))
})

describe("GatewaySimulator.layer", () => {
  it.layer(GatewaySimulator.layer({ replyText: "from the layer" }))((it) => {
    it.scoped("provides a running simulator through its tag", () =>
      Effect.gen(function*() {
        const simulator = yield* GatewaySimulator.GatewaySimulator
        const bearer = yield* token(simulator)
        const answer = yield* chat(simulator, bearer, payload(), "k")
        assert.include(answer.text, "from the layer")
      }).pipe(Effect.provide(clientLayer)))
  })
})
