/**
 * The audit record of one call and the hash chain that links the records of a log.
 *
 * Privacy by construction: no field of an entry can hold prose. Every string is either a literal, an ISO
 * timestamp, a hex hash, or a short identifier (letters, digits and `._:-`, plus `/@+` in a model id) with no
 * whitespace and a small length bound; a model id must also contain a letter, so a bare SSN or card number is
 * not a model id. Prompt text, reply text, a `Bearer ...` header or a sentence with a secret in it cannot pass the
 * schema, and `fromCall` reads only counts, the model id, the key, error tags and rule ids from a call, replacing a
 * value that does not fit with a placeholder rather than copying it.
 *
 * @since 0.1.0
 */
import { sha256 as sha256Digest } from "@noble/hashes/sha2.js"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Gateway from "./Gateway.js"
import { canonicalJson } from "./internal/canonicalJson.js"

const token = (pattern: RegExp, what: string) =>
  Schema.String.pipe(Schema.filter((s) => pattern.test(s), { message: () => `expected ${what}` }))

const idPattern = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/
const modelIdPattern = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$/
const errorTagPattern = /^[A-Za-z][A-Za-z0-9_]{0,63}$/
const ruleIdPattern = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/
const hashPattern = /^[0-9a-f]{64}$/
const timestampPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const letter = /[A-Za-z]/

/**
 * How a call ended.
 *
 * @since 0.1.0
 * @category models
 */
export const Status = Schema.Literal("success", "fallback", "error", "blocked", "invalid", "cancelled").annotations({
  identifier: "AuditStatus"
})

/**
 * @since 0.1.0
 * @category models
 */
export type Status = typeof Status.Type

/**
 * An ISO-8601 UTC timestamp with milliseconds, as `Date.prototype.toISOString` writes it.
 *
 * @since 0.1.0
 * @category models
 */
export const Timestamp = token(timestampPattern, "an ISO-8601 UTC timestamp")

/**
 * An identifier: a letter or digit, then up to 127 letters, digits or `._:-`. Idempotency keys and gateway
 * correlation ids.
 *
 * @since 0.1.0
 * @category models
 */
export const Identifier = token(idPattern, "an identifier of at most 128 characters")

/**
 * A model id: up to 128 characters of letters, digits and `._:/@+-`, with at least one letter.
 *
 * @since 0.1.0
 * @category models
 */
export const ModelId = Schema.String.pipe(
  Schema.filter((s) => modelIdPattern.test(s) && letter.test(s), {
    message: () => "expected a model id of at most 128 characters"
  })
)

/**
 * The tag of an error (`GatewayTimeoutError`): a letter, then up to 63 letters, digits or `_`.
 *
 * @since 0.1.0
 * @category models
 */
export const ErrorTag = token(errorTagPattern, "an error tag")

/**
 * The id of a safety rule: up to 64 letters, digits or `._:-`.
 *
 * @since 0.1.0
 * @category models
 */
export const RuleId = token(ruleIdPattern, "a rule id")

/**
 * A SHA-256 hash as 64 lowercase hex digits.
 *
 * @since 0.1.0
 * @category models
 */
export const Hash = token(hashPattern, "a SHA-256 hash in hex")

const Count = Schema.NonNegativeInt

/**
 * Why a call with status `fallback` fell back: `deadline` (the first frame was late, or a retry would have been),
 * `rate-limited` (a `429`'s `Retry-After` or the rate budget would have held it past its deadline), `circuit-open`
 * (the circuit breaker was open). See `Gateway.fallbackCause`. Entries written before this field existed have none, and stay valid.
 *
 * @since 0.1.0
 * @category models
 */
export const FallbackReason = Schema.Literal(
  ...(["deadline", "rate-limited", "circuit-open"] as const satisfies ReadonlyArray<Gateway.FallbackCause>)
)

/**
 * @since 0.1.0
 * @category models
 */
export type FallbackReason = typeof FallbackReason.Type

