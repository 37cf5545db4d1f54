/**
 * Pure retry arithmetic: which statuses are retried, full-jitter backoff, `Retry-After` parsing and the deadline
 * rule. Kept pure so that property tests can check every bound.
 *
 * @internal
 */

/** Statuses that are retried before the first frame. @internal */
export const retryableStatuses: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504])

/** @internal */
export const isRetryableStatus = (status: number): boolean => retryableStatuses.has(status)

/**
 * The upper bound of the full-jitter sleep after the `failures`-th failed attempt (1-based):
 * `min(cap, base * 2^(failures - 1))`.
 *
 * @internal
 */
export const backoffCeiling = (failures: number, baseMillis: number, capMillis: number): number =>
  Math.min(capMillis, baseMillis * 2 ** Math.max(0, Math.min(failures - 1, 52)))

/**
 * A full-jitter sleep: `random` (in [0, 1]) scaled to [0, ceiling], rounded to whole milliseconds.
 *
 * @internal
 */
export const jitter = (ceiling: number, random: number): number =>
  Math.round(Math.min(1, Math.max(0, random)) * ceiling)

const secondsPattern = /^\s*\d+(\.\d+)?\s*$/

/**
 * The wait a response asks for, in milliseconds: `retry-after-ms` first, then `Retry-After` as seconds or as an
 * HTTP date relative to `now`. `undefined` when absent or unreadable; a date in the past gives 0.
 *
 * @internal
 */
export const parseRetryAfter = (
  headers: { readonly [name: string]: string | undefined },
  now: number
): number | undefined => {
  const ms = headers["retry-after-ms"]
  if (ms !== undefined && secondsPattern.test(ms)) {
    const value = Number(ms)
    if (Number.isFinite(value)) return Math.ceil(value)
  }
  const retryAfter = headers["retry-after"]
  if (retryAfter === undefined) return undefined
  if (secondsPattern.test(retryAfter)) {
    const seconds = Number(retryAfter)
    return Number.isFinite(seconds) ? Math.ceil(seconds * 1000) : undefined
  }
  // An HTTP date names its day and month; this keeps `Date.parse` from reading "-3" as a year.
  if (!/[A-Za-z]{3}/.test(retryAfter)) return undefined
  const date = Date.parse(retryAfter)
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined
}

/**
 * The sleep before the next attempt: the server's wait, capped at `retryAfterCapMillis`, when it asked for one;
 * else a full-jitter backoff.
 *
 * @internal
 */
export const retryDelay = (
  options: {
    readonly failures: number
    readonly baseMillis: number
    readonly capMillis: number
    readonly retryAfterCapMillis: number
  },
  retryAfter: number | undefined,
  random: number
): number =>
  retryAfter !== undefined
    ? Math.min(retryAfter, options.retryAfterCapMillis)
    : jitter(backoffCeiling(options.failures, options.baseMillis, options.capMillis), random)

/**
 * Whether a sleep of `delay` starting at `now` would reach the deadline: then the call stops retrying instead.
 *
 * @internal
 */
export const passesDeadline = (now: number, delay: number, deadline: number): boolean => now + delay >= deadline
