// The Lua scripts of the token cache. Each runs atomically in Redis, so no instance sees a half-done step.

/** The value and its remaining lifetime in milliseconds, or nil. */
export const readWithTtl = `
local v = redis.call("GET", KEYS[1])
if not v then return false end
return { v, redis.call("PTTL", KEYS[1]) }
`

/** Deletes KEYS[1] only if its value is ARGV[1]: a lock is released by its owner alone. */
export const deleteIfEqual = `
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0
`

/** Deletes KEYS[1] only if its value starts with ARGV[1]: a refused token is dropped, a newer one is kept. */
export const deleteIfPrefixed = `
local v = redis.call("GET", KEYS[1])
if v and string.sub(v, 1, string.len(ARGV[1])) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0
`
