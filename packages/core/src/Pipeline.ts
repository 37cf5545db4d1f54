/**
 * The whole call: validation, context window, safety policy, gateway (with its retries, deadlines and fallback),
 * and the record of the call in the audit sink, the metrics webhook and Effect metrics.
 *
 * Every stage is a service the pipeline requires, so any of them can be replaced by a layer. Every call, whatever
 * its end (success, fallback, error, blocked, invalid, cancelled), writes exactly one audit record and publishes
 * exactly one metrics event, after the last text reached the caller and before `run` returns or `stream` ends.
 * A failing audit sink or webhook never fails the call: the sink's failure is logged and counted.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as AuditEntry from "./AuditEntry.js"
import * as AuditSink from "./AuditSink.js"
import * as ContextWindow from "./ContextWindow.js"
import * as Fallback from "./Fallback.js"
import * as Gateway from "./Gateway.js"
import * as IdGenerator from "./IdGenerator.js"
import * as OutputGuard from "./internal/outputGuard.js"
import * as Metrics from "./Metrics.js"
import * as MetricsWebhook from "./MetricsWebhook.js"
import * as SafetyPolicy from "./SafetyPolicy.js"
import * as Validation from "./Validation.js"

/**
 * How a call ended, as far as its caller sees: `success` (the whole answer), `fallback` (the model was too slow and
 * the fallback text was given), `error` (the answer broke after text was delivered: `text` holds what was
 * delivered and `interruption` says why).
 *
 * @since 0.1.0
 * @category models
 */
export type CompletionStatus = "success" | "fallback" | "error"

/**
 * Why an answer broke after text was delivered.
 *
 * @since 0.1.0
 * @category models
 */
export interface Interruption {
  /** The gateway's reason, or `gateway-error` for another error after text (from a gateway layer of your own). */
  readonly reason: Gateway.InterruptionReason | "gateway-error"
  readonly message: string
}

/**
 * The result of a call that reached the gateway and gave its caller text.
 *
 * @since 0.1.0
 * @category models
 */
export interface Completion {
  readonly status: CompletionStatus
  /**
   * The text the caller received: the answer, the fallback text, or what was delivered before a break. Empty for a
   * call made with `retainText: false`.
   */
  readonly text: string
  /** The completion tokens the gateway reported (0 when it reported none, and for a fallback). */
  readonly tokensUsed: number
  /** From the start of the call to its end, on the `Clock`. */
  readonly latencyMs: number
  /** From the start of the call to the first text of the answer; absent for a fallback. */
  readonly timeToFirstFrameMs: number | undefined
  /** Requests sent to the gateway for this call. */
  readonly attempts: number
  /** The key every attempt carried. */
  readonly idempotencyKey: string
  readonly modelId: string
  /** Context messages the context window dropped, oldest first. */
  readonly droppedContextMessages: number
  /** What the safety policy redacted in the prompt: rule ids, field paths and counts, never text. */
  readonly redactions: ReadonlyArray<SafetyPolicy.RuleHit>
  /** Redaction markers the output guard put into the answer (0 without the guard). */
  readonly outputRedactions: number
  readonly correlationId: string | undefined
  /** Why the answer broke, when `status` is `error`. */
  readonly interruption: Interruption | undefined
  /**
   * Why the call fell back, when `status` is `fallback`: `deadline` (the first frame was late, or a retry would
   * have been), `rate-limited` or `circuit-open` (nothing was sent for the call then). See `Gateway.FallbackReason`.
   */
  readonly fallbackReason: Gateway.FallbackCause | undefined
}

/**
 * Text for the caller, in order. `source` is `fallback` for the fallback text.
 *
 * @since 0.1.0
 * @category models
 */
export interface TextDelta {
  readonly _tag: "TextDelta"
  readonly text: string
  readonly source: "model" | "fallback"
}