/**
 * The fields of a call's record, before it is placed in a chain. This is what the pipeline hands to an
 * `AuditSink`; the sink adds `seq`, `prevHash` and `hash`.
 *
 * `contextMessageCount` is the number of context messages the call received; `droppedContextMessages` how
 * many of them the context window left out of the request.
 *
 * @since 0.1.0
 * @category models
 */
export const CallRecord = Schema.Struct({
  kind: Schema.tag("call"),
  timestamp: Timestamp,
  idempotencyKey: Identifier,
  modelId: ModelId,
  latencyMs: Count,
  tokensUsed: Count,
  status: Status,
  systemInstructionCount: Count,
  contextMessageCount: Count,
  attempts: Count,
  droppedContextMessages: Count,
  safetyRuleIds: Schema.Array(RuleId).pipe(Schema.maxItems(32)),
  errorTag: Schema.optionalWith(ErrorTag, { exact: true }),
  correlationId: Schema.optionalWith(Identifier, { exact: true }),
  fallbackReason: Schema.optionalWith(FallbackReason, { exact: true })
}).annotations({ identifier: "CallRecord" })

/**
 * @since 0.1.0
 * @category models
 */
export type CallRecord = typeof CallRecord.Type

const chainFields = {
  seq: Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)),
  prevHash: Hash,
  hash: Hash
}

/**
 * One call as a line of an audit log: the call's record plus its place in the chain. `seq` counts lines from 1,
 * `prevHash` is the previous line's `hash` (64 zeros for the first line), and `hash` is the SHA-256 of the
 * canonical JSON (sorted keys, no whitespace) of the line without `hash`.
 *
 * @since 0.1.0
 * @category models
 */
export const AuditEntry = Schema.Struct({ ...CallRecord.fields, ...chainFields }).annotations({
  identifier: "AuditEntry"
})

/**
 * @since 0.1.0
 * @category models
 */
export type AuditEntry = typeof AuditEntry.Type

/**
 * Why a file sink moved the tail of a log aside when it opened the file.
 *
 * @since 0.1.0
 * @category models
 */
export const RecoveryReason = Schema.Literal("no-trailing-newline", "invalid-json", "invalid-entry", "chain-broken")

/**
 * @since 0.1.0
 * @category models
 */
export type RecoveryReason = typeof RecoveryReason.Type

/**
 * The fields of a recovery record before it is placed in the chain.
 *
 * @since 0.1.0
 * @category models
 */
export const RecoveryRecord = Schema.Struct({
  kind: Schema.tag("recovery"),
  timestamp: Timestamp,
  reason: RecoveryReason,
  tornBytes: Count,
  tornSha256: Hash,
  sideFile: token(/^\.torn-[0-9]{1,16}(-[0-9]{1,4})?$/, "a side-file suffix")
}).annotations({ identifier: "RecoveryRecord" })

/**
 * @since 0.1.0
 * @category models
 */
export type RecoveryRecord = typeof RecoveryRecord.Type

/**
 * A line written by a file sink when it found a torn tail on open. It is part of the chain like any entry: it
 * links to the last good line, and `tornSha256` ties the moved bytes, kept in the file at the log's path plus
 * `sideFile`, to the chain.
 *
 * @since 0.1.0
 * @category models
 */
export const RecoveryEntry = Schema.Struct({ ...RecoveryRecord.fields, ...chainFields }).annotations({
  identifier: "RecoveryEntry"
})

/**
 * @since 0.1.0
 * @category models
 */
export type RecoveryEntry = typeof RecoveryEntry.Type

/**
 * Any line of an audit log.
 *
 * @since 0.1.0
 * @category models
 */
export const Line = Schema.Union(AuditEntry, RecoveryEntry)

/**
 * @since 0.1.0
 * @category models
 */
export type Line = typeof Line.Type

