/**
 * A scripted `Gateway` for tests of what sits on top of it (the pipeline, a CLI, an application): each call plays
 * a script of steps with delays on Effect's `Clock`, and the call follows the real gateway's rules where they are
 * observable from outside: deltas then `Done`; a first frame later than `maxLatencyMillis` (from the call's options
 * or the layer's) gives `Fallback` then `Done` with outcome `"fallback"` at exactly that deadline; an `interrupt`
 * step fails with `StreamInterrupted` carrying the text delivered so far.
 *
 * ```ts
 * const gateway = TestGateway.layer([
 *   TestGateway.script(TestGateway.text("Hello", 100), TestGateway.text(" world", 100), TestGateway.usage(2)),
 *   TestGateway.script(TestGateway.text("late", 6_000)) // falls back at 5000 ms
 * ])
 * ```
 *
 * @since 0.1.0
 */
import { Gateway } from "@genesys-llm/core"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"

/**
 * One step of a scripted call. Each waits `delayMillis` after the previous step.
 *
 * @since 0.1.0
 * @category models
 */
export type Step =
  | { readonly _tag: "Text"; readonly text: string; readonly delayMillis: number }
  | { readonly _tag: "Usage"; readonly completionTokens: number; readonly delayMillis: number }
  | { readonly _tag: "Fail"; readonly error: Gateway.GatewayError; readonly delayMillis: number }
  | {
    readonly _tag: "Interrupt"
    readonly reason: Gateway.InterruptionReason
    readonly delayMillis: number
  }
  | { readonly _tag: "Hang" }

/**
 * The script of one call, and what its `Done` reports beyond the steps.
 *
 * @since 0.1.0
 * @category models
 */
export interface Script {
  readonly steps: ReadonlyArray<Step>
  readonly attempts: number
  readonly correlationId: string | undefined
  readonly skippedFrames: number
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const text = (value: string, delayMillis = 0): Step => ({ _tag: "Text", text: value, delayMillis })

/**
 * @since 0.1.0
 * @category constructors
 */
export const usage = (completionTokens: number, delayMillis = 0): Step => ({
  _tag: "Usage",
  completionTokens,
  delayMillis
})

/**
 * Fails the call with `error`. Before any frame and before the deadline, as the real gateway's rejections do.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fail = (error: Gateway.GatewayError, delayMillis = 0): Step => ({ _tag: "Fail", error, delayMillis })

/**
 * Breaks the stream with `StreamInterrupted` carrying the text delivered so far.
 *
 * @since 0.1.0
 * @category constructors
 */
export const interrupt = (reason: Gateway.InterruptionReason = "reset", delayMillis = 0): Step => ({
  _tag: "Interrupt",
  reason,
  delayMillis
})

/**
 * Never sends anything more: before the first frame the call falls back at the deadline; after it, the call waits
 * until the caller gives up.
 *
 * @since 0.1.0
 * @category constructors
 */
export const hang: Step = { _tag: "Hang" }

/**
 * @since 0.1.0
 * @category constructors
 */
export const script = (...steps: ReadonlyArray<Step>): Script => ({
  steps,
  attempts: 1,
  correlationId: undefined,
  skippedFrames: 0
})

/**
 * A whole answer: the text in one delta after `delayMillis`, then its usage.
 *
 * @since 0.1.0
 * @category constructors
 */
export const reply = (
  value: string,
  options: { readonly delayMillis?: number; readonly completionTokens?: number } = {}
): Script =>
  script(text(value, options.delayMillis ?? 0), usage(options.completionTokens ?? Math.ceil(value.length / 4)))

/**
 * What the double saw.
 *
 * @since 0.1.0
 * @category models
 */
export interface Recorder {
  readonly requests: Effect.Effect<ReadonlyArray<Gateway.Request>>
}

/**
 * @since 0.1.0
 * @category context
 */
export class TestGateway extends Context.Tag("@genesys-llm/testing/TestGateway")<TestGateway, Recorder>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Used when a call's options do not say. Default `Gateway.defaults.maxLatencyMillis`. */
  readonly maxLatencyMillis?: number | undefined
  /** Used when a call's options do not say. Default `Gateway.defaults.fallbackText`. */
  readonly fallbackText?: string | undefined
}

/**
 * The scripts of the calls: one for every call, a list played in order (the last one repeats), or a function of
 * the request and the call's 0-based index.
 *
 * @since 0.1.0
 * @category models
 */
export type Scripts =
  | Script
  | ReadonlyArray<Script>
  | ((request: Gateway.Request, index: number) => Script)

const pick = (scripts: Scripts, request: Gateway.Request, index: number): Script => {
  if (typeof scripts === "function") return scripts(request, index)
  if ("steps" in scripts) return scripts
  const list = scripts as ReadonlyArray<Script>
  return list[Math.min(index, list.length - 1)]
}

