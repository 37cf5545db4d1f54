/**
 * @since 0.1.0
 */
export * as Arbitraries from "./Arbitraries.js"

/**
 * @since 0.1.0
 */
export * as MemoryFileSystem from "./MemoryFileSystem.js"

/**
 * @since 0.1.0
 */
export * as TestAuditSink from "./TestAuditSink.js"

/**
 * @since 0.1.0
 */
export * as TestHttpClient from "./TestHttpClient.js"

/**
 * @since 0.1.0
 */
export * as TestGateway from "./TestGateway.js"

/**
 * @since 0.1.0
 */
export * as TestHelpers from "./TestHelpers.js"

/**
 * @since 0.1.0
 */
export * as TestMetricsWebhook from "./TestMetricsWebhook.js"

/**
 * @since 0.1.0
 */
export * as TestOutbox from "./TestOutbox.js"

/**
 * @since 0.1.0
 */
export * as TestPipeline from "./TestPipeline.js"
