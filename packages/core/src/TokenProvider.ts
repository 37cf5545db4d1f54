/**
 * OAuth client-credentials tokens for the gateway, cached and shared.
 *
 * Policy, in short:
 * - One token is cached and handed to every caller until `expires_in - skew` has passed (the skew is at most half
 *   of the lifetime, so that a short-lived token is still reused). After that the next caller fetches a new one.
 * - Concurrent callers share one in-flight fetch: fifty callers on an empty cache make one token request. The fetch
 *   runs in its own fiber, so a caller that is interrupted does not cancel it for the others.
 * - A failed fetch is not cached: its waiters get the error, the next caller tries again.
 * - `invalidate(token)` drops the cached token only if it is the one given (compared by identity), so a late
 *   invalidation from a caller that saw an old token never drops a newer one; a fetch only stores its result if
 *   no other fetch replaced it in the meantime (a generation counter).
 * - An `expires_in` that is missing, zero, negative or not a number means the lifetime is unknown: the token is
 *   handed to the callers waiting for that fetch and not cached (never risk using an expired token).
 * - A token request is bounded by `requestTimeoutMillis`, so a hanging login server cannot hold every caller.
 * - When the context has a `TokenStore` (such as the Redis one of `@genesys-llm/redis`), a token this provider has
 *   not got is asked of the store, which shares it between processes and runs the login request in one of them at
 *   a time; `invalidate` also drops it there, if the store still holds that token. Without one, the provider asks
 *   the login server itself.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { AuthenticationFailed, type AuthError, TokenRequestFailed } from "./GatewayError.js"
import { defined } from "./internal/defined.js"
import * as Http from "./internal/http.js"
import * as Secrets from "./internal/secrets.js"
import * as Text from "./internal/text.js"
import * as TokenStore from "./TokenStore.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The current access token, fetched when there is none or it is about to expire. */
  readonly get: Effect.Effect<Redacted.Redacted<string>, AuthError>
  /** Drops `token` from the cache if it is still the cached one (after the gateway answered 401 to it). */
  readonly invalidate: (token: Redacted.Redacted<string>) => Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category context
 */
export class TokenProvider extends Context.Tag("@genesys-llm/core/TokenProvider")<TokenProvider, Service>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The login base URL, such as `https://login.mypurecloud.com`. */
  readonly loginUrl: string
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  /** How long before `expires_in` runs out a token is replaced. Default 60 000 ms. */
  readonly refreshSkewMillis?: number | undefined
  /** The bound on one token request. Default 10 000 ms. */
  readonly requestTimeoutMillis?: number | undefined
  /** Default `/oauth/token`. */
  readonly tokenPath?: string | undefined
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const defaults = {
  refreshSkewMillis: 60_000,
  requestTimeoutMillis: 10_000,
  tokenPath: "/oauth/token"
} as const

/**
 * Encodes a value as `application/x-www-form-urlencoded` (RFC 6749 section 2.3.1): a space becomes `+`, and `+`,
 * `%`, `:` and every other reserved character are percent-encoded.
 *
 * @since 0.1.0
 * @category utils
 */
export const formUrlEncode = (value: string): string => new URLSearchParams([["", value]]).toString().slice(1)

/**
 * The value of the `Authorization` header of a token request:
 * `Basic base64(formUrlEncode(id) ":" formUrlEncode(secret))`.
 *
 * @since 0.1.0
 * @category utils
 */
export const basicAuthorization = (clientId: string, clientSecret: Redacted.Redacted<string>): Redacted.Redacted<
  string
> =>
  Redacted.make(
    `Basic ${Encoding.encodeBase64(`${formUrlEncode(clientId)}:${formUrlEncode(Redacted.value(clientSecret))}`)}`
  )

const TokenResponse = Schema.Struct({
  access_token: Schema.String.pipe(Schema.minLength(1)),
  token_type: Schema.optional(Schema.String),
  expires_in: Schema.optional(Schema.Unknown)
})

/**
 * The lifetime in milliseconds of an `expires_in` value (seconds, a number or a numeric string), or `undefined` when
 * it is missing, zero, negative or not a number.
 *
 * @since 0.1.0
 * @category utils
 */
export const lifetimeMillis = (expiresIn: unknown): number | undefined => {
  const seconds = typeof expiresIn === "number"
    ? expiresIn
    : typeof expiresIn === "string" && expiresIn.trim().length > 0
    ? Number(expiresIn)
    : Number.NaN
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined
}

