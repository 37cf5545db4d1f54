/**
 * Blocks or redacts secrets and personal data in the text a prompt actually sends: every system instruction and
 * every context message's content.
 *
 * A policy is a list of named rules. Each rule has an id, an action (`block` or `redact`), an enabled flag, and a
 * pure detector from a text to the spans it found. Any finding of an enabled `block` rule fails the call with
 * `SafetyViolation`, which names rule ids and field paths and never the matched text. Findings of `redact` rules
 * are replaced by `[REDACTED:<rule id>]` and the call goes on with the redacted payload.
 *
 * Default rules:
 *
 * | id                  | action | enabled | finds                                                                  |
 * | ------------------- | ------ | ------- | ---------------------------------------------------------------------- |
 * | `secret-assignment` | block  | yes     | the value in `password: x`, `pwd=x`, `"api_key": "x"`, `my passcode is x` (password, passwd, passphrase, passcode, pwd, pw, secret, token, api key, access key, private key); not the bare word. After `secret` or `token` alone (not part of a name such as `client_secret`, not quoted), an unquoted value must look like a credential (a digit, a symbol or an inner capital): "the secret is patience" and "token: please" pass. Words such as `reset`, `expired`, `not` are no value |
 * | `aws-access-key-id` | block  | yes     | `AKIA`/`ASIA` and 16 upper-case letters or digits                      |
 * | `github-token`      | block  | yes     | `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` and 36+ letters or digits, `github_pat_...` |
 * | `stripe-secret-key` | block  | yes     | `sk_live_`, `sk_test_`, `rk_live_`, `rk_test_` and 16+ letters or digits |
 * | `slack-token`       | block  | yes     | `xoxb-`, `xoxp-`, `xoxa-`, `xoxo-`, `xoxs-`, `xoxr-` tokens             |
 * | `slack-webhook`     | block  | yes     | the path of `https://hooks.slack.com/services/...` (and `workflows/`, `triggers/`) |
 * | `google-api-key`    | block  | yes     | `AIza` and 35 characters                                               |
 * | `openai-api-key`    | block  | yes     | `sk-proj-`, `sk-svcacct-`, `sk-admin-` and 20+ characters; `sk-` and 32+ letters and digits |
 * | `anthropic-api-key` | block  | yes     | `sk-ant-` and 20+ characters                                           |
 * | `npm-token`         | block  | yes     | `npm_` and 36 letters or digits                                        |
 * | `gitlab-token`      | block  | yes     | `glpat-`, `gldt-`, `glrt-`, `glptt-`, `glft-`, `glsoat-`, `glcbt-`, `glimt-`, `gloas-`, `glagent-` and 20+ characters |
 * | `private-key`       | block  | yes     | `-----BEGIN ... PRIVATE KEY-----` up to its footer                     |
 * | `bearer-jwt`        | block  | yes     | `Bearer eyJ...` with three base64url segments, `Bearer` in any case    |
 * | `jwt`               | block  | yes     | a JSON web token on its own: `eyJ<header>.eyJ<payload>.<signature>`    |
 * | `url-credentials`   | block  | yes     | the password in `scheme://user:password@host`                          |
 * | `us-ssn`            | block  | yes     | `AAA-GG-SSSS` with a hyphen, space, dot, slash or dash, the same twice, that could be issued (area not 000, 666 or 9xx, group not 00, serial not 0000); nine bare digits are not matched |
 * | `payment-card`      | block  | yes     | 13 to 19 digits passing the Luhn check, bare or in groups: one and the same space, dash or dot throughout with groups of 3+, or one to three spaces, dashes or dots in a card's layout (4-4-4-4, 4-6-5, ...); a 13-digit number only when it starts with 4 |
 * | `email`             | redact | no      | e-mail addresses (internationalised domains in their `xn--` form too)  |
 * | `phone-number`      | redact | no      | North American numbers, and international numbers written with `+` (`+44 (20) 7123 4567`, `+33 1 42 68 53 00`) |
 *
 * What the rules read. Every rule, custom ones included, scans a normalised view of the text: NFKC (fullwidth
 * letters and digits, no-break spaces, a fullwidth colon become their plain forms) with the characters that render
 * as nothing removed (zero-width spaces and joiners, soft hyphens, byte order marks, bidirectional controls), so
 * `ｐａｓｓ\u200bword：hunter2` and `４１１１ １１１１ …` are found. Findings are mapped back: redaction replaces
 * the original characters a match came from, and nothing around them. Combining marks stay: a keyword written
 * with accents on its letters is another word.
 *
 * Every built-in rule scans in linear time whatever the input: its patterns have bounded quantifiers only (each is
 * checked with `recheck` in the tests), validity checks such as Luhn and SSN ranges are code, and long parts (a PEM
 * body, a JWT, a key whose body could hold its own prefix) are read by code with a cap. The normalised view is
 * linear too: Unicode normalisation is only ever given bounded pieces. A custom rule made with `fromRegExp` is as
 * fast as its pattern: its linearity is the author's responsibility.
 *
 * Streaming. `scanText` and `redactText` are pure, so an output guard can redact a streamed reply on top of them
 * (the pipeline's `outputGuard` does). It holds back the largest `maxMatchLength` of the enabled rules that have no
 * `anchor` (a few hundred characters with the defaults), and, for a rule with an `anchor` (private-key at
 * `-----BEGIN `, bearer-jwt and jwt at `eyJ`), the text from an anchor match until a finding that starts there must be
 * complete; it scans the held text with the characters released just before it, moves each release cut back to the
 * start of any finding that crosses it, and redacts the findings in what it releases. Those lengths count
 * characters of the normalised view, so a finding spread out by invisible characters is held back whole, up to
 * eight times those lengths in characters of the reply.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as detectors from "./internal/detectors.js"
import * as Normalize from "./internal/normalize.js"
import * as Scan from "./internal/scan.js"
import type * as Prompt from "./Prompt.js"

/**
 * What happens to a prompt in which a rule finds something.
 *
 * @since 0.1.0
 * @category models
 */
