/**
 * Pre-flight: validation, the context window and the safety policy on realistic payloads, per call, against the
 * hand-written `preflight` baseline.
 */
import { ContextWindow, Prompt, SafetyPolicy, TokenEstimator, Validation } from "@genesys-llm/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Baseline from "./baselines.js"
import * as Data from "./data.js"
import { pair, type Row, row } from "./harness.js"

/** The library's three stages, built once, as the pipeline builds them. */
export const makeLibrary = () => {
  const validation = Validation.make()
  const window = Effect.runSync(ContextWindow.make().pipe(Effect.provide(TokenEstimator.layerDefault)))
  const safety = Effect.runSync(SafetyPolicy.make({ actions: { email: "redact", "phone-number": "redact" } }))
  return (input: unknown) =>
    validation.validate(input).pipe(
      Effect.flatMap(window.fit),
      Effect.flatMap((fitted) =>
        Effect.map(safety.check(fitted.payload), (checked) => ({
          payload: checked.payload,
          dropped: fitted.droppedContextMessages,
          redactions: checked.redactions.reduce((n, hit) => n + hit.count, 0)
        }))
      )
    )
}

export interface Options {
  readonly messages: ReadonlyArray<number>
  /** Distinct payloads per size, cycled through. */
  readonly payloads: number
  readonly samples: number
  readonly sampleMs: number
  readonly warmupMs?: number | undefined
}

export const options = {
  full: { messages: [1, 10, 25], payloads: 48, samples: 15, sampleMs: 60 },
  quick: { messages: [1, 10, 25], payloads: 24, samples: 7, sampleMs: 30 },
  tiny: { messages: [1, 25], payloads: 3, samples: 1, sampleMs: 1, warmupMs: 1 }
} satisfies Record<string, Options>

export const run = (opts: Options): ReadonlyArray<Row> => {
  const library = makeLibrary()
  return opts.messages.map((messages) => {
    const inputs = Data.payloads(messages, opts.payloads, 1000 + messages)
    // Both sides must agree on every payload before their speed means anything.
    let equal = true
    let redacted = 0
    let dropped = 0
    for (const input of inputs) {
      const lib = Effect.runSync(Effect.either(library(input)))
      const base = Baseline.preflight(input)
      if (Either.isLeft(lib) || base._tag !== "Ready") {
        equal = false
        continue
      }
      redacted += lib.right.redactions
      dropped += lib.right.dropped
      equal &&= Prompt.toJson(lib.right.payload) === Prompt.toJson(base.payload) &&
        lib.right.dropped === base.dropped && lib.right.redactions === base.redactions
    }
    const batch = Effect.forEach(inputs, library, { discard: true })
    const result = pair(
      () => Effect.runSync(batch),
      () => {
        for (const input of inputs) Baseline.preflight(input)
      },
      opts
    )
    const chars = inputs.reduce((n, p) => n + p.context.reduce((m, c) => m + c.content.length, 0), 0) / inputs.length
    const perCall = (ms: number) => (ms * 1000) / inputs.length
    return row({
      group: "pre-flight",
      name: `${messages} message${messages === 1 ? "" : "s"} (avg ${Math.round(chars)} chars, ${
        (dropped / inputs.length).toFixed(1)
      } dropped, ${(redacted / inputs.length).toFixed(1)} redacted)`,
      unit: "µs/call",
      library: perCall(result.library),
      baseline: perCall(result.baseline),
      better: "lower",
      equal,
      ...(messages === 25
        ? { target: "< 50 µs/call", met: perCall(result.library) < 50 }
        : {})
    })
  })
}
