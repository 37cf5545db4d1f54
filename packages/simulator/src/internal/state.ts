import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Fault from "../Fault.js"
import type { ReplyPlan } from "./reply.js"

/**
 * One line of the request log. Never holds a secret, a token or a body: only its sha256.
 *
 * @internal
 */
export interface RecordFields {
  readonly id: number
  readonly receivedAt: string
  readonly method: string
  readonly path: string
  readonly correlationId: string
  readonly idempotencyKey: string | null
  readonly bodySha256: string | null
  readonly status: number | null
  readonly fault: string | null
  readonly outcome: string
  readonly replayed: boolean
  readonly frames: number | null
}

/** @internal */
export interface FaultConfig {
  readonly queue: ReadonlyArray<Fault.Fault>
  readonly rate: number
  readonly pool: ReadonlyArray<Fault.Fault>
  readonly seed: number
}

interface FaultState extends FaultConfig {
  readonly random: Random.Random
}

interface Window {
  readonly start: number
  readonly count: number
}

interface Stored {
  readonly bodySha256: string
  readonly plan: ReplyPlan
  readonly seq: number
}

interface Keys {
  readonly seq: number
  readonly map: HashMap.HashMap<string, Stored>
}

interface Log {
  readonly nextId: number
  readonly entries: HashMap.HashMap<number, RecordFields>
}

/** @internal */
export type Claim =
  | { readonly _tag: "Fresh"; readonly plan: ReplyPlan }
  | { readonly _tag: "Replay"; readonly plan: ReplyPlan }
  | { readonly _tag: "Conflict" }

/** @internal */
export type TokenCheck = "valid" | "unknown" | "expired"

/** @internal */
export interface RateDecision {
  readonly limited: boolean
  readonly allowed: number
  readonly count: number
  /** Seconds until the window resets, at least 1. */
  readonly resetSeconds: number
}

const WINDOW_MS = 60_000

/** @internal */
export interface StateOptions {
  readonly initial: FaultConfig
  readonly requestsPerMinute: number
  readonly maxRequestLog: number
  readonly maxIdempotencyKeys: number
}

/**
 * The server's state, each concern in its own `Ref`: tokens, idempotency records, rate-limit windows, faults,
 * the request log. Time is read from `Clock`, randomness from a `Random` seeded by the options.
 *
 * @internal
 */
