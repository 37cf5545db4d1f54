import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Metrics from "../Metrics.js"
import type { Event } from "./webhookEvent.js"

/** @internal */
export interface Entry {
  readonly event: Event
  readonly attempts: number
}

/**
 * What a layer adds to the in-memory part: how it keeps new events (planning what they take when it writes them,
 * then applying the plan to the state) and how it forgets acknowledged ones (already out of the state).
 * @internal
 */
export interface Persistence {
  readonly keep: (events: ReadonlyArray<Event>) => Effect.Effect<void>
  readonly forget: (eventIds: ReadonlyArray<string>) => Effect.Effect<void>
}

/** @internal */
export interface Plan {
  readonly add: ReadonlyArray<Event>
  readonly drop: ReadonlyArray<Event>
}

interface Slot {
  readonly event: Event
  attempts: number
  // Not claimable before this time (millis).
  dueAt: number
  // Claimed until this time (millis); 0 when not claimed.
  claimedUntil: number
}

/**
 * The events an outbox keeps, oldest first, with their claims and attempts: the part of an outbox that lives in
 * memory, shared by the memory and file layers. Every method is synchronous, so that no fiber sees it halfway.
 * @internal
 */
export class OutboxState {
  private readonly slots = new Map<string, Slot>()

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.slots.size
  }

  has(id: string): boolean {
    return this.slots.has(id)
  }

  /**
   * What adding `events` takes: the ones not kept already (nor repeated among them) to add, and, when they do not
   * all fit in `maxEntries`, the oldest events to drop first (kept ones, then the oldest of the new). Changes
   * nothing: `apply` does, once the new events are written wherever the layer writes them.
   */
  plan(events: ReadonlyArray<Event>): Plan {
    let fresh: Array<Event> = []
    const seen = new Set<string>()
    for (const event of events) {
      if (this.slots.has(event.event_id) || seen.has(event.event_id)) continue
      seen.add(event.event_id)
      fresh.push(event)
    }
    let overflow = this.slots.size + fresh.length - this.maxEntries
    const drop: Array<Event> = []
    for (const slot of this.slots.values()) {
      if (overflow <= 0) break
      drop.push(slot.event)
      overflow--
    }
    if (overflow > 0) {
      drop.push(...fresh.slice(0, overflow))
      fresh = fresh.slice(overflow)
    }
    return { add: fresh, drop }
  }

  apply(plan: Plan): void {
    for (const event of plan.drop) this.slots.delete(event.event_id)
    for (const event of plan.add) this.slots.set(event.event_id, { event, attempts: 0, dueAt: 0, claimedUntil: 0 })
  }

  /** Removes the events; returns the ids that were kept. */
  remove(ids: ReadonlyArray<string>): ReadonlyArray<string> {
    return ids.filter((id) => this.slots.delete(id))
  }

  claim(now: number, max: number, leaseMillis: number): ReadonlyArray<Entry> {
    const claimed: Array<Entry> = []
    for (const slot of this.slots.values()) {
      if (claimed.length >= max) break
      if (slot.claimedUntil > now || slot.dueAt > now) continue
      slot.claimedUntil = now + leaseMillis
      claimed.push({ event: slot.event, attempts: slot.attempts })
    }
    return claimed
  }

  release(ids: ReadonlyArray<string>, now: number, delayMillis: number): void {
    for (const id of ids) {
      const slot = this.slots.get(id)
      if (slot === undefined) continue
      slot.claimedUntil = 0
      slot.attempts++
      slot.dueAt = now + delayMillis
    }
  }

  list(limit: number): ReadonlyArray<Entry> {
    const out: Array<Entry> = []
    for (const slot of this.slots.values()) {
      if (out.length >= limit) break
      out.push({ event: slot.event, attempts: slot.attempts })
    }
    return out
  }

  events(): ReadonlyArray<Event> {
    return Array.from(this.slots.values(), (slot) => slot.event)
  }
}

/**
 * Counts and logs events dropped because the outbox was full.
 * @internal
 */
export const countDropped = (dropped: number, maxEntries: number): Effect.Effect<void> =>
  dropped === 0 ? Effect.void : Effect.zipRight(
    Metric.incrementBy(Metric.tagged(Metrics.outboxDropped, "reason", "full"), dropped),
    Effect.logWarning("metrics webhook: outbox full, oldest events dropped").pipe(
      Effect.annotateLogs({ dropped, maxEntries })
    )
  )
