/**
 * @since 0.1.0
 */
export * as Prompt from "./Prompt.js"

/**
 * @since 0.1.0
 */
export * as Validation from "./Validation.js"

/**
 * @since 0.1.0
 */
export * as TokenEstimator from "./TokenEstimator.js"

/**
 * @since 0.1.0
 */
export * as ContextWindow from "./ContextWindow.js"

/**
 * @since 0.1.0
 */
export * as AuditEntry from "./AuditEntry.js"

/**
 * @since 0.1.0
 */
export * as AuditSink from "./AuditSink.js"

/**
 * @since 0.1.0
 */
export * as FileLock from "./FileLock.js"

/**
 * @since 0.1.0
 */
export * as AuditLog from "./AuditLog.js"

/**
 * @since 0.1.0
 */
export * as Metrics from "./Metrics.js"

/**
 * @since 0.1.0
 */
export * as GatewayError from "./GatewayError.js"

/**
 * @since 0.1.0
 */
export * as TokenProvider from "./TokenProvider.js"

/**
 * @since 0.1.0
 */
export * as TokenStore from "./TokenStore.js"

/**
 * @since 0.1.0
 */
export * as IdGenerator from "./IdGenerator.js"

/**
 * @since 0.1.0
 */
export * as CircuitBreaker from "./CircuitBreaker.js"

/**
 * @since 0.1.0
 */
export * as RetryBudget from "./RetryBudget.js"

/**
 * @since 0.1.0
 */
export * as RateBlock from "./RateBlock.js"

/**
 * @since 0.1.0
 */
export * as RateBudget from "./RateBudget.js"

/**
 * @since 0.1.0
 */
export * as Gateway from "./Gateway.js"

/**
 * @since 0.1.0
 */
export * as SafetyPolicy from "./SafetyPolicy.js"

/**
 * @since 0.1.0
 */
export * as Outbox from "./Outbox.js"

/**
 * @since 0.1.0
 */
export * as MetricsWebhook from "./MetricsWebhook.js"

/**
 * @since 0.1.0
 */
export * as Fallback from "./Fallback.js"

/**
 * @since 0.1.0
 */
export * as Pipeline from "./Pipeline.js"
