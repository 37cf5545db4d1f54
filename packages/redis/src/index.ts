/**
 * @since 0.1.0
 */
export * as RedisClient from "./RedisClient.js"

/**
 * @since 0.1.0
 */
export * as RedisError from "./RedisError.js"

/**
 * @since 0.1.0
 */
export * as RedisTokenStore from "./RedisTokenStore.js"

/**
 * @since 0.1.0
 */
export * as RedisLayers from "./RedisLayers.js"

/**
 * @since 0.1.0
 */
export * as RedisRateBlock from "./RedisRateBlock.js"

/**
 * @since 0.1.0
 */
export * as RedisRateLimiterStore from "./RedisRateLimiterStore.js"
