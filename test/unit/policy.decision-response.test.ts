import { describe, expect, it } from 'vitest';
import { EXIT, PolicyUnavailable } from '../../src/errors.js';
import { parseDecisionResponse } from '../../src/policy/decision-response.js';
import { PolicyEngineUnavailable } from '../../src/policy/errors.js';

const decision = {
  domain: 'canary',
  question: 'pre_promote',
  allowed: false,
  reason: 'error rate 5% is above the maximum 1%',
  violations: [{ id: 'error_rate_too_high', message: 'error rate 5% is above the maximum 1%', observed: 0.05, threshold: 0.01 }],
  observed: { error_rate: 0.05 },
};

const stepDeny = { ...decision, question: 'step' };
const stepAllow = { ...decision, question: 'step', allowed: true, reason: 'canary checks passed for step 1 at weight 10%', violations: [] };

function failure(status: number, body: string): PolicyEngineUnavailable {
  try {
    parseDecisionResponse('canary', status, body);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyUnavailable);
    expect((err as PolicyUnavailable).exitCode).toBe(EXIT.POLICY_UNAVAILABLE);
    return err as PolicyEngineUnavailable;
  }
  throw new Error('expected parseDecisionResponse to fail closed');
}

describe('parseDecisionResponse', () => {
  it('returns a well-formed deny as a Decision (a deny is an answer, not a failure)', () => {
    const d = parseDecisionResponse('canary', 200, JSON.stringify({ result: decision }));
    expect(d.allowed).toBe(false);
    expect(d.violations.map((v) => v.id)).toEqual(['error_rate_too_high']);
    expect(d.observed).toEqual({ error_rate: 0.05 });
  });

  it('ignores fields OPA adds beside result (decision_id, metrics)', () => {
    const allow = { ...decision, allowed: true, reason: 'ok', violations: [] };
    const d = parseDecisionResponse('canary', 200, JSON.stringify({ result: allow, decision_id: 'x', metrics: {} }));
    expect(d.allowed).toBe(true);
  });

  it.each([
    ['pass', stepAllow],
    ['fail', stepDeny],
    ['inconclusive', stepDeny],
  ] as const)('returns a step decision with outcome %s', (outcome, result) => {
    const d = parseDecisionResponse('canary', 200, JSON.stringify({ result: { ...result, outcome } }));
    expect(d.outcome).toBe(outcome);
    expect(d.allowed).toBe(outcome === 'pass');
  });

  it('leaves outcome out where the policy gives none (pre_promote, status, infrastructure)', () => {
    expect(parseDecisionResponse('canary', 200, JSON.stringify({ result: decision }))).not.toHaveProperty('outcome');
    const infra = { ...decision, domain: 'infrastructure', question: 'step' };
    // Infrastructure has no step question: its answer (unsupported_question) is a plain deny.
    expect(parseDecisionResponse('infrastructure', 200, JSON.stringify({ result: infra }))).not.toHaveProperty('outcome');
  });

  it.each([
    ['HTTP 500 with OPA error body', 500, '{"code":"internal_error","message":"boom"}', 'http_status', /HTTP 500: internal_error: boom/],
    ['HTTP 404', 404, '', 'http_status', /HTTP 404/],
    ['body not JSON', 200, '<html>proxy error</html>', 'invalid_json', /not valid JSON/],
    ['JSON but not an object', 200, '[1,2]', 'invalid_json', /not a JSON object/],
    ['undefined decision ({})', 200, '{}', 'undefined_decision', /undefined.*policies loaded/],
    ['api_usage_warning', 200, JSON.stringify({ result: decision, warning: { code: 'api_usage_warning', message: "'input' key missing from the request" } }),
      'api_usage_warning', /api_usage_warning: 'input' key missing/],
    ['decision is a bare boolean', 200, '{"result":true}', 'malformed_decision', /not a document/],
    ['decision missing allowed', 200, JSON.stringify({ result: { ...decision, allowed: undefined } }), 'malformed_decision', /missing `allowed`/],
    ['allowed is a string', 200, JSON.stringify({ result: { ...decision, allowed: 'false' } }), 'malformed_decision', /missing `allowed`/],
    ['decision missing reason', 200, JSON.stringify({ result: { ...decision, reason: undefined } }), 'malformed_decision', /missing `reason`/],
    ['decision missing violations', 200, JSON.stringify({ result: { ...decision, violations: undefined } }), 'malformed_decision', /missing `violations`/],
    ['violation without id', 200, JSON.stringify({ result: { ...decision, violations: [{ message: 'x' }] } }), 'malformed_decision', /violations\[0\]/],
    ['decision for the other domain', 200, JSON.stringify({ result: { ...decision, domain: 'infrastructure' } }), 'malformed_decision', /domain "infrastructure"/],
    ['allowed with violations', 200, JSON.stringify({ result: { ...decision, allowed: true } }), 'malformed_decision', /allowed but lists violations/],
    ['step decision without an outcome', 200, JSON.stringify({ result: stepDeny }), 'malformed_decision', /for step is missing `outcome`/],
    ['step decision with outcome null', 200, JSON.stringify({ result: { ...stepDeny, outcome: null } }), 'malformed_decision',
      /has outcome null, not pass, fail or inconclusive/],
    ['an outcome that is not one of the three', 200, JSON.stringify({ result: { ...stepDeny, outcome: 'aborted' } }), 'malformed_decision',
      /has outcome "aborted", not pass, fail or inconclusive/],
    ['outcome pass on a deny', 200, JSON.stringify({ result: { ...stepDeny, outcome: 'pass' } }), 'malformed_decision', /says outcome pass but allowed false/],
    ['outcome fail on an allow', 200, JSON.stringify({ result: { ...stepAllow, outcome: 'fail' } }), 'malformed_decision', /says outcome fail but allowed true/],
    ['outcome inconclusive on an allow', 200, JSON.stringify({ result: { ...stepAllow, outcome: 'inconclusive' } }), 'malformed_decision',
      /says outcome inconclusive but allowed true/],
    ['an outcome that disagrees on another question', 200, JSON.stringify({ result: { ...decision, outcome: 'pass' } }), 'malformed_decision',
      /says outcome pass but allowed false/],
  ] as const)('fails closed on %s', (_name, status, body, kind, message) => {
    const err = failure(status, body);
    expect(err.failure).toBe(kind);
    expect(err.message).toMatch(message);
    expect(err.message).toMatch(/^policy\/canary/);
  });
});