// When the call's first observable outcome comes: the first step's delay (a Hang: never). The call falls back when
// that moment is later than the deadline: a first frame at exactly the deadline is delivered, as the real gateway
// delivers it (GatewayContract.test.ts holds the two together).
const firstOutcomeAt = (steps: ReadonlyArray<Step>): number | undefined => {
  const first = steps[0]
  if (first === undefined) return undefined
  return first._tag === "Hang" ? Number.POSITIVE_INFINITY : first.delayMillis
}

const sleep = (millis: number) => millis > 0 ? Effect.sleep(Duration.millis(millis)) : Effect.void

const play = (
  plan: Script,
  request: Gateway.Request,
  options: Options
): Stream.Stream<Gateway.Event, Gateway.GatewayError> =>
  Stream.suspend(() => {
    const maxLatency = request.options?.maxLatencyMillis ?? options.maxLatencyMillis ??
      Gateway.defaults.maxLatencyMillis
    const fallbackText = request.options?.fallbackText ?? options.fallbackText ?? Gateway.defaults.fallbackText
    const first = firstOutcomeAt(plan.steps)
    const done = (outcome: "complete" | "fallback", all: string, completionTokens: number, usageReported: boolean) => ({
      _tag: "Done" as const,
      outcome,
      text: all,
      completionTokens,
      usageReported,
      attempts: plan.attempts,
      skippedFrames: plan.skippedFrames,
      correlationId: plan.correlationId
    })
    if (first !== undefined && first > maxLatency) {
      return Stream.fromEffect(sleep(maxLatency)).pipe(
        Stream.flatMap(() =>
          Stream.make<[Gateway.Event, Gateway.Event]>(
            {
              _tag: "Fallback",
              text: fallbackText,
              reason: "first-frame-timeout",
              lastStatus: undefined,
              lastError: undefined
            },
            done("fallback", fallbackText, 0, false)
          )
        )
      )
    }
    const delivered: Array<string> = []
    let completionTokens = 0
    let usageReported = false
    const steps = Stream.fromIterable(plan.steps).pipe(
      Stream.mapEffect((step): Effect.Effect<ReadonlyArray<Gateway.Event>, Gateway.GatewayError> => {
        switch (step._tag) {
          case "Hang":
            return Effect.never
          case "Text":
            return Effect.as(
              Effect.zipRight(sleep(step.delayMillis), Effect.sync(() => delivered.push(step.text))),
              step.text.length > 0 ? [{ _tag: "Delta", text: step.text }] : []
            )
          case "Usage":
            return Effect.as(
              Effect.zipRight(
                sleep(step.delayMillis),
                Effect.sync(() => {
                  completionTokens += step.completionTokens
                  usageReported = true
                })
              ),
              []
            )
          case "Fail":
            return Effect.zipRight(sleep(step.delayMillis), Effect.fail(step.error))
          case "Interrupt":
            return Effect.zipRight(
              sleep(step.delayMillis),
              Effect.suspend(() =>
                Effect.fail(
                  new Gateway.StreamInterrupted({
                    reason: step.reason,
                    detail: "scripted interruption",
                    deliveredText: delivered.join(""),
                    deliveredCharacters: delivered.join("").length,
                    completionTokens,
                    attempts: plan.attempts,
                    ...(plan.correlationId === undefined ? {} : { correlationId: plan.correlationId })
                  })
                )
              )
            )
        }
      }),
      Stream.flatMap((events) => Stream.fromIterable(events))
    )
    return Stream.concat(
      steps,
      Stream.suspend(() =>
        Stream.succeed<Gateway.Event>(done("complete", delivered.join(""), completionTokens, usageReported))
      )
    )
  })

/**
 * Builds the scripted gateway and its recorder.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  scripts: Scripts,
  options: Options = {}
): Effect.Effect<{ readonly gateway: Gateway.Service; readonly recorder: Recorder }> =>
  Effect.gen(function*() {
    const requests = yield* Ref.make<ReadonlyArray<Gateway.Request>>([])
    const gateway = Gateway.fromStream((request) =>
      Stream.unwrap(
        Ref.modify(requests, (all) => [all.length, [...all, request]] as const).pipe(
          Effect.map((index) => play(pick(scripts, request, index), request, options))
        )
      )
    )
    return { gateway, recorder: { requests: Ref.get(requests) } }
  })

/**
 * Provides the scripted gateway as `Gateway`, and its recorder as `TestGateway`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (scripts: Scripts, options: Options = {}): Layer.Layer<Gateway.Gateway | TestGateway> =>
  Layer.effectContext(
    Effect.map(
      make(scripts, options),
      ({ gateway, recorder }) => Context.make(Gateway.Gateway, gateway).pipe(Context.add(TestGateway, recorder))
    )
  )
