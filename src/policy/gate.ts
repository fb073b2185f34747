import { PolicyUnavailable } from '../errors.js';
import type { EventPayload, GitInfo, LifecycleAction, Recorder } from '../history/types.js';
import type { PolicyClient } from './client.js';
import { PolicyDecisionDenied, PolicyEngineUnavailable } from './errors.js';
import type { Decision, DecisionRecord, Enforcement, PolicyDomain, PolicyQuestion } from './types.js';

export interface PolicyQuery {
  domain: PolicyDomain;
  /** Normally a PolicyQuestion; any other string reaches the policy, which answers unsupported_question. */
  question: PolicyQuestion | (string & {});
  facts: unknown;
  thresholds: unknown;
}

export interface GateRequest extends PolicyQuery {
  mode: Enforcement;
}

/** Everything the gate touches, injected. */
export interface GateContext {
  client: PolicyClient;
  recorder: Recorder;
  /** policyVersion(...) of the policy files and this domain's thresholds. */
  policyVersion: string;
  manifestSha256: string | null;
  /** Who ran the command; in shadow mode the record's actor is `shadow` and this goes in `operator`. */
  actor: string;
  action: LifecycleAction;
  git?: GitInfo;
  /** Where `[SHADOW] ...` lines go (the CLI passes its stderr writer). */
  warn: (line: string) => void;
  /** Told of a decision that did not allow (enforced or shadow), once it is recorded: the operation's notice. Must not throw. */
  onDenied?: (record: DecisionRecord) => void;
}

export type PolicyOutcome =
  | { kind: 'decided'; record: DecisionRecord }
  | { kind: 'unavailable'; error: PolicyUnavailable; enforcement: Enforcement };

/** The decision as it will be obeyed or shadowed. Pure. */
export function toDecisionRecord(decision: Decision, mode: Enforcement, policyVersion: string): DecisionRecord {
  const record: DecisionRecord = { ...decision, enforcement: mode, policy_version: policyVersion };
  if (mode === 'shadow' && !decision.allowed) record.would_have_blocked = violationIds(decision);
  return record;
}

/** Distinct violation ids in the decision's (sorted) order. */
export function violationIds(decision: Pick<Decision, 'violations'>): string[] {
  return [...new Set(decision.violations.map((v) => v.id))];
}

/** Ask the engine; an unavailable engine is an outcome here, not an exception. */
export async function evaluatePolicy(
  query: PolicyQuery,
  mode: Enforcement,
  client: PolicyClient,
  policyVersion: string,
): Promise<PolicyOutcome> {
  try {
    const decision = await client.decide(query.domain, {
      question: query.question,
      facts: query.facts,
      thresholds: query.thresholds,
    });
    return { kind: 'decided', record: toDecisionRecord(decision, mode, policyVersion) };
  } catch (err) {
    if (err instanceof PolicyUnavailable) return { kind: 'unavailable', error: err, enforcement: mode };
    throw err;
  }
}

/**
 * Ask, record, obey. Every decision is written to history before anything else happens, so an
 * audit sees denials and shadowed denials as well as allows.
 *
 * - enforce, allowed: returns the record.
 * - enforce, denied: throws PolicyDecisionDenied (exit 3).
 * - enforce, engine unavailable: records it and throws PolicyUnavailable (exit 4). Fail closed.
 * - shadow, denied: prints `[SHADOW] would have blocked: <ids>` and returns the record; the action
 *   proceeds.
 * - shadow, engine unavailable: prints `[SHADOW] policy engine unavailable, not enforced: ...`,
 *   records it and returns null; the action proceeds, because shadow mode is the operator's explicit
 *   choice that this policy must not block, and an engine outage is no reason to block harder than a
 *   deny would.
 */
export async function gate(request: GateRequest, ctx: GateContext): Promise<DecisionRecord | null> {
  const outcome = await evaluatePolicy(request, request.mode, ctx.client, ctx.policyVersion);
  const shadow = request.mode === 'shadow';
  const common = {
    kind: 'event' as const,
    actor: shadow ? 'shadow' : ctx.actor,
    policy_version: ctx.policyVersion,
    manifest_sha256: ctx.manifestSha256,
  };
  const base: EventPayload = {
    action: ctx.action,
    stage: 'policy_decided',
    ...(shadow ? { operator: ctx.actor } : {}),
    ...(ctx.git ? { git: ctx.git } : {}),
  };

  if (outcome.kind === 'unavailable') {
    const failure = outcome.error instanceof PolicyEngineUnavailable ? outcome.error.failure : 'unknown';
    if (shadow) ctx.warn(`[SHADOW] policy engine unavailable, not enforced: ${outcome.error.message}`);
    await ctx.recorder.append({
      ...common,
      payload: {
        ...base,
        stage: shadow ? 'policy_decided' : 'failed',
        detail: `policy engine unavailable (${failure}): ${outcome.error.message}`,
        policy_unavailable: { domain: request.domain, question: request.question, failure, enforcement: request.mode },
      },
    });
    if (shadow) return null;
    throw outcome.error;
  }

  const { record } = outcome;
  if (shadow && !record.allowed) ctx.warn(`[SHADOW] would have blocked: ${(record.would_have_blocked ?? []).join(', ')}`);
  await ctx.recorder.append({ ...common, payload: { ...base, detail: record.reason, decision: record } });
  if (!record.allowed) ctx.onDenied?.(record);
  if (!shadow && !record.allowed) throw new PolicyDecisionDenied(record);
  return record;
}