/**
 * A record that does not satisfy the schema. Only the failing paths are named: the values are not echoed, so
 * that a value which should never have reached the audit trail does not reach a log through its error.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidAuditEntryError extends Schema.TaggedError<InvalidAuditEntryError>(
  "@genesys-llm/core/InvalidAuditEntryError"
)("InvalidAuditEntryError", {
  paths: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `invalid audit entry at ${this.paths.join(", ")}`
  }
}

const pathsOf = (error: ParseResult.ParseError): ReadonlyArray<string> => {
  const paths = ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) =>
    issue.path.length === 0 ? "<root>" : issue.path.map(String).join(".")
  )
  return [...new Set(paths)]
}

const validateCall = Schema.validateEither(CallRecord, { onExcessProperty: "error" })
const validateRecovery = Schema.validateEither(RecoveryRecord, { onExcessProperty: "error" })

/**
 * Checks a record against its schema (sinks call it before writing).
 *
 * @since 0.1.0
 * @category utils
 */
export const validate = <R extends CallRecord | RecoveryRecord>(
  record: R
): Effect.Effect<R, InvalidAuditEntryError> => {
  const result: Either.Either<unknown, ParseResult.ParseError> = record.kind === "recovery"
    ? validateRecovery(record as RecoveryRecord)
    : validateCall(record as CallRecord)
  return Either.isRight(result)
    ? Effect.succeed(record)
    : Effect.fail(new InvalidAuditEntryError({ paths: pathsOf(result.left) }))
}

// -----------------------------------------------------------------------------
// The chain
// -----------------------------------------------------------------------------

/**
 * Where a chain stands: the `seq` and `hash` of its last line.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChainHead {
  readonly seq: number
  readonly hash: string
}

/**
 * The head of an empty chain: `seq` 0 and a hash of 64 zeros, which the first line takes as its `prevHash`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const genesis: ChainHead = { seq: 0, hash: "0".repeat(64) }

/**
 * The canonical JSON of a value: keys sorted, no whitespace. The text a line is written as, and hashed in.
 *
 * @since 0.1.0
 * @category utils
 */
export const canonical: (value: unknown) => string = canonicalJson

const utf8 = new TextEncoder()

/**
 * The SHA-256 (hex) of a string's UTF-8 bytes or of bytes. Synchronous (the chain is hashed inside the serialised
 * writer and `verify` hashes every line in a plain loop) and free of platform crypto, so it gives the same result
 * in every runtime: `@noble/hashes` computes the digest, `Encoding.encodeHex` spells it.
 *
 * @since 0.1.0
 * @category utils
 */
export const sha256 = (input: string | Uint8Array): string =>
  Encoding.encodeHex(sha256Digest(typeof input === "string" ? utf8.encode(input) : input))

/**
 * The hash a line must carry: the SHA-256 of the canonical JSON of the line without its `hash` field.
 *
 * @since 0.1.0
 * @category utils
 */
export const hashOf = (line: Omit<Line, "hash"> | Line): string => {
  const { hash: _hash, ...rest } = line as Line
  return sha256(canonicalJson(rest))
}

/**
 * Places a record after `head`: the next `seq`, `head.hash` as `prevHash`, and the line's own hash.
 *
 * @since 0.1.0
 * @category constructors
 */
export const seal: {
  (record: CallRecord, head: ChainHead): AuditEntry
  (record: RecoveryRecord, head: ChainHead): RecoveryEntry
  (record: CallRecord | RecoveryRecord, head: ChainHead): Line
} = (record: CallRecord | RecoveryRecord, head: ChainHead): never => {
  const unsealed = { ...record, seq: head.seq + 1, prevHash: head.hash }
  return { ...unsealed, hash: hashOf(unsealed) } as never
}

/**
 * The text of a line as a file sink writes it (without the newline): its canonical JSON.
 *
 * @since 0.1.0
 * @category utils
 */
export const encodeLine = (line: Line): string => canonicalJson(line)

// -----------------------------------------------------------------------------
// Building a record from a call
// -----------------------------------------------------------------------------