/**
 * The last event of a call's stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface Completed {
  readonly _tag: "Completed"
  readonly completion: Completion
}

/**
 * @since 0.1.0
 * @category models
 */
export type PipelineEvent = TextDelta | Completed

/**
 * Everything a stage can fail a call with.
 *
 * @since 0.1.0
 * @category errors
 */
export const StageError = Schema.Union(
  Validation.PromptValidationError,
  ContextWindow.ContextOverflowError,
  IdGenerator.InvalidKeyInput,
  SafetyPolicy.SafetyViolation,
  Gateway.GatewayError
)

/**
 * @since 0.1.0
 * @category errors
 */
export type StageError = typeof StageError.Type

/**
 * How a failed call is recorded: `invalid` (the input or its key), `blocked` (the safety policy), `error` (the
 * gateway).
 *
 * @since 0.1.0
 * @category models
 */
export const FailureStatus = Schema.Literal("invalid", "blocked", "error")

/**
 * @since 0.1.0
 * @category models
 */
export type FailureStatus = typeof FailureStatus.Type

/**
 * A call that gave its caller no answer. `cause` is the stage's own error (match on `cause._tag`); the other
 * fields are what the call's audit record says.
 *
 * @since 0.1.0
 * @category errors
 */
export class PipelineError extends Schema.TaggedError<PipelineError>("@genesys-llm/core/PipelineError")(
  "PipelineError",
  {
    status: FailureStatus,
    cause: StageError,
    idempotencyKey: Schema.String,
    attempts: Schema.Number,
    latencyMs: Schema.Number,
    droppedContextMessages: Schema.Number
  }
) {
  override get message(): string {
    return this.cause.message
  }
}

/**
 * The status a stage error is recorded with.
 *
 * @since 0.1.0
 * @category utils
 */
export const statusOf = (error: StageError): FailureStatus => {
  switch (error._tag) {
    case "PromptValidationError":
    case "ContextOverflowError":
    case "InvalidKeyInput":
    case "GatewayRequestInvalid":
      return "invalid"
    case "SafetyViolation":
      return "blocked"
    default:
      return "error"
  }
}

/**
 * Per-call settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /** Use this key instead of a fresh one. */
  readonly idempotencyKey?: string | undefined
  /**
   * Derive the key from a conversation id and turn, so that a retried Data Action call maps to the same key and
   * the gateway replays the first answer instead of billing twice.
   */
  readonly conversation?: { readonly id: string; readonly turn: number } | undefined
  /** Gateway settings for this call (deadlines, attempts). The fallback text comes from the `Fallback` service. */
  readonly call?: Omit<Gateway.CallOptions, "fallbackText" | "retainText"> | undefined
  /**
   * Keep the text the caller received for `Completion.text`. Default true. Set it to false to stream a long answer
   * to a sink: the text then reaches the caller only as `TextDelta` events, `Completion.text` is empty, and the
   * call's memory stays bounded by the frame size (and the output guard's hold-back) whatever the answer's length.
   */
  readonly retainText?: boolean | undefined
  /**
   * Called with the call's audit record once it was written, whatever the call's end, an interruption included: a
   * caller that stops a call learns from it what the record says (status `cancelled`, the key, the attempts sent).
   * It runs in the call's finalizer, so it should be quick; a failure of the audit sink does not prevent it.
   */
  readonly onRecorded?: ((record: AuditEntry.CallRecord) => Effect.Effect<void>) | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Runs a call to its end. */
  readonly run: (input: unknown, options?: RunOptions) => Effect.Effect<Completion, PipelineError>
  /** Streams a call: text deltas as they arrive, then one `Completed` event. */
  readonly stream: (input: unknown, options?: RunOptions) => Stream.Stream<PipelineEvent, PipelineError>
}

/**
 * @since 0.1.0
 * @category context
 */
