/**
 * @since 0.1.0
 */
export * as Audit from "./Audit.js"

/**
 * @since 0.1.0
 */
export * as Chat from "./Chat.js"

/**
 * @since 0.1.0
 */
export * as Cli from "./Cli.js"

/**
 * @since 0.1.0
 */
export * as ExitCode from "./ExitCode.js"

/**
 * @since 0.1.0
 */
export * as Db from "./Db.js"

/**
 * @since 0.1.0
 */
export * as Simulator from "./Simulator.js"