/**
 * What the pipeline knows about a finished call. Only counts and identifiers are read: `input` may be the
 * payload or, for an invalid call, whatever was received; of it only the lengths of `systemInstructions` and
 * `context` and the `modelId` are used. Of `error` only its `_tag` is kept.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallSummary {
  readonly status: Status
  readonly idempotencyKey: string
  readonly input?: unknown
  /** Overrides the model id read from `input`. */
  readonly modelId?: string | undefined
  readonly latencyMs: number
  readonly tokensUsed?: number | undefined
  readonly attempts?: number | undefined
  readonly droppedContextMessages?: number | undefined
  readonly safetyRuleIds?: ReadonlyArray<string> | undefined
  readonly error?: unknown
  readonly correlationId?: string | undefined
  /** Why a call with status `fallback` fell back; kept only for that status. */
  readonly fallbackReason?: FallbackReason | undefined
}

/**
 * The placeholder for a model id or key that does not fit its schema.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unknownValue = "unknown"

/**
 * The placeholder for a safety rule id that does not fit its schema.
 *
 * @since 0.1.0
 * @category constructors
 */
export const invalidRuleId = "invalid-rule-id"

/**
 * A model id as the audit trail and the metrics webhook show it: the id itself when it fits `ModelId`, else
 * `"unknown"`.
 *
 * @since 0.1.0
 * @category utils
 */
export const sanitizeModelId = (value: unknown): string =>
  typeof value === "string" && modelIdPattern.test(value) && letter.test(value) ? value : unknownValue

const count = (value: unknown): number =>
  typeof value === "number" && Number.isFinite(value) && value > 0
    ? Math.min(Math.round(value), Number.MAX_SAFE_INTEGER)
    : 0

const lengthOf = (value: unknown, key: string): number => {
  if (typeof value !== "object" || value === null) return 0
  const field = (value as Record<string, unknown>)[key]
  return Array.isArray(field) ? field.length : 0
}

const errorTagOf = (error: unknown): string | undefined => {
  if (error === undefined) return undefined
  const tag = typeof error === "object" && error !== null ? (error as Record<string, unknown>)._tag : undefined
  return typeof tag === "string" && errorTagPattern.test(tag) ? tag : "UnknownError"
}

/**
 * Builds a call's record at the given time. Total: a value that does not fit its field is replaced by a
 * placeholder (`"unknown"`, `"invalid-rule-id"`, `"UnknownError"`) or left out (`correlationId`), never copied.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromCallAt = (summary: CallSummary, epochMillis: number): CallRecord => {
  const input = summary.input
  const modelId = summary.modelId !== undefined
    ? summary.modelId
    : typeof input === "object" && input !== null
    ? (input as Record<string, unknown>).modelId
    : undefined
  const errorTag = errorTagOf(summary.error)
  const correlationId = typeof summary.correlationId === "string" && idPattern.test(summary.correlationId)
    ? summary.correlationId
    : undefined
  return {
    kind: "call",
    timestamp: new Date(epochMillis).toISOString(),
    idempotencyKey: idPattern.test(summary.idempotencyKey) ? summary.idempotencyKey : unknownValue,
    modelId: sanitizeModelId(modelId),
    latencyMs: count(summary.latencyMs),
    tokensUsed: count(summary.tokensUsed),
    status: summary.status,
    systemInstructionCount: lengthOf(input, "systemInstructions"),
    contextMessageCount: lengthOf(input, "context"),
    attempts: count(summary.attempts),
    droppedContextMessages: count(summary.droppedContextMessages),
    safetyRuleIds: (summary.safetyRuleIds ?? []).slice(0, 32).map((id) => ruleIdPattern.test(id) ? id : invalidRuleId),
    ...(errorTag !== undefined ? { errorTag } : {}),
    ...(correlationId !== undefined ? { correlationId } : {}),
    ...(summary.status === "fallback" && summary.fallbackReason !== undefined
      ? { fallbackReason: summary.fallbackReason }
      : {})
  }
}

/**
 * Builds a call's record, its timestamp from the `Clock`. See `fromCallAt`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromCall = (summary: CallSummary): Effect.Effect<CallRecord> =>
  Effect.map(Clock.currentTimeMillis, (now) => fromCallAt(summary, now))