export class Pipeline extends Context.Tag("@genesys-llm/core/Pipeline")<Pipeline, Service>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Apply the safety policy's enabled rules to the streamed answer too, redacting every finding (a streaming
   * answer cannot be blocked), across frame boundaries. The guard holds back a few hundred characters (the
   * longest match of the rules without an anchor), and from a `-----BEGIN ` or `Bearer` on until the finding that
   * may start there is complete. Every enabled rule needs a finite `maxMatchLength`. Default off.
   */
  readonly outputGuard?: boolean | undefined
  /**
   * How long the record of a call may wait for the audit sink before the write counts as failed (logged and
   * counted, never failing the call). Default 10 seconds: a stuck disk must not hold every call forever.
   */
  readonly auditTimeout?: Duration.DurationInput | undefined
}

/**
 * What the pipeline requires: one service per stage.
 *
 * @since 0.1.0
 * @category models
 */
export type Requirements =
  | Validation.Validation
  | ContextWindow.ContextWindow
  | SafetyPolicy.SafetyPolicy
  | IdGenerator.IdGenerator
  | Gateway.Gateway
  | Fallback.Fallback
  | AuditSink.AuditSink
  | MetricsWebhook.MetricsWebhook

// The facts of one call, filled in as it goes and read once, when it ends. It lives in one call's scope only.
interface CallState {
  readonly input: unknown
  readonly startedAt: number
  readonly onRecorded: RunOptions["onRecorded"]
  key: string
  modelId: string | undefined
  dropped: number
  ruleIds: ReadonlyArray<string>
  attempts: number
  correlationId: string | undefined
  tokens: number
  firstTextAt: number | undefined
  delivered: string
  deliveredAny: boolean
  // The gateway sent answer text (which the output guard may still hold back).
  modelText: boolean
  status: AuditEntry.Status | undefined
  error: StageError | undefined
  fallbackReason: Gateway.FallbackCause | undefined
}

// A call's spans point at this module, not at its caller: capturing the call site costs a stack trace a call.
const spanOptions = { captureStackTrace: false } as const

const attemptsOf = (error: StageError): number => Gateway.isGatewayError(error) ? error.attempts : 0

const correlationOf = (error: StageError): string | undefined =>
  Gateway.isGatewayError(error) ? error.correlationId : undefined