export const Action = Schema.Literal("block", "redact")

/**
 * @since 0.1.0
 * @category models
 */
export type Action = typeof Action.Type

/**
 * A stretch of text, `start` inclusive and `end` exclusive, in UTF-16 code units as `String.prototype.slice`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Span {
  readonly start: number
  readonly end: number
}

/**
 * A named rule. `detect` must be pure and return spans within the text it is given (`scanText` gives it the
 * normalised view and maps its spans back); `maxMatchLength` bounds the stretch of that text one finding depends
 * on (`Infinity` when unknown), which tells a streaming guard how much to hold back.
 *
 * @since 0.1.0
 * @category models
 */
export interface Rule {
  readonly id: string
  readonly action: Action
  readonly enabled: boolean
  readonly description: string
  readonly maxMatchLength: number
  /**
   * Where a long finding can start: every finding of the rule lies within `maxMatchLength` characters after the
   * start of a match of this pattern (linear, like the rule's own, and at most 64 characters long). It lets a
   * streaming guard hold back text only from such a match on, instead of `maxMatchLength` characters of every reply.
   */
  readonly anchor?: RegExp | undefined
  readonly detect: (text: string) => ReadonlyArray<Span>
}

/**
 * One thing a rule found in a text.
 *
 * @since 0.1.0
 * @category models
 */
export interface Finding extends Scan.Finding {}

/**
 * How many times a rule matched in one field of the payload (`systemInstructions[0]`, `context[3].content`).
 *
 * @since 0.1.0
 * @category models
 */
export class RuleHit extends Schema.Class<RuleHit>("@genesys-llm/core/RuleHit")({
  ruleId: Schema.String,
  path: Schema.String,
  count: Schema.Int
}) {}