export const make = (options: StateOptions) =>
  Effect.gen(function*() {
    const faultState = (config: FaultConfig): FaultState => ({ ...config, random: Random.make(config.seed) })
    const tokens = yield* Ref.make(HashMap.empty<string, number>())
    const keys = yield* Ref.make<Keys>({ seq: 0, map: HashMap.empty() })
    const windows = yield* Ref.make(HashMap.empty<string, Window>())
    const faults = yield* Ref.make(faultState(options.initial))
    const log = yield* Ref.make<Log>({ nextId: 1, entries: HashMap.empty() })

    const issueToken = (token: string, lifetimeSeconds: number) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.update(tokens, (map) => {
          // Drop expired tokens now and then so that a long run does not grow without bound.
          const pruned = HashMap.size(map) >= 1024 ? HashMap.filter(map, (expiresAt) => expiresAt > now) : map
          return HashMap.set(pruned, token, now + lifetimeSeconds * 1000)
        }))

    const checkToken = (token: string): Effect.Effect<TokenCheck> =>
      Effect.zipWith(Ref.get(tokens), Clock.currentTimeMillis, (map, now) =>
        Option.match(HashMap.get(map, token), {
          onNone: (): TokenCheck => "unknown",
          onSome: (expiresAt): TokenCheck => (now < expiresAt ? "valid" : "expired")
        }))

    const expireToken = (token: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.update(tokens, (map) => HashMap.has(map, token) ? HashMap.set(map, token, now) : map))

    const revokeTokens = Ref.set(tokens, HashMap.empty())

    const isToken = (candidate: string) =>
      Effect.map(Ref.get(tokens), (map) => HashMap.has(map, candidate))

    const hit = (token: string): Effect.Effect<RateDecision> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.modify(windows, (map): [RateDecision, HashMap.HashMap<string, Window>] => {
          const allowed = options.requestsPerMinute
          const current = Option.getOrUndefined(HashMap.get(map, token))
          const window = current === undefined || now >= current.start + WINDOW_MS
            ? { start: now, count: 0 }
            : current
          const resetSeconds = Math.max(1, Math.ceil((window.start + WINDOW_MS - now) / 1000))
          if (window.count >= allowed) {
            return [{ limited: true, allowed, count: window.count, resetSeconds }, HashMap.set(map, token, window)]
          }
          const next = { start: window.start, count: window.count + 1 }
          return [{ limited: false, allowed, count: next.count, resetSeconds }, HashMap.set(map, token, next)]
        }))

    const claim = (key: string, bodySha256: string, plan: () => ReplyPlan): Effect.Effect<Claim> =>
      Ref.modify(keys, (state): [Claim, Keys] => {
        const found = Option.getOrUndefined(HashMap.get(state.map, key))
        if (found !== undefined) {
          return found.bodySha256 === bodySha256
            ? [{ _tag: "Replay", plan: found.plan }, state]
            : [{ _tag: "Conflict" }, state]
        }
        const fresh = plan()
        const seq = state.seq + 1
        let map = HashMap.set(state.map, key, { bodySha256, plan: fresh, seq })
        if (HashMap.size(map) > options.maxIdempotencyKeys) {
          // Evict the oldest half at once: amortised constant time per request.
          const keep = seq - Math.floor(options.maxIdempotencyKeys / 2)
          map = HashMap.filter(map, (stored) =>
            stored.seq > keep)
        }
        return [{ _tag: "Fresh", plan: fresh }, { seq, map }]
      })

    /**
     * Takes the next fault for a route and phase: the first matching one in the queue, else (on arrival only) a
     * draw by rate, which may give a stream fault: the caller keeps it for when its stream starts.
     */
    const take = (route: Fault.Route, phase: "arrival" | "stream"): Effect.Effect<Fault.Fault | undefined> =>
      Effect.flatten(Ref.modify(faults, (state): [Effect.Effect<Fault.Fault | undefined>, FaultState] => {
        const index = state.queue.findIndex((fault) =>
          Fault.routeOf(fault) === route && Fault.isArrivalFault(fault) === (phase === "arrival")
        )
        if (index >= 0) {
          const queue = state.queue.slice()
          const [fault] = queue.splice(index, 1)
          return [Effect.succeed(fault), { ...state, queue }]
        }
        // Only requests the pool has faults for draw, so that token requests do not shift the chat sequence.
        const candidates = state.pool.filter((fault) =>
          Fault.routeOf(fault) === route
        )
        if (state.rate <= 0 || phase === "stream" || candidates.length === 0) {
          return [Effect.succeed(undefined), state]
        }
        const draw = Effect.gen(function*() {
          const roll = yield* state.random.next
          if (roll >= state.rate) return undefined
          return candidates[yield* state.random.nextIntBetween(0, candidates.length)]
        })
        return [draw, state]
      }))

    const enqueue = (added: ReadonlyArray<Fault.Fault>) =>
      Ref.update(faults, (state) => ({ ...state, queue: [...state.queue, ...added] }))

    const setRate = (setting: Fault.RateSetting) =>
      Ref.update(faults, (state) => {
        const seed = setting.seed ?? state.seed
        return {
          ...state,
          rate: setting.rate,
          pool: setting.pool ?? state.pool,
          seed,
          random: setting.seed === undefined ? state.random : Random.make(seed)
        }
      })

    const faultConfig: Effect.Effect<FaultConfig> = Effect.map(
      Ref.get(faults),
      ({ pool, queue, rate, seed }) => ({ queue, rate, pool, seed })
    )

    const open = (fields: Omit<RecordFields, "id">) =>
      Ref.modify(log, (state): [number, Log] => {
        const id = state.nextId
        let entries = HashMap.set(state.entries, id, { id, ...fields })
        entries = HashMap.remove(entries, id - options.maxRequestLog)
        return [id, { nextId: id + 1, entries }]
      })

    const update = (id: number, patch: Partial<Omit<RecordFields, "id">>) =>
      Ref.update(log, (state) =>
        Option.match(HashMap.get(state.entries, id), {
          onNone: () => state,
          onSome: (entry) => ({ ...state, entries: HashMap.set(state.entries, id, { ...entry, ...patch }) })
        }))

    const records: Effect.Effect<ReadonlyArray<RecordFields>> = Effect.map(Ref.get(log), (state) => {
      const out: Array<RecordFields> = []
      for (let id = Math.max(1, state.nextId - options.maxRequestLog); id < state.nextId; id++) {
        const entry = Option.getOrUndefined(HashMap.get(state.entries, id))
        if (entry !== undefined) {
          out.push(entry)
        }
      }
      return out
    })

    // Tokens survive a reset: a reset clears what tests set up, it does not sign clients out.
    const reset = Effect.all([
      Ref.set(keys, { seq: 0, map: HashMap.empty() }),
      Ref.set(windows, HashMap.empty()),
      Ref.set(faults, faultState(options.initial)),
      Ref.set(log, { nextId: 1, entries: HashMap.empty() })
    ], { discard: true })

    return {
      issueToken,
      checkToken,
      expireToken,
      revokeTokens,
      isToken,
      hit,
      claim,
      take,
      enqueue,
      setRate,
      faultConfig,
      open,
      update,
      records,
      reset
    } as const
  })

/** @internal */
export type State = Effect.Effect.Success<ReturnType<typeof make>>