/**
 * Builds the pipeline from the stage services in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, never, Requirements> =>
  Effect.gen(function*() {
    const validation = yield* Validation.Validation
    const window = yield* ContextWindow.ContextWindow
    const safety = yield* SafetyPolicy.SafetyPolicy
    const ids = yield* IdGenerator.IdGenerator
    const gateway = yield* Gateway.Gateway
    const fallback = yield* Fallback.Fallback
    const audit = yield* AuditSink.AuditSink
    const webhook = yield* MetricsWebhook.MetricsWebhook
    const auditTimeout = Duration.decode(options.auditTimeout ?? Duration.seconds(10))
    if (options.outputGuard === true) {
      const unbounded = OutputGuard.unboundedRules(safety.rules)
      if (unbounded.length > 0) {
        return yield* Effect.dieMessage(
          `the output guard needs a finite maxMatchLength on every enabled rule; unbounded: ${unbounded.join(", ")}`
        )
      }
    }

    const fail = (call: CallState, error: StageError) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        call.status = statusOf(error)
        call.error = error
        call.attempts = Math.max(call.attempts, attemptsOf(error))
        call.correlationId = correlationOf(error) ?? call.correlationId
        return yield* new PipelineError({
          status: call.status,
          cause: error,
          idempotencyKey: call.key,
          attempts: call.attempts,
          latencyMs: now - call.startedAt,
          droppedContextMessages: call.dropped
        })
      })

    // Runs once per call, when its scope closes, whatever closed it.
    const record = (call: CallState) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        // No status: the call did not reach its end. It was interrupted, or its consumer stopped reading (a stream
        // taken short, or failing downstream): cancelled either way.
        const status: AuditEntry.Status = call.status ?? "cancelled"
        const entry = AuditEntry.fromCallAt({
          status,
          idempotencyKey: call.key,
          input: call.input,
          modelId: call.modelId,
          latencyMs: now - call.startedAt,
          tokensUsed: call.tokens,
          attempts: call.attempts,
          droppedContextMessages: call.dropped,
          safetyRuleIds: call.ruleIds,
          error: call.error,
          correlationId: call.correlationId,
          fallbackReason: call.fallbackReason
        }, now)
        // The record runs in a finalizer, which is uninterruptible: the write is made interruptible so that the
        // timeout can stop it.
        yield* audit.write(entry).pipe(
          Effect.interruptible,
          Effect.timeoutFail({
            duration: auditTimeout,
            onTimeout: () => ({ message: `the audit sink did not answer within ${Duration.format(auditTimeout)}` })
          }),
          Effect.catchAll((error) =>
            Effect.zipRight(
              Metric.increment(Metric.tagged(Metrics.auditWriteFailures, "sink", "pipeline")),
              Effect.logError("the audit record of a call was not written", error.message)
            )
          )
        )
        if (call.onRecorded !== undefined) yield* call.onRecorded(entry)
        const costUsd = yield* webhook.publish(entry)
        yield* Metrics.recordCall(entry, {
          timeToFirstFrameMs: call.firstTextAt === undefined ? undefined : call.firstTextAt - call.startedAt,
          costUsd
        })
      })

    const keyFor = (runOptions: RunOptions) =>
      runOptions.idempotencyKey !== undefined
        ? Effect.succeed(runOptions.idempotencyKey)
        : runOptions.conversation !== undefined
        ? ids.derived(runOptions.conversation.id, runOptions.conversation.turn)
        : ids.next

    // Validation, key, context window and safety: everything that happens before a byte leaves.
    const prepare = (call: CallState, input: unknown, runOptions: RunOptions) =>
      Effect.gen(function*() {
        const payload = yield* validation.validate(input)
        call.modelId = payload.modelId
        call.key = yield* keyFor(runOptions)
        const fitted = yield* window.fit(payload)
        call.dropped = fitted.droppedContextMessages
        const checked = yield* safety.check(fitted.payload)
        call.ruleIds = [...new Set(checked.redactions.map((hit) => hit.ruleId))]
        return checked
      }).pipe(
        Effect.catchAll((error: StageError) => {
          if (error._tag === "SafetyViolation") call.ruleIds = error.ruleIds
          return fail(call, error)
        })
      )

    const completionOf = (
      call: CallState,
      now: number,
      status: CompletionStatus,
      redactions: ReadonlyArray<SafetyPolicy.RuleHit>,
      outputRedactions: number,
      interruption: Interruption | undefined
    ): Completion => ({
      status,
      text: call.delivered,
      tokensUsed: call.tokens,
      latencyMs: now - call.startedAt,
      timeToFirstFrameMs: call.firstTextAt === undefined ? undefined : call.firstTextAt - call.startedAt,
      attempts: call.attempts,
      idempotencyKey: call.key,
      modelId: call.modelId ?? AuditEntry.unknownValue,
      droppedContextMessages: call.dropped,
      redactions,
      outputRedactions,
      correlationId: call.correlationId,
      interruption,
      fallbackReason: status === "fallback" ? call.fallbackReason : undefined
    })

    // Starts a call in the current scope: its record when the scope closes, the checks, and the gateway's events
    // with what turns them into the pipeline's. `stream` and `run` share it, so a call is the same call either way.
    const start = (input: unknown, runOptions: RunOptions) =>
      Effect.gen(function*() {
        const call: CallState = {
          input,
          startedAt: yield* Clock.currentTimeMillis,
          onRecorded: runOptions.onRecorded,
          key: AuditEntry.unknownValue,
          modelId: undefined,
          dropped: 0,
          ruleIds: [],
          attempts: 0,
          correlationId: undefined,
          tokens: 0,
          firstTextAt: undefined,
          delivered: "",
          deliveredAny: false,
          modelText: false,
          status: undefined,
          error: undefined,
          fallbackReason: undefined
        }
        yield* Effect.addFinalizer(() => record(call))
        const checked = yield* prepare(call, input, runOptions)
        const fallbackText = yield* fallback.textFor(checked.payload)
        const guard = options.outputGuard === true ? OutputGuard.make(safety.rules) : undefined
        const retainText = runOptions.retainText !== false
        let outputRedactions = 0

        const deliver = (out: Array<PipelineEvent>, text: string, source: TextDelta["source"]): void => {
          if (text.length === 0) return
          if (retainText) call.delivered += text
          call.deliveredAny = true
          out.push({ _tag: "TextDelta", text, source })
        }
        const guarded = (text: string): string => {
          if (guard === undefined) return text
          const released = guard.push(text)
          outputRedactions = guard.redactions()
          return released
        }
        const flushGuard = (): string => {
          if (guard === undefined) return ""
          const released = guard.flush()
          outputRedactions = guard.redactions()
          return released
        }

        // The pipeline's events for a chunk of the gateway's, all at one instant of the clock.
        const onEvents = (events: Chunk.Chunk<Gateway.Event>, now: number): Array<PipelineEvent> => {
          const out: Array<PipelineEvent> = []
          for (const event of events) {
            switch (event._tag) {
              case "Delta":
                // Text came from a request that was sent: a call stopped before `Done` tells its attempts no other
                // way (the gateway's count arrives with `Done` or with its error).
                if (call.attempts === 0) call.attempts = 1
                if (call.firstTextAt === undefined) call.firstTextAt = now
                call.modelText = true
                deliver(out, guarded(event.text), "model")
                break
              case "Fallback":
                call.fallbackReason = Gateway.fallbackCause(event)
                deliver(out, event.text, "fallback")
                break
              case "Done": {
                call.attempts = event.attempts
                call.correlationId = event.correlationId
                call.tokens = event.outcome === "fallback" ? 0 : event.completionTokens
                const status = event.outcome === "fallback" ? "fallback" : "success"
                call.status = status
                deliver(out, flushGuard(), "model")
                out.push({
                  _tag: "Completed",
                  completion: completionOf(call, now, status, checked.redactions, outputRedactions, undefined)
                })
              }
            }
          }
          return out
        }

        // A gateway error is the call's failure, unless text reached the caller: then the call ends with what was
        // delivered, and says why it broke.
        const onError = (error: Gateway.GatewayError): Effect.Effect<Array<PipelineEvent>, PipelineError> =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const interrupted = error._tag === "StreamInterrupted" ? error : undefined
            // Whether text reached the caller is the pipeline's own knowledge, whatever the gateway layer says.
            const delivered = call.deliveredAny || call.modelText ||
              (interrupted !== undefined && (interrupted.deliveredCharacters ?? interrupted.deliveredText.length) > 0)
            if (!delivered) return fail(call, error)
            call.status = "error"
            call.error = error
            call.attempts = Math.max(call.attempts, attemptsOf(error))
            call.correlationId = correlationOf(error) ?? call.correlationId
            if (interrupted !== undefined) call.tokens = interrupted.completionTokens
            const out: Array<PipelineEvent> = []
            deliver(out, flushGuard(), "model")
            const interruption: Interruption = {
              reason: interrupted !== undefined ? interrupted.reason : "gateway-error",
              message: error.message
            }
            out.push({
              _tag: "Completed",
              completion: completionOf(call, now, "error", checked.redactions, outputRedactions, interruption)
            })
            return Effect.succeed(out)
          })

        // The pipeline keeps its own copy of what the caller received (the output guard may change it), so the
        // gateway need not keep another.
        const request: Gateway.Request = {
          payload: checked.payload,
          idempotencyKey: call.key,
          options: { ...runOptions.call, fallbackText, retainText: false }
        }
        return { request, onEvents, onError }
      })

    // A call opened in the current scope, as the effect that pulls its next events: the gateway's events made the
    // pipeline's, and a gateway failure made the call's end by `onError`. `stream` repeats it and `run` loops over
    // it, so a call is the same call either way, with one `Stream` at most between the gateway and the caller.
    const open = (
      input: unknown,
      runOptions: RunOptions
    ): Effect.Effect<Effect.Effect<Chunk.Chunk<PipelineEvent>, Option.Option<PipelineError>>, never, Scope.Scope> =>
      Effect.gen(function*() {
        const clock = yield* Effect.clock
        const started = yield* Effect.either(start(input, runOptions))
        if (started._tag === "Left") return Effect.fail(Option.some(started.left))
        const { onError, onEvents, request } = started.right
        const opened = yield* Effect.either(gateway.open(request))
        let over = false
        const failed = (error: Gateway.GatewayError) => {
          over = true
          return Effect.mapBoth(onError(error), { onFailure: Option.some, onSuccess: Chunk.unsafeFromArray })
        }
        if (opened._tag === "Left") {
          const error = opened.left
          return Effect.suspend(() => over ? Effect.fail(Option.none()) : failed(error))
        }
        const pull = opened.right
        return Effect.suspend(() =>
          over ? Effect.fail(Option.none()) : Effect.matchEffect(pull, {
            onSuccess: (chunk) =>
              Effect.succeed(Chunk.unsafeFromArray(onEvents(chunk, clock.unsafeCurrentTimeMillis()))),
            onFailure: (error) => {
              if (Option.isSome(error)) return failed(error.value)
              over = true
              return Effect.fail(Option.none())
            }
          })
        )
      })

    const stream = (input: unknown, runOptions: RunOptions = {}): Stream.Stream<PipelineEvent, PipelineError> =>
      Stream.unwrapScoped(Effect.map(open(input, runOptions), Stream.repeatEffectChunkOption))

    const run = (input: unknown, runOptions: RunOptions = {}): Effect.Effect<Completion, PipelineError> =>
      Effect.scoped(Effect.gen(function*() {
        const pull = yield* open(input, runOptions)
        let completion: Completion | undefined
        const step = Effect.matchEffect(pull, {
          onSuccess: (events) => {
            for (const event of events) if (event._tag === "Completed") completion = event.completion
            return Effect.succeed(true)
          },
          onFailure: (error) => Option.isSome(error) ? Effect.fail(error.value) : Effect.succeed(false)
        })
        while (yield* step) {
          // each step takes one chunk of events, up to the end of the call
        }
        if (completion === undefined) return yield* Effect.dieMessage("a pipeline call ended without a completion")
        return completion
      })).pipe(Effect.withSpan("Pipeline.run", spanOptions))

    return {
      run,
      stream: (input, runOptions) => Stream.withSpan(stream(input, runOptions), "Pipeline.stream", spanOptions)
    } satisfies Service
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Pipeline, never, Requirements> =>
  Layer.effect(Pipeline, make(options))

/**
 * Runs a call with the pipeline in context.
 *
 * @since 0.1.0
 * @category utils
 */
export const run = (input: unknown, options?: RunOptions): Effect.Effect<Completion, PipelineError, Pipeline> =>
  Effect.flatMap(Pipeline, (pipeline) => pipeline.run(input, options))

/**
 * Streams a call with the pipeline in context.
 *
 * @since 0.1.0
 * @category utils
 */
export const stream = (
  input: unknown,
  options?: RunOptions
): Stream.Stream<PipelineEvent, PipelineError, Pipeline> =>
  Stream.unwrap(Effect.map(Pipeline, (pipeline) => pipeline.stream(input, options)))