/**
 * The prompt was blocked. `violations` names the blocking rules and the fields they matched in; the matched text
 * is never kept.
 *
 * @since 0.1.0
 * @category errors
 */
export class SafetyViolation extends Schema.TaggedError<SafetyViolation>("@genesys-llm/core/SafetyViolation")(
  "SafetyViolation",
  { violations: Schema.Array(RuleHit) }
) {
  /**
   * The distinct ids of the blocking rules, in order of first appearance.
   */
  get ruleIds(): ReadonlyArray<string> {
    return [...new Set(this.violations.map((v) => v.ruleId))]
  }

  override get message(): string {
    const paths = new Map<string, Array<string>>()
    for (const v of this.violations) {
      const list = paths.get(v.ruleId)
      if (list === undefined) paths.set(v.ruleId, [v.path])
      else list.push(v.path)
    }
    const parts = [...paths].map(([ruleId, list]) => `rule ${ruleId} in ${list.join(", ")}`)
    return `prompt blocked by the safety policy: ${parts.join("; ")}`
  }
}

/**
 * The policy's configuration is wrong: an unknown rule id, a rule both disabled and given an action, a duplicate
 * or malformed id. `setting` names the option or environment variable.
 *
 * @since 0.1.0
 * @category errors
 */
export class SafetyConfigError extends Schema.TaggedError<SafetyConfigError>("@genesys-llm/core/SafetyConfigError")(
  "SafetyConfigError",
  { setting: Schema.String, reason: Schema.String }
) {
  override get message(): string {
    return `invalid safety policy setting ${this.setting}: ${this.reason}`
  }
}

/**
 * @since 0.1.0
 * @category errors
 */
export type SafetyError = SafetyViolation | SafetyConfigError

/**
 * What a passed check gives: the payload to send (redacted where a redact rule matched) and, per rule and field,
 * how many matches were redacted.
 *
 * @since 0.1.0
 * @category models
 */
export interface SafetyResult {
  readonly payload: Prompt.PromptPayload
  readonly redactions: ReadonlyArray<RuleHit>
}

// ---------------------------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------------------------

/**
 * A built-in rule from its record (`internal/detectors.ts`): the record holds the patterns, the bound, the
 * prefilter and the detector together, so that the default rules and the ReDoS test's pattern list come from one
 * place.
 */
const fromSpec = (spec: detectors.RuleSpec): Rule => ({
  id: spec.id,
  action: spec.action,
  enabled: spec.enabled,
  description: spec.description,
  maxMatchLength: spec.maxMatchLength,
  detect: detectors.detector(spec),
  anchor: spec.anchor
})

/**
 * The default rules, in the order of the table in the module's documentation.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultRules: ReadonlyArray<Rule> = detectors.rules.map(fromSpec)

/**
 * A rule from a regular expression: every match is a finding, unless `validate` rejects it (the search then goes
 * on one character after the rejected match's start). The expression is copied with the `g` flag.
 *
 * Scanning is only as fast as the expression: keep quantifiers bounded and alternatives unambiguous (check it
 * with a ReDoS checker such as `recheck`), or the policy is no longer linear. Give `maxMatchLength` when a
 * streaming guard uses the rule; without it the rule's matches are taken as unbounded.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromRegExp = (options: {
  readonly id: string
  readonly pattern: RegExp
  readonly action?: Action | undefined
  readonly enabled?: boolean | undefined
  readonly description?: string | undefined
  readonly maxMatchLength?: number | undefined
  readonly validate?: ((match: string) => boolean) | undefined
}): Rule => {
  const flags = options.pattern.flags.replace(/[gy]/g, "")
  const pattern = new RegExp(options.pattern.source, `${flags}g`)
  const validate = options.validate
  return {
    id: options.id,
    action: options.action ?? "block",
    enabled: options.enabled ?? true,
    description: options.description ?? `matches /${options.pattern.source}/`,
    maxMatchLength: options.maxMatchLength ?? Infinity,
    detect: (text) =>
      detectors.scanPattern(pattern, text, (match) =>
        validate === undefined || validate(match[0])
          ? { start: match.index, end: match.index + match[0].length }
          : undefined)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Pure scanning
// ---------------------------------------------------------------------------------------------------------------

/**
 * The text that replaces a redacted match.
 *
 * @since 0.1.0
 * @category utils
 */
