import { OPA_SETUP_HINT } from '../runtime/opa-binary.js';
import { OPA_IMAGE, OPA_VERSION } from './opa-version.js';
import { PolicyUnavailable } from '../errors.js';
import type { PolicyClient } from './client.js';
import { evaluatePolicy, type PolicyOutcome } from './gate.js';
import type { DecisionRecord, Enforcement, PolicyDomain } from './types.js';

export const DEFAULT_QUESTION: Record<PolicyDomain, string> = { infrastructure: 'pre_deploy', canary: 'pre_promote' };

export interface PolicyCheckRequest {
  domain: PolicyDomain;
  question: string;
  thresholds: unknown;
  /** The domain's configured mode: recorded, and noted in the output, but a check always reports the verdict. */
  mode: Enforcement;
  policyVersion: string;
}

export interface PolicyCheckDeps {
  client: PolicyClient;
  /** Waits for the engine (e.g. waitReady); a PolicyUnavailable from it is reported like any other. */
  ready?: () => Promise<void>;
  /** Gathers this domain's facts (host facts, or a canary metrics window). */
  gatherFacts: () => Promise<unknown>;
  /** Where the check is recorded (action `policy_check`); the operator is the actor, nothing was shadowed. */
  record: (payload: { stage: 'policy_decided' | 'failed'; detail: string; decision?: DecisionRecord; policy_unavailable?: unknown }) => Promise<unknown>;
}

/**
 * `swiftdeploy policy check`: gather, ask, record. The verdict is the policy's; this function only
 * carries it. A domain in shadow mode is still reported as FAIL here (a check is not an action; the
 * note says the action would proceed).
 */
export async function checkPolicy(request: PolicyCheckRequest, deps: PolicyCheckDeps): Promise<PolicyOutcome> {
  let outcome: PolicyOutcome;
  try {
    await deps.ready?.();
    outcome = await evaluatePolicy(
      { domain: request.domain, question: request.question, facts: await deps.gatherFacts(), thresholds: request.thresholds },
      request.mode,
      deps.client,
      request.policyVersion,
    );
  } catch (err) {
    if (!(err instanceof PolicyUnavailable)) throw err;
    outcome = { kind: 'unavailable', error: err, enforcement: request.mode };
  }
  if (outcome.kind === 'decided') {
    await deps.record({ stage: 'policy_decided', detail: outcome.record.reason, decision: outcome.record });
  } else {
    const failure = (outcome.error as { failure?: string }).failure ?? 'unknown';
    await deps.record({
      stage: 'failed',
      detail: `policy engine unavailable (${failure}): ${outcome.error.message}`,
      policy_unavailable: { domain: request.domain, question: request.question, failure, enforcement: request.mode },
    });
  }
  return outcome;
}

/** What `policy test` prints when there is no opa binary: how to get the pinned one, or use an image. */
export function opaInstallHint(policiesDir: string, image: string | undefined): string {
  const explicit = process.env.SWIFTDEPLOY_OPA;
  return [
    explicit
      ? `SWIFTDEPLOY_OPA=${explicit} is not an executable file, so the Rego tests were NOT run.`
      : 'No opa binary (SWIFTDEPLOY_OPA, .swiftdeploy/tools/opa, or opa on PATH), so the Rego tests were NOT run.',
    `Build the pinned OPA ${OPA_VERSION}: ${OPA_SETUP_HINT}, or`,
    '  run the same tests in an OPA image:',
    `  docker run --rm -v ${JSON.stringify(`${policiesDir}:/policies:ro`)} ${image ?? OPA_IMAGE} test -v /policies`,
  ].join('\n');
}
