/**
 * @since 0.1.0
 */

/**
 * The contract of the Data Action endpoint, as an `HttpApi`.
 *
 * @since 0.1.0
 */
export * as DataActionApi from "./DataActionApi.js"

/**
 * The endpoint over the pipeline, as layers.
 *
 * @since 0.1.0
 */
export * as DataActionServer from "./DataActionServer.js"

/**
 * Calls in flight, load shedding, readiness and the drain.
 *
 * @since 0.1.0
 */
export * as Lifecycle from "./Lifecycle.js"

/**
 * `/healthz`, `/readyz`, `/metrics`.
 *
 * @since 0.1.0
 */
export * as Ops from "./Ops.js"

/**
 * One log line per request.
 *
 * @since 0.1.0
 */
export * as RequestLog from "./RequestLog.js"
