/**
 * The guard policy (policies/guard.rego) as the guard asks it: the recent status ticks, reduced to
 * what the policy reads, and guard.sustain_ticks / recover_ticks. The policy decides detection and
 * recovery; this module only carries the question and checks the answer (fail closed).
 */
import type { NoticeViolation } from '../notify/types.js';
import { PolicyEngineUnavailable } from '../policy/errors.js';
import type { StatusPayload } from '../status/payload.js';
import { isPlainObject } from '../util/is-plain-object.js';
import { policyVersion, readPolicyFiles } from '../policy/version.js';

/** One domain's verdict in a tick, as policies/guard.rego reads it. */
export type GuardVerdict =
  | { allowed: boolean; enforcement: string; violations: Array<{ id: string; message: string; observed: unknown; threshold: unknown }> }
  | { unavailable: string; enforcement: string };

export interface GuardTick {
  /** Set when the scrape through nginx failed. */
  error?: string;
  verdicts: Record<string, GuardVerdict>;
}

export interface GuardInput {
  ticks: GuardTick[];
  sustain_ticks: number;
  recover_ticks: number;
}

export interface GuardDecision {
  domain: 'guard';
  detected: boolean;
  recovered: boolean;
  reason: string;
  violations: NoticeViolation[];
  judged_ticks: number;
}

/** Who answers the guard's question: OPA (opaGuardPolicy) in the product and in the tests. */
export interface GuardPolicy {
  judge(input: GuardInput): Promise<GuardDecision>;
}

/** A status tick's payload as the guard policy reads it. */
export function guardTickOf(payload: StatusPayload): GuardTick {
  const verdicts: Record<string, GuardVerdict> = {};
  for (const [domain, v] of Object.entries(payload.decisions)) {
    if (v === undefined) continue;
    verdicts[domain] =
      'unavailable' in v
        ? { unavailable: v.unavailable, enforcement: v.enforcement }
        : { allowed: v.allowed, enforcement: v.enforcement, violations: v.violations.map((x) => ({ id: x.id, message: x.message, observed: x.observed, threshold: x.threshold })) };
  }
  return { ...(payload.error !== undefined ? { error: payload.error } : {}), verdicts };
}

/** The decision document, checked field by field; anything else is PolicyEngineUnavailable. */
export function validateGuardDecision(result: unknown): GuardDecision {
  const bad = (what: string): never => {
    throw new PolicyEngineUnavailable('malformed_decision', `policy/guard: decision ${what}`);
  };
  if (!isPlainObject(result)) return bad('is not a document');
  if (result.domain !== 'guard') bad(`is for domain ${JSON.stringify(result.domain)}, not "guard"`);
  if (typeof result.detected !== 'boolean') bad('is missing `detected` (a boolean)');
  if (typeof result.recovered !== 'boolean') bad('is missing `recovered` (a boolean)');
  if (result.detected === true && result.recovered === true) bad('says both detected and recovered');
  if (typeof result.reason !== 'string') bad('is missing `reason` (a string)');
  if (!Array.isArray(result.violations)) bad('is missing `violations` (an array)');
  const violations: NoticeViolation[] = (result.violations as unknown[]).map((v, i) => {
    if (!isPlainObject(v) || typeof v.id !== 'string' || typeof v.message !== 'string') return bad(`violations[${i}] has no string \`id\` and \`message\``);
    return { ...(typeof v.domain === 'string' ? { domain: v.domain } : {}), id: v.id, message: v.message, observed: v.observed ?? null, threshold: v.threshold ?? null };
  });
  return {
    domain: 'guard',
    detected: result.detected as boolean,
    recovered: result.recovered as boolean,
    reason: result.reason as string,
    violations,
    judged_ticks: typeof result.judged_ticks === 'number' ? result.judged_ticks : 0,
  };
}

/** The guard policy on an OPA (the sidecar or a central one). */
export function opaGuardPolicy(client: { evaluate(rule: string, input: unknown): Promise<unknown> }): GuardPolicy {
  return { judge: async (input) => validateGuardDecision(await client.evaluate('guard/decision', input)) };
}

/** The guard policy's version: the policy files and the counts it judges with (as each domain's). */
export async function guardPolicyVersion(policiesDir: string, counts: { sustain_ticks: number; recover_ticks: number }): Promise<string> {
  return policyVersion(await readPolicyFiles(policiesDir), { sustain_ticks: counts.sustain_ticks, recover_ticks: counts.recover_ticks });
}
