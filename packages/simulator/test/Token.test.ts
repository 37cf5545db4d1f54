import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as GatewaySimulator from "../src/GatewaySimulator.js"
import { chat, clientLayer, payload, send, token, tokenRequest } from "./utils.js"

const SECRET = "p@ss:w rd+/é"

const form = (simulator: GatewaySimulator.Service, params: Record<string, string>) =>
  HttpClientRequest.post(simulator.tokenUrl).pipe(HttpClientRequest.bodyUrlParams(params))

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`

describe("POST /oauth/token", () => {
  it.scoped("issues a bearer token for Basic credentials, form-url-encoded as RFC 6749 2.3.1 says", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make({ clientId: "my client", clientSecret: SECRET })
      const answer = yield* send(
        form(simulator, { grant_type: "client_credentials" }).pipe(
          HttpClientRequest.setHeader("Authorization", basic("my client", SECRET))
        )
      )
      assert.strictEqual(answer.status, 200)
      const body = JSON.parse(answer.text)
      assert.strictEqual(body.token_type, "bearer")
      assert.strictEqual(body.expires_in, 86_400)
      assert.match(body.access_token, /^sim-[A-Za-z0-9_-]{32}$/)
      assert.strictEqual(answer.headers["cache-control"], "no-store")
      assert.isString(answer.headers["inin-correlation-id"])
      // The token works on the chat route.
      const reply = yield* chat(simulator, body.access_token, payload(), "k-basic")
      assert.strictEqual(reply.status, 200)
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("accepts the credentials in the form body", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make({ clientSecret: SECRET })
      const answer = yield* send(
        form(simulator, { grant_type: "client_credentials", client_id: "simulator-client", client_secret: SECRET })
      )
      assert.strictEqual(answer.status, 200)
      assert.strictEqual(JSON.parse(answer.text).expires_in, 86_400)
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("rejects wrong, missing or malformed credentials with a Genesys-shaped 401", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make({ clientSecret: SECRET, tokenLifetimeSeconds: 60 })
      const grant = { grant_type: "client_credentials" }
      const answers = [
        yield* send(form(simulator, grant).pipe(HttpClientRequest.setHeader("Authorization", basic("x", SECRET)))),
        yield* send(
          form(simulator, grant).pipe(HttpClientRequest.setHeader("Authorization", basic("simulator-client", "no")))
        ),
        yield* send(form(simulator, { ...grant, client_id: "simulator-client", client_secret: "nope" })),
        yield* send(form(simulator, grant)),
        yield* send(form(simulator, grant).pipe(HttpClientRequest.setHeader("Authorization", "Basic !!!"))),
        yield* send(form(simulator, grant).pipe(HttpClientRequest.setHeader("Authorization", "Bearer abc")))
      ]
      for (const answer of answers) {
        assert.strictEqual(answer.status, 401)
        const body = JSON.parse(answer.text)
        assert.deepStrictEqual(Object.keys(body).sort(), [
          "code",
          "contextId",
          "error",
          "error_description",
          "message",
          "status"
        ])
        assert.strictEqual(body.status, 401)
        assert.strictEqual(body.error, "invalid_client")
        assert.strictEqual(body.contextId, answer.headers["inin-correlation-id"])
        assert.include(answer.headers["www-authenticate"], "Basic")
        assert.notInclude(answer.text, SECRET)
        assert.notInclude(answer.text, "nope")
      }
      const outcomes = (yield* simulator.control.requests).map((r) => r.outcome)
      assert.deepStrictEqual(outcomes, [
        "invalid credentials",
        "invalid credentials",
        "invalid credentials",
        "missing credentials",
        "malformed credentials",
        "malformed credentials"
      ])
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("answers 400 for a missing or unsupported grant, two auth methods, or a non-form body", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make()
      const auth = HttpClientRequest.setHeader("Authorization", basic("simulator-client", "simulator-secret"))
      const missing = yield* send(form(simulator, {}).pipe(auth))
      assert.strictEqual(missing.status, 400)
      assert.strictEqual(JSON.parse(missing.text).error, "invalid_request")
      const password = yield* send(form(simulator, { grant_type: "password" }).pipe(auth))
      assert.strictEqual(password.status, 400)
      assert.strictEqual(JSON.parse(password.text).error, "unsupported_grant_type")
      const both = yield* send(
        form(simulator, { grant_type: "client_credentials", client_id: "simulator-client" }).pipe(auth)
      )
      assert.strictEqual(both.status, 400)
      assert.strictEqual(JSON.parse(both.text).error, "invalid_request")
      const json = yield* send(
        HttpClientRequest.post(simulator.tokenUrl).pipe(
          auth,
          HttpClientRequest.bodyUnsafeJson({ grant_type: "client_credentials" })
        )
      )
      assert.strictEqual(json.status, 400)
      assert.include(JSON.parse(json.text).message, "application/x-www-form-urlencoded")
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("tokens expire on the server's clock (TestClock)", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make({ tokenLifetimeSeconds: 300 })
      const bearer = yield* token(simulator)
      assert.strictEqual(JSON.parse((yield* send(tokenRequest(simulator))).text).expires_in, 300)

      yield* TestClock.adjust("299 seconds")
      assert.strictEqual((yield* chat(simulator, bearer, payload(), "k1")).status, 200)

      yield* TestClock.adjust("1 second")
      const expired = yield* chat(simulator, bearer, payload(), "k2")
      assert.strictEqual(expired.status, 401)
      assert.include(JSON.parse(expired.text).message, "expired")
      assert.include(expired.headers["www-authenticate"], "invalid_token")

      // A new token gets through, and replays the first answer for the first key.
      const fresh = yield* token(simulator)
      assert.strictEqual((yield* chat(simulator, fresh, payload(), "k2")).status, 200)
      const outcomes = (yield* simulator.control.requests).map((r) => r.outcome)
      assert.includeMembers(outcomes, ["expired token"])
    }).pipe(Effect.provide(clientLayer)))

  it.scoped("revokeTokens signs every client out; reset does not", () =>
    Effect.gen(function*() {
      const simulator = yield* GatewaySimulator.make()
      const bearer = yield* token(simulator)
      yield* simulator.control.reset
      assert.strictEqual((yield* chat(simulator, bearer, payload(), "k1")).status, 200)
      yield* simulator.control.revokeTokens
      const answer = yield* chat(simulator, bearer, payload(), "k2")
      assert.strictEqual(answer.status, 401)
      assert.include(JSON.parse(answer.text).message, "not valid")
    }).pipe(Effect.provide(clientLayer)))
})