export const redactionMarker = (ruleId: string): string => `[REDACTED:${ruleId}]`

/**
 * Every finding of the enabled rules in a text, ordered by start (longer first on a tie). Findings of different
 * rules may overlap. Spans a detector returns outside the text, or empty, are dropped.
 *
 * The rules read a normalised view of the text (see the module's documentation), so lookalike and invisible
 * characters cannot hide a match; the findings are positions in the text itself, covering the characters each
 * match came from.
 *
 * @since 0.1.0
 * @category utils
 */
export const scanText = (rules: ReadonlyArray<Rule>, text: string): ReadonlyArray<Finding> =>
  Scan.scanView(rules, Normalize.view(text))

/**
 * Replaces every finding with `[REDACTED:<rule id>]`, whatever its action. Overlapping findings are merged into
 * one marker, named after the rule of the earliest (then longest) one.
 *
 * @since 0.1.0
 * @category utils
 */
export const redactText = (text: string, findings: ReadonlyArray<Finding>): string => {
  if (findings.length === 0) return text
  const sorted = Scan.inOrder(findings) ? findings : [...findings].sort(Scan.byPosition)
  let out = ""
  let cursor = 0
  let i = 0
  while (i < sorted.length) {
    const first = sorted[i]
    let end = first.end
    i++
    while (i < sorted.length && sorted[i].start < end) {
      end = Math.max(end, sorted[i].end)
      i++
    }
    out += text.slice(cursor, first.start) + redactionMarker(first.ruleId)
    cursor = end
  }
  return out + text.slice(cursor)
}

/**
 * How many trailing characters of a growing text a streaming guard must hold back so that no finding of the
 * enabled rules is released half-seen: the largest `maxMatchLength` among them (0 when none is enabled, `Infinity`
 * when one is unbounded).
 *
 * @since 0.1.0
 * @category utils
 */
export const holdBack = (rules: ReadonlyArray<Rule>): number =>
  rules.reduce((max, r) => r.enabled ? Math.max(max, r.maxMatchLength) : max, 0)

const hitsOf = (findings: ReadonlyArray<Finding>, path: string, action: Action): Array<RuleHit> => {
  const counts = new Map<string, number>()
  for (const f of findings) {
    if (f.action === action) counts.set(f.ruleId, (counts.get(f.ruleId) ?? 0) + 1)
  }
  // Built from the policy's own counts, so the class's validation is skipped.
  return [...counts].map(([ruleId, count]) => new RuleHit({ ruleId, path, count }, true))
}

/**
 * Checks a payload against the rules without effects: the blocking hits as a `SafetyViolation`, or the payload
 * with redactions applied. Only system instructions and context contents are scanned; `modelId`, temperature and
 * token limits are not prompt text.
 *
 * @since 0.1.0
 * @category utils
 */
export const checkPayload = (
  rules: ReadonlyArray<Rule>,
  payload: Prompt.PromptPayload
): Either.Either<SafetyResult, SafetyViolation> => {
  const violations: Array<RuleHit> = []
  const redactions: Array<RuleHit> = []
  const visit = (text: string, path: string): string => {
    const findings = scanText(rules, text)
    if (findings.length === 0) return text
    violations.push(...hitsOf(findings, path, "block"))
    const redact = findings.filter((f) => f.action === "redact")
    redactions.push(...hitsOf(redact, path, "redact"))
    return redactText(text, redact)
  }
  const systemInstructions = payload.systemInstructions.map((text, i) => visit(text, `systemInstructions[${i}]`))
  const context = payload.context.map((message, i) => {
    const content = visit(message.content, `context[${i}].content`)
    return content === message.content ? message : { ...message, content }
  })
  if (violations.length > 0) return Either.left(new SafetyViolation({ violations }))
  if (redactions.length === 0) return Either.right({ payload, redactions })
  return Either.right({ payload: { ...payload, systemInstructions, context }, redactions })
}

