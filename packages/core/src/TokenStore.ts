/**
 * Where access tokens are kept beyond one `TokenProvider`: the seam through which several processes share one token
 * per OAuth client (`@genesys-llm/redis` provides a Redis store).
 *
 * A `TokenProvider` caches its token in its own memory and coalesces its own callers in any case. When it needs a
 * token it has not got, it asks the `TokenStore` in its context, handing it the request to the login server: a store
 * gives the token it keeps for that client while it is fresh, or runs the request (at most one holder at a time, in a
 * store shared between processes) and keeps the answer until its refresh time. When the context has no store, the
 * provider asks the login server itself (`local`): one token per provider, as before the seam existed.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as SynchronizedRef from "effect/SynchronizedRef"
import type { AuthError } from "./GatewayError.js"

/**
 * Which token: a client of a login server. A store that writes outside the process must not write the client id as
 * it is, and never sees the secret.
 *
 * @since 0.1.0
 * @category models
 */
export interface Key {
  /** The login base URL, without a trailing slash. */
  readonly loginUrl: string
  readonly clientId: string
}

/**
 * A token and when it should be replaced (epoch milliseconds on the `Clock`); `undefined` when its lifetime is
 * unknown, so it is used by the callers that waited for it and kept nowhere.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly token: Redacted.Redacted<string>
  readonly refreshAt: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * The kept token of `key` while `Clock` time is before its `refreshAt`, else the result of `fetch`, kept until its
   * own `refreshAt`. A shared store runs `fetch` in one of its users at a time; the others wait for its result.
   */
  readonly get: (key: Key, fetch: Effect.Effect<Entry, AuthError>) => Effect.Effect<Entry, AuthError>
  /** Drops the kept token of `key` if it is still `token` (compared by value): the gateway answered 401 to it. */
  readonly invalidate: (key: Key, token: Redacted.Redacted<string>) => Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category context
 */
export class TokenStore extends Context.Tag("@genesys-llm/core/TokenStore")<TokenStore, Service>() {}

/**
 * No store: every request goes to the login server, and the provider's own cache is the only one. What a provider
 * uses when its context has no `TokenStore`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const local: Service = {
  get: (_key, fetch) => fetch,
  invalidate: () => Effect.void
}

/**
 * A string naming a key, for maps and for stores that hash it.
 *
 * @since 0.1.0
 * @category utils
 */
export const keyString = (key: Key): string => JSON.stringify([key.loginUrl, key.clientId])

/**
 * A store in the memory of one process: the providers of several layers (several gateways of one client) share one
 * token. Fetches are serialised, for every key at once: a process has few clients, and a fetch is rare.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<Service> = Effect.map(
  SynchronizedRef.make(new Map<string, Entry & { readonly refreshAt: number }>()),
  (ref): Service => ({
    get: (key, fetch) =>
      SynchronizedRef.modifyEffect(ref, (entries) =>
        Effect.gen(function*() {
          const name = keyString(key)
          const kept = entries.get(name)
          if (kept !== undefined && (yield* Clock.currentTimeMillis) < kept.refreshAt) {
            return [kept, entries] as const
          }
          const entry = yield* fetch
          const next = new Map(entries)
          if (entry.refreshAt === undefined) next.delete(name)
          else next.set(name, { token: entry.token, refreshAt: entry.refreshAt })
          return [entry, next] as const
        })),
    invalidate: (key, token) =>
      SynchronizedRef.update(ref, (entries) => {
        const name = keyString(key)
        const kept = entries.get(name)
        if (kept === undefined || !sameToken(kept.token, token)) return entries
        const next = new Map(entries)
        next.delete(name)
        return next
      })
  })
)

/**
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<TokenStore> = Layer.effect(TokenStore, makeMemory)

const sameToken = (a: Redacted.Redacted<string>, b: Redacted.Redacted<string>): boolean =>
  a === b || Redacted.value(a) === Redacted.value(b)
