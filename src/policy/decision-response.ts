import type { Decision, PolicyDomain, StepOutcome, Violation } from './types.js';
import { isPlainObject } from '../util/is-plain-object.js';
import { PolicyEngineUnavailable } from './errors.js';

/**
 * Turn OPA's answer to `POST /v1/data/swiftdeploy/<domain>/decision` into a Decision, or say
 * exactly why it is not one. Pure, so every failure mode is tested without a server.
 * Fail closed: anything short of a well-formed decision document is PolicyEngineUnavailable, never
 * an allow.
 */
export function parseDecisionResponse(domain: PolicyDomain, status: number, body: string): Decision {
  const where = `policy/${domain}`;
  if (status < 200 || status > 299) {
    throw new PolicyEngineUnavailable('http_status', `${where}: OPA answered HTTP ${status}${describeOpaError(body)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw new PolicyEngineUnavailable('invalid_json', `${where}: OPA's answer is not valid JSON: ${snippet(body)}`, {
      cause: err,
    });
  }
  if (!isPlainObject(parsed)) {
    throw new PolicyEngineUnavailable('invalid_json', `${where}: OPA's answer is not a JSON object: ${snippet(body)}`);
  }
  // OPA still evaluates when it warns, but a warning means we asked the wrong question.
  if (isPlainObject(parsed.warning)) {
    const code = String(parsed.warning.code ?? 'warning');
    const message = String(parsed.warning.message ?? '');
    throw new PolicyEngineUnavailable(code === 'api_usage_warning' ? 'api_usage_warning' : 'malformed_decision',
      `${where}: OPA warned ${code}: ${message}`);
  }
  if (!('result' in parsed) || parsed.result === undefined) {
    throw new PolicyEngineUnavailable(
      'undefined_decision',
      `${where}: data.swiftdeploy.${domain}.decision is undefined on this OPA (are swiftdeploy's policies loaded?)`,
    );
  }
  return validateDecision(domain, parsed.result);
}

const STEP_OUTCOMES: ReadonlySet<unknown> = new Set<StepOutcome>(['pass', 'fail', 'inconclusive']);

/** A decision document as policies/*.rego produce it, checked field by field. */
export function validateDecision(domain: PolicyDomain, result: unknown): Decision {
  const bad = (what: string): never => {
    throw new PolicyEngineUnavailable('malformed_decision', `policy/${domain}: decision ${what}`);
  };
  if (!isPlainObject(result)) return bad(`is not a document: ${snippet(JSON.stringify(result) ?? '')}`);
  if (typeof result.allowed !== 'boolean') bad('is missing `allowed` (a boolean)');
  if (typeof result.reason !== 'string') bad('is missing `reason` (a string)');
  if (!Array.isArray(result.violations)) bad('is missing `violations` (an array)');
  if (result.domain !== domain) bad(`is for domain ${JSON.stringify(result.domain)}, not ${JSON.stringify(domain)}`);
  const violations: Violation[] = [];
  for (const [i, v] of (result.violations as unknown[]).entries()) {
    if (!isPlainObject(v) || typeof v.id !== 'string' || typeof v.message !== 'string') {
      bad(`violations[${i}] has no string \`id\` and \`message\``);
    } else {
      violations.push({ id: v.id, message: v.message, observed: v.observed ?? null, threshold: v.threshold ?? null });
    }
  }
  const allowed = result.allowed as boolean;
  // An allow that lists violations contradicts itself: refuse to guess which half is true.
  if (allowed && violations.length > 0) bad('says allowed but lists violations');
  const question = typeof result.question === 'string' ? result.question : String(result.question);
  const outcome = validateOutcome(result.outcome, domain === 'canary' && question === 'step', allowed, bad);
  const decision: Decision = {
    domain,
    question,
    allowed,
    reason: result.reason as string,
    violations,
    observed: isPlainObject(result.observed) ? result.observed : {},
  };
  if (outcome !== undefined) decision.outcome = outcome;
  return decision;
}

/**
 * A rollout step's outcome: required on the canary's `step` question, optional elsewhere, and always
 * in agreement with `allowed` (a pass is an allow; fail and inconclusive are denies).
 */
function validateOutcome(outcome: unknown, required: boolean, allowed: boolean, bad: (what: string) => never): StepOutcome | undefined {
  if (outcome === undefined) {
    if (required) bad('for step is missing `outcome` (pass, fail or inconclusive)');
    return undefined;
  }
  if (!STEP_OUTCOMES.has(outcome)) bad(`has outcome ${JSON.stringify(outcome).slice(0, 60)}, not pass, fail or inconclusive`);
  const valid = outcome as StepOutcome;
  if ((valid === 'pass') !== allowed) bad(`says outcome ${valid} but allowed ${String(allowed)}`);
  return valid;
}

function describeOpaError(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (isPlainObject(parsed) && (parsed.code !== undefined || parsed.message !== undefined)) {
      return `: ${String(parsed.code ?? '')}${parsed.message !== undefined ? `: ${String(parsed.message)}` : ''}`;
    }
  } catch {
    // not JSON: show the raw start instead
  }
  return body.trim() === '' ? '' : `: ${snippet(body)}`;
}

function snippet(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(oneLine.length > 120 ? `${oneLine.slice(0, 120)}…` : oneLine);
}