// ---------------------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------------------

/**
 * How to build a policy. `rules` replaces the default rules; `custom` adds rules after them; `actions` sets a
 * rule's action and enables it (`{ email: "redact" }` turns the e-mail rule on); `disabled` turns rules off.
 * Every id named must exist, and a rule cannot be both disabled and given an action.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly rules?: ReadonlyArray<Rule> | undefined
  readonly custom?: ReadonlyArray<Rule> | undefined
  readonly actions?: Readonly<Record<string, Action>> | undefined
  readonly disabled?: ReadonlyArray<string> | undefined
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

interface Setting {
  readonly name: string
  readonly ids: ReadonlyArray<string>
  readonly apply: (rule: Rule) => Rule
}

const applySettings = (
  rules: ReadonlyArray<Rule>,
  settings: ReadonlyArray<Setting>
): Either.Either<ReadonlyArray<Rule>, SafetyConfigError> => {
  const known = new Set(rules.map((r) => r.id))
  const owner = new Map<string, string>()
  for (const setting of settings) {
    for (const id of setting.ids) {
      if (!known.has(id)) {
        return Either.left(
          new SafetyConfigError({
            setting: setting.name,
            reason: `unknown rule id ${JSON.stringify(id)}; known ids: ${[...known].join(", ")}`
          })
        )
      }
      const previous = owner.get(id)
      if (previous !== undefined && previous !== setting.name) {
        return Either.left(
          new SafetyConfigError({
            setting: setting.name,
            reason: `rule ${JSON.stringify(id)} is also named in ${previous}`
          })
        )
      }
      owner.set(id, setting.name)
    }
  }
  return Either.right(rules.map((r) => {
    const name = owner.get(r.id)
    const setting = name === undefined ? undefined : settings.find((s) => s.name === name)
    return setting === undefined ? r : setting.apply(r)
  }))
}

const checkIds = (
  groups: ReadonlyArray<readonly [setting: string, rules: ReadonlyArray<Rule>]>
): Either.Either<void, SafetyConfigError> => {
  const seen = new Set<string>()
  for (const [setting, rules] of groups) {
    for (const r of rules) {
      if (!ID.test(r.id)) {
        return Either.left(
          new SafetyConfigError({
            setting,
            reason: "a rule id must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
          })
        )
      }
      if (seen.has(r.id)) {
        return Either.left(new SafetyConfigError({ setting, reason: `duplicate rule id ${JSON.stringify(r.id)}` }))
      }
      if (!(r.maxMatchLength > 0)) {
        return Either.left(
          new SafetyConfigError({ setting, reason: `rule ${JSON.stringify(r.id)} needs a positive maxMatchLength` })
        )
      }
      seen.add(r.id)
    }
  }
  return Either.void
}

const withAction = (action: Action) => (r: Rule): Rule => ({ ...r, action, enabled: true })
const disable = (r: Rule): Rule => ({ ...r, enabled: false })

/**
 * The rules a policy built from these options uses, or what is wrong with the options.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolveRules = (options: Options = {}): Either.Either<ReadonlyArray<Rule>, SafetyConfigError> => {
  const base = options.rules ?? defaultRules
  const custom = options.custom ?? []
  const rules = [...base, ...custom]
  return checkIds([["rules", base], ["custom", custom]]).pipe(
    Either.flatMap(() => {
      const actions = Object.entries(options.actions ?? {})
      const settings: Array<Setting> = []
      for (const action of Action.literals) {
        const ids = actions.filter(([, a]) => a === action).map(([id]) => id)
        // Both actions come from one option: a rule can be named in it once only, so the names must not clash.
        settings.push({ name: `actions (${action})`, ids, apply: withAction(action) })
      }
      settings.push({ name: "disabled", ids: options.disabled ?? [], apply: disable })
      return applySettings(rules, settings)
    })
  )
}

// ---------------------------------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The rules in force, enabled or not, after configuration. */
  readonly rules: ReadonlyArray<Rule>
  readonly check: (payload: Prompt.PromptPayload) => Effect.Effect<SafetyResult, SafetyViolation>
}

