import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as GatewaySimulator from "../src/GatewaySimulator.js"
import { type Answer, chat, chatRequest, clientLayer, payload, send, token } from "./utils.js"

const SECRET = "S3cretValue-do-not-leak"

describe("secrets", () => {
  it.scoped("error bodies and the request log never contain the client secret or a bearer token", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make({ clientSecret: SECRET, requestsPerMinute: 12 })
      const bearer = yield* token(simulator)
      const answers: Array<Answer> = []
      const keep = (answer: Answer) => Effect.sync(() => answers.push(answer))
      const form = (params: Record<string, string>) =>
        HttpClientRequest.post(simulator.tokenUrl).pipe(HttpClientRequest.bodyUrlParams(params))

      // Token route: the secret with a wrong id, a wrong grant, two methods at once, the secret in a 404 path.
      yield* keep(yield* send(form({ grant_type: "client_credentials", client_id: "x", client_secret: SECRET })))
      yield* keep(
        yield* send(form({ grant_type: "password", client_id: "simulator-client", client_secret: SECRET }))
      )
      yield* keep(
        yield* send(
          form({ grant_type: "client_credentials", client_id: "simulator-client", client_secret: SECRET }).pipe(
            HttpClientRequest.basicAuth("simulator-client", SECRET)
          )
        )
      )
      yield* keep(yield* send(HttpClientRequest.post(`${simulator.url}/oauth/${SECRET}`)))
      yield* keep(yield* send(HttpClientRequest.get(`${simulator.url}/api/${encodeURIComponent(bearer)}/x`)))

      // Chat route: the secret and the token as prompt text, as the key, in a failing payload, a 422, a 429,
      // an expired token and a status fault.
      const sneaky = payload(`my secret is ${SECRET} and my token ${bearer}`)
      yield* keep(yield* chat(simulator, bearer, sneaky, "k1"))
      yield* keep(yield* chat(simulator, bearer, { ...sneaky, temperature: SECRET, modelId: bearer }, "k2"))
      yield* keep(yield* chat(simulator, bearer, { ...sneaky, context: [{ role: SECRET, content: bearer }] }, "k3"))
      yield* keep(yield* chat(simulator, bearer, payload("other"), "k1"))
      yield* keep(yield* chat(simulator, bearer, sneaky, bearer))
      yield* keep(yield* chat(simulator, bearer, sneaky, SECRET))
      yield* keep(
        yield* send(
          chatRequest(simulator, bearer, sneaky, "k4").pipe(HttpClientRequest.setHeader("Content-Type", "text/plain"))
        )
      )
      yield* keep(yield* chat(simulator, `${bearer}x`, sneaky, "k5"))
      yield* simulator.control.enqueue({ kind: "status", status: 500 }, { kind: "expireToken" })
      yield* keep(yield* chat(simulator, bearer, sneaky, "k6"))
      yield* keep(yield* chat(simulator, bearer, sneaky, "k7"))
      const fresh = yield* token(simulator)
      for (let i = 0; i < 13; i++) yield* keep(yield* chat(simulator, fresh, sneaky, `r${i}`))

      const statuses = new Set(answers.map((a) => a.status))
      for (const status of [200, 400, 401, 404, 415, 422, 429, 500]) assert.isTrue(statuses.has(status), `${status}`)

      const log = (yield* send(HttpClientRequest.get(`${simulator.url}/__simulator/requests`))).text
      const faults = (yield* send(HttpClientRequest.get(`${simulator.url}/__simulator/faults`))).text
      const everything = [...answers.map((a) => `${JSON.stringify(a.headers)}\n${a.text}`), log, faults]
      for (const text of everything) {
        for (const secret of [SECRET, encodeURIComponent(SECRET), bearer, fresh]) {
          assert.notInclude(text, secret)
        }
      }
      assert.include(log, "<redacted>")
    }).pipe(Effect.provide(clientLayer)))
})
