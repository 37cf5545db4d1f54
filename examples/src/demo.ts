/**
 * The demo: for now the pre-flight stages (validation, context window, safety policy).
 */
import * as Effect from "effect/Effect"
import { runIfMain } from "./internal/main.js"
import * as Preflight from "./preflight.js"

export const program = Preflight.program.pipe(Effect.provide(Preflight.layer))

runIfMain(import.meta, program)
