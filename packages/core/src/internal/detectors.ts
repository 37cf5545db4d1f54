/**
 * The built-in rules' records, in the order of the table in `SafetyPolicy`'s documentation. `SafetyPolicy`
 * derives its default rules from them, and the ReDoS test its list of patterns.
 *
 * Linear time, whatever the input: every pattern has bounded quantifiers only, so one match attempt reads a bounded
 * number of characters, and a rejected candidate restarts the search one character further on; anything longer (a
 * PEM body, a JWT payload, an assignment's value, the sides of an e-mail address) is read by code with a cap.
 * Validity checks (Luhn, SSN ranges, word boundaries) are code, not pattern. The test suite runs each pattern
 * through `recheck`.
 *
 * Speed: most texts hold nothing a rule looks for, so a rule whose every match contains a fixed string names it as
 * its prefilter, and its detector is skipped when `indexOf` does not find it. Prefilters are exact: they only skip
 * texts in which the patterns cannot match.
 *
 * @internal
 */
import * as contactRules from "./contactRules.js"
import * as keyRules from "./keyRules.js"
import * as numberRules from "./numberRules.js"
import type { RuleSpec } from "./ruleSpec.js"
import * as secretRules from "./secretRules.js"

export { luhn } from "./numberRules.js"
export { detector, mayMatch, type RuleSpec, scanPattern, type Span } from "./ruleSpec.js"

/** @internal */
export const rules: ReadonlyArray<RuleSpec> = [
  secretRules.secretAssignment,
  keyRules.awsAccessKeyId,
  keyRules.githubToken,
  keyRules.stripeSecretKey,
  keyRules.slackToken,
  keyRules.slackWebhook,
  keyRules.googleApiKey,
  keyRules.openAiApiKey,
  keyRules.anthropicApiKey,
  keyRules.npmToken,
  keyRules.gitlabToken,
  keyRules.privateKey,
  keyRules.bearerJwt,
  keyRules.jwt,
  keyRules.urlCredentials,
  numberRules.usSsn,
  numberRules.paymentCard,
  contactRules.email,
  contactRules.phone
]

/**
 * Every pattern the built-in rules run, with its rule's id, for the ReDoS test.
 *
 * @internal
 */
export const patterns: ReadonlyArray<readonly [ruleId: string, pattern: RegExp]> = rules.flatMap((spec) =>
  spec.patterns.map((pattern) => [spec.id, pattern] as const)
)
