/**
 * The whole `Pipeline` for tests of your own code, in one layer: the default pre-flight stages (validation,
 * context window, safety policy), the scripted `TestGateway`, the memory `TestAuditSink`, the
 * `TestMetricsWebhook`, and idempotency keys counted rather than random. Timing comes from the scripts' delays on
 * Effect's `Clock`, so under `it.effect` a call is driven by `TestClock.adjust` and every latency is exact.
 *
 * ```ts
 * it.effect("falls back after 5 s", () =>
 *   Effect.gen(function*() {
 *     const fiber = yield* Effect.fork(Pipeline.run(payload))
 *     yield* TestClock.adjust("5 seconds")
 *     const completion = yield* Fiber.join(fiber)
 *     assert.strictEqual(completion.status, "fallback")
 *     assert.deepStrictEqual((yield* TestPipeline.auditEntries).map((e) => e.status), ["fallback"])
 *   }).pipe(Effect.provide(TestPipeline.layer(TestGateway.script(TestGateway.hang)))))
 * ```
 *
 * Each build of the layer starts from nothing (no requests, entries or records; the first key again). Provide it
 * per test; shared with `it.layer`, its recordings add up across the tests.
 *
 * @since 0.1.0
 */
import {
  type AuditEntry,
  type AuditSink,
  ContextWindow,
  Fallback,
  type Gateway,
  IdGenerator,
  type MetricsWebhook,
  Pipeline,
  type Prompt,
  SafetyPolicy,
  TokenEstimator,
  Validation
} from "@genesys-llm/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as TestAuditSink from "./TestAuditSink.js"
import * as TestGateway from "./TestGateway.js"
import * as TestMetricsWebhook from "./TestMetricsWebhook.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Validation limits; default the specification's. */
  readonly limits?: Partial<Prompt.Limits> | undefined
  /** The context budget; default 80% of `maxTokens`. */
  readonly contextWindow?: ContextWindow.Options | undefined
  /** The safety policy's rules and actions; default the built-in rules. */
  readonly safety?: SafetyPolicy.Options | undefined
  /** The fallback text; default `Fallback.defaultText`. */
  readonly fallbackText?: string | undefined
  /** The first-frame deadline when a call's options do not set one; default 5000 ms. */
  readonly maxLatencyMillis?: number | undefined
  /** Idempotency keys handed out in order (then again from the first); default `key(1)`, `key(2)`, ... */
  readonly keys?: readonly [string, ...Array<string>] | undefined
  /** The pipeline's output guard; default off. */
  readonly outputGuard?: boolean | undefined
  /** Prices per token for the webhook events; default the specification's. */
  readonly costs?: MetricsWebhook.CostTable | undefined
}

/**
 * What the layer provides: the pipeline, each stage under it, and the controls of the doubles.
 *
 * @since 0.1.0
 * @category models
 */
export type Provided =
  | Pipeline.Pipeline
  | Validation.Validation
  | TokenEstimator.TokenEstimator
  | ContextWindow.ContextWindow
  | SafetyPolicy.SafetyPolicy
  | IdGenerator.IdGenerator
  | Gateway.Gateway
  | TestGateway.TestGateway
  | Fallback.Fallback
  | AuditSink.AuditSink
  | TestAuditSink.TestAuditSink
  | MetricsWebhook.MetricsWebhook
  | TestMetricsWebhook.Published

/**
 * Options that cannot make a stage: a safety configuration naming an unknown or duplicate rule, or a budget out
 * of range.
 *
 * @since 0.1.0
 * @category errors
 */
export type LayerError = SafetyPolicy.SafetyConfigError | ContextWindow.InvalidBudgetError

/**
 * The `n`th key (from 1) the default generator hands out: `llm-gw-00000000-0000-4000-8000-000000000001`, ... — the
 * shape of a real key, counted rather than random.
 *
 * @since 0.1.0
 * @category utils
 */
export const key = (n: number): string => `${IdGenerator.prefix}00000000-0000-4000-8000-${String(n).padStart(12, "0")}`

const countedKeys: Layer.Layer<IdGenerator.IdGenerator> = Layer.effect(
  IdGenerator.IdGenerator,
  Effect.map(Ref.make(0), (count) => ({
    next: Effect.map(Ref.updateAndGet(count, (n) => n + 1), key),
    derived: IdGenerator.derive
  }))
)

/**
 * The pipeline over the scripted gateway (see `TestGateway.Scripts`: one script for every call, a list played in
 * order, or a function of the request) and the default stages.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (scripts: TestGateway.Scripts, options: Options = {}): Layer.Layer<Provided, LayerError> =>
  Pipeline.layer({ outputGuard: options.outputGuard }).pipe(
    Layer.provideMerge(Layer.mergeAll(
      Validation.layer(options.limits ?? {}),
      ContextWindow.layer(options.contextWindow).pipe(Layer.provideMerge(TokenEstimator.layerDefault)),
      SafetyPolicy.layer(options.safety ?? {}),
      options.keys === undefined ? countedKeys : IdGenerator.layerTest(options.keys),
      TestGateway.layer(scripts, { maxLatencyMillis: options.maxLatencyMillis }),
      Fallback.layer(options.fallbackText ?? Fallback.defaultText),
      TestAuditSink.layer,
      TestMetricsWebhook.layer({ costs: options.costs })
    ))
  )

/**
 * The requests the scripted gateway received, oldest first: payloads as sent (trimmed and redacted), keys and
 * call options.
 *
 * @since 0.1.0
 * @category utils
 */
export const requests: Effect.Effect<ReadonlyArray<Gateway.Request>, never, TestGateway.TestGateway> = Effect
  .flatMap(TestGateway.TestGateway, (recorder) => recorder.requests)

/**
 * The audit entries written so far, oldest first, hash-chained as in the file.
 *
 * @since 0.1.0
 * @category utils
 */
export const auditEntries: Effect.Effect<ReadonlyArray<AuditEntry.AuditEntry>, never, TestAuditSink.TestAuditSink> =
  Effect.flatMap(TestAuditSink.TestAuditSink, (control) => Ref.get(control.entries))

/**
 * The call records the metrics webhook was given, oldest first.
 *
 * @since 0.1.0
 * @category utils
 */
export const published: Effect.Effect<ReadonlyArray<AuditEntry.CallRecord>, never, TestMetricsWebhook.Published> =
  TestMetricsWebhook.records