/**
 * When a token obtained at `obtainedAt` with the given lifetime should be replaced.
 *
 * @since 0.1.0
 * @category utils
 */
export const refreshAt = (obtainedAt: number, lifetime: number, skewMillis: number): number =>
  obtainedAt + lifetime - Math.min(Math.max(0, skewMillis), lifetime / 2)

type State =
  | { readonly _tag: "Empty"; readonly generation: number }
  | {
    readonly _tag: "Fetching"
    readonly generation: number
    readonly deferred: Deferred.Deferred<Redacted.Redacted<string>, AuthError>
  }
  | {
    readonly _tag: "Ready"
    readonly generation: number
    readonly token: Redacted.Redacted<string>
    readonly refreshAt: number
  }

type Action =
  | { readonly _tag: "Hit"; readonly token: Redacted.Redacted<string> }
  | { readonly _tag: "Wait"; readonly deferred: Deferred.Deferred<Redacted.Redacted<string>, AuthError> }
  | {
    readonly _tag: "Fetch"
    readonly generation: number
    readonly deferred: Deferred.Deferred<Redacted.Redacted<string>, AuthError>
  }

interface Fetched {
  readonly token: Redacted.Redacted<string>
  readonly lifetime: number | undefined
}

// A fetched token with its refresh time, taken when the answer arrived.
const toEntry = (skew: number) => (fetched: Fetched): Effect.Effect<TokenStore.Entry> =>
  Effect.map(Clock.currentTimeMillis, (now) => ({
    token: fetched.token,
    refreshAt: fetched.lifetime === undefined ? undefined : refreshAt(now, fetched.lifetime, skew)
  }))

