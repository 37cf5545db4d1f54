/**
 * @since 0.1.0
 */
export * as GatewayConfig from "./GatewayConfig.js"

/**
 * @since 0.1.0
 */
export * as NodeGateway from "./NodeGateway.js"

/**
 * @since 0.1.0
 */
export * as NodePipeline from "./NodePipeline.js"

/**
 * @since 0.1.0
 */
export * as NodeTelemetry from "./NodeTelemetry.js"

/**
 * @since 0.1.0
 */
export * as NodeFileLock from "./NodeFileLock.js"