/**
 * @since 0.1.0
 * @category context
 */
export class SafetyPolicy extends Context.Tag("@genesys-llm/core/SafetyPolicy")<SafetyPolicy, Service>() {}

/**
 * A policy over resolved rules (see `resolveRules`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromRules = (rules: ReadonlyArray<Rule>): Service => ({
  rules,
  check: Effect.fn("SafetyPolicy.check")(function*(payload: Prompt.PromptPayload) {
    const result = yield* checkPayload(rules, payload)
    yield* Effect.annotateCurrentSpan("safety.redactions", result.redactions.reduce((n, r) => n + r.count, 0))
    return result
  }, Effect.tapError((error) => Effect.annotateCurrentSpan("safety.blocked", error.ruleIds.join(","))))
})

/**
 * Builds a policy from options (the default rules and actions when none are given).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, SafetyConfigError> =>
  Effect.map(resolveRules(options), fromRules)

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<SafetyPolicy, SafetyConfigError> =>
  Layer.effect(SafetyPolicy, make(options))

/**
 * The default rules with their default actions.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDefault: Layer.Layer<SafetyPolicy> = Layer.succeed(SafetyPolicy, fromRules(defaultRules))

/**
 * A policy without rules: every payload passes unchanged. For tests of the stages around it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNoop: Layer.Layer<SafetyPolicy> = Layer.succeed(SafetyPolicy, fromRules([]))

const idList = (name: string): Config.Config<ReadonlyArray<string>> =>
  Config.string(name).pipe(
    Config.withDefault(""),
    Config.map((value) => value.split(",").map((id) => id.trim()).filter((id) => id.length > 0))
  )

/**
 * The policy from the options, then the environment: `LLM_SAFETY_BLOCK_RULES` and `LLM_SAFETY_REDACT_RULES`
 * (comma-separated rule ids) set those rules' actions and enable them, `LLM_SAFETY_DISABLED_RULES` turns rules
 * off. An unknown id, or an id named in two of these settings, fails with a `ConfigError` naming the setting; a
 * problem in the options fails with `SafetyConfigError`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Options = {}
): Layer.Layer<SafetyPolicy, SafetyConfigError | ConfigError.ConfigError> =>
  Layer.effect(
    SafetyPolicy,
    Effect.gen(function*() {
      const rules = yield* resolveRules(options)
      const { block, disabled, redact } = yield* Config.all({
        block: idList("LLM_SAFETY_BLOCK_RULES"),
        redact: idList("LLM_SAFETY_REDACT_RULES"),
        disabled: idList("LLM_SAFETY_DISABLED_RULES")
      })
      const resolved = yield* applySettings(rules, [
        { name: "LLM_SAFETY_BLOCK_RULES", ids: block, apply: withAction("block") },
        { name: "LLM_SAFETY_REDACT_RULES", ids: redact, apply: withAction("redact") },
        { name: "LLM_SAFETY_DISABLED_RULES", ids: disabled, apply: disable }
      ]).pipe(
        Either.mapLeft((error) => ConfigError.InvalidData([error.setting], error.message))
      )
      return fromRules(resolved)
    })
  )