/**
 * Builds a token provider over the `HttpClient` in context, and the `TokenStore` in context if there is one. Its
 * fetches run in fibers of the given scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const scope = yield* Effect.scope
    const skew = options.refreshSkewMillis ?? defaults.refreshSkewMillis
    const timeout = options.requestTimeoutMillis ?? defaults.requestTimeoutMillis
    const url = `${options.loginUrl.replace(/\/+$/, "")}${options.tokenPath ?? defaults.tokenPath}`
    const authorization = basicAuthorization(options.clientId, options.clientSecret)
    // Every form of the secret a server could echo back: an error keeps nothing of a login server's text, and its
    // debug copy of the body is scrubbed of these.
    const secrets = Secrets.combine(
      Secrets.formsOf(Redacted.value(options.clientSecret)),
      Secrets.formsOf(Redacted.value(authorization).slice("Basic ".length), ["Basic "])
    )
    const state = yield* Ref.make<State>({ _tag: "Empty", generation: 0 })
    const store = Option.getOrElse(yield* Effect.serviceOption(TokenStore.TokenStore), () => TokenStore.local)
    const key: TokenStore.Key = { loginUrl: options.loginUrl.replace(/\/+$/, ""), clientId: options.clientId }

    const request = Effect.sync(() =>
      HttpClientRequest.post(url).pipe(
        HttpClientRequest.setHeaders({ authorization: Redacted.value(authorization), accept: "application/json" }),
        HttpClientRequest.bodyText("grant_type=client_credentials", "application/x-www-form-urlencoded")
      )
    )

    const fetchToken: Effect.Effect<Fetched, AuthError> = Effect.gen(function*() {
      const response = yield* Effect.flatMap(request, client.execute).pipe(
        Effect.mapError((error) =>
          new TokenRequestFailed({
            reason: "transport",
            description: Text.describeConnectionFailure("the login server could not be reached", error)
          })
        )
      )
      // Token answers are small; 64 KiB leaves room for large JWTs while bounding a hostile answer.
      const text = yield* Http.readCapped(response, 64 * 1024).pipe(
        Effect.mapError((error) =>
          new TokenRequestFailed({
            reason: "transport",
            status: response.status,
            description: Text.describeConnectionFailure("the token answer broke", error)
          })
        )
      )
      if (response.status === 400 || response.status === 401 || response.status === 403) {
        const body = Http.parseErrorBody(text, secrets)
        return yield* new AuthenticationFailed(defined({ source: "login", status: response.status, code: body.code }))
      }
      if (response.status < 200 || response.status > 299) {
        const body = Http.parseErrorBody(text, secrets)
        return yield* new TokenRequestFailed(defined({
          reason: "status",
          status: response.status,
          code: body.code,
          description: "the login server answered with an error",
          responseBody: body.body
        }))
      }
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        json = undefined
      }
      const decoded = Schema.decodeUnknownEither(TokenResponse)(json)
      if (Either.isLeft(decoded)) {
        return yield* new TokenRequestFailed({
          reason: "malformed",
          status: response.status,
          description: "the token answer is not a JSON object with an access_token"
        })
      }
      const lifetime = lifetimeMillis(decoded.right.expires_in)
      if (lifetime === undefined) {
        yield* Effect.logWarning("the token answer has no usable expires_in; the token is used once, not cached")
      } else {
        yield* Effect.logDebug("access token fetched").pipe(
          Effect.annotateLogs("expiresInMillis", lifetime)
        )
      }
      return { token: Redacted.make(decoded.right.access_token), lifetime }
    }).pipe(
      Effect.timeoutFail({
        duration: Duration.millis(timeout),
        onTimeout: () => new TokenRequestFailed({ reason: "timeout", description: `no answer within ${timeout} ms` })
      }),
      Effect.withSpan("TokenProvider.fetch")
    )

    const fetchEntry = store.get(key, Effect.flatMap(fetchToken, toEntry(skew)))

    // Stores the result only if the state still belongs to this fetch, then wakes its waiters.
    const settle = (
      generation: number,
      deferred: Deferred.Deferred<Redacted.Redacted<string>, AuthError>,
      exit: Exit.Exit<TokenStore.Entry, AuthError>
    ) =>
      Effect.gen(function*() {
        yield* Ref.update(state, (s): State => {
          if (s._tag !== "Fetching" || s.generation !== generation) return s
          if (Exit.isSuccess(exit) && exit.value.refreshAt !== undefined) {
            return { _tag: "Ready", generation, token: exit.value.token, refreshAt: exit.value.refreshAt }
          }
          return { _tag: "Empty", generation }
        })
        yield* Deferred.done(deferred, Exit.map(exit, (entry) => entry.token))
      })

    // Runs in its own fiber. If that fiber is interrupted (the provider's scope closes), the waiters are
    // interrupted too rather than left waiting.
    const runFetch = (
      generation: number,
      deferred: Deferred.Deferred<Redacted.Redacted<string>, AuthError>
    ) =>
      Effect.exit(fetchEntry).pipe(
        Effect.flatMap((exit) => settle(generation, deferred, exit)),
        Effect.onInterrupt((interruptors) =>
          settle(generation, deferred, Exit.interrupt(FiberId.combineAll(interruptors)))
        )
      )

    const get = Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const fiberId = yield* Effect.fiberId
        const action = yield* Ref.modify(state, (s): readonly [Action, State] => {
          if (s._tag === "Ready" && now < s.refreshAt) return [{ _tag: "Hit", token: s.token }, s]
          if (s._tag === "Fetching") return [{ _tag: "Wait", deferred: s.deferred }, s]
          const generation = s.generation + 1
          const deferred = Deferred.unsafeMake<Redacted.Redacted<string>, AuthError>(fiberId)
          return [{ _tag: "Fetch", generation, deferred }, { _tag: "Fetching", generation, deferred }]
        })
        switch (action._tag) {
          case "Hit":
            return action.token
          case "Wait":
            return yield* restore(Deferred.await(action.deferred))
          case "Fetch": {
            // Forked while uninterruptible, so a Fetching state always has a fiber that completes it; the fiber
            // itself must be interruptible, or its timeout could not stop a hanging request.
            yield* Effect.forkIn(Effect.interruptible(runFetch(action.generation, action.deferred)), scope)
            return yield* restore(Deferred.await(action.deferred))
          }
        }
      })
    ).pipe(Effect.withSpan("TokenProvider.get", { captureStackTrace: false }))

    const invalidate = (token: Redacted.Redacted<string>) =>
      Ref.update(
        state,
        (s): State => s._tag === "Ready" && s.token === token ? { _tag: "Empty", generation: s.generation + 1 } : s
      ).pipe(Effect.zipRight(store.invalidate(key, token)))

    return { get, invalidate } satisfies Service
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<TokenProvider, never, HttpClient.HttpClient> =>
  Layer.scoped(TokenProvider, make(options))

/**
 * A provider that always gives the same token, for a token obtained elsewhere and for tests. `invalidate` does
 * nothing: a 401 to this token ends the call with `AuthenticationFailed`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStatic = (token: Redacted.Redacted<string>): Layer.Layer<TokenProvider> =>
  Layer.succeed(TokenProvider, { get: Effect.succeed(token), invalidate: () => Effect.void })
