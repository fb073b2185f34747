/** The guard policy's input and answer checking (src/guard/policy.ts); the Rego itself is tested by opa test. */
import { describe, expect, it } from 'vitest';
import { guardTickOf, validateGuardDecision } from '../../src/guard/policy.js';
import { PolicyEngineUnavailable } from '../../src/policy/errors.js';
import type { StatusPayload } from '../../src/status/payload.js';

const good = { domain: 'guard', question: 'incident', detected: true, recovered: false, reason: 'r', violations: [{ domain: 'canary', id: 'x', message: 'm', observed: 1, threshold: 0 }], judged_ticks: 3 };

describe('guard policy answer', () => {
  it('a well-formed decision is read as it is', () => {
    expect(validateGuardDecision(good)).toEqual({ domain: 'guard', detected: true, recovered: false, reason: 'r', violations: good.violations, judged_ticks: 3 });
  });

  it.each([
    ['not a document', 'yes'],
    ['another domain', { ...good, domain: 'canary' }],
    ['no detected', { ...good, detected: undefined }],
    ['no recovered', { ...good, recovered: 'no' }],
    ['both detected and recovered', { ...good, recovered: true }],
    ['no reason', { ...good, reason: 1 }],
    ['no violations', { ...good, violations: null }],
    ['a violation without id', { ...good, violations: [{ message: 'm' }] }],
  ])('fails closed on %s', (_what, doc) => {
    expect(() => validateGuardDecision(doc)).toThrow(PolicyEngineUnavailable);
  });
});

describe('guard tick', () => {
  it('keeps what the policy reads: the scrape error, and per domain the verdict or why there is none', () => {
    const payload = {
      mode: null,
      chaos: null,
      uptime_seconds: null,
      window: null,
      error: 'cannot scrape',
      decisions: {
        infrastructure: { domain: 'infrastructure', question: 'status', allowed: false, reason: 'r', violations: [{ id: 'disk', message: 'm', observed: 1, threshold: 2 }], observed: {}, enforcement: 'shadow', policy_version: 'v' },
        canary: { domain: 'canary', unavailable: 'no metrics window: the scrape failed', enforcement: 'enforce' },
      },
    } as StatusPayload;
    expect(guardTickOf(payload)).toEqual({
      error: 'cannot scrape',
      verdicts: {
        infrastructure: { allowed: false, enforcement: 'shadow', violations: [{ id: 'disk', message: 'm', observed: 1, threshold: 2 }] },
        canary: { unavailable: 'no metrics window: the scrape failed', enforcement: 'enforce' },
      },
    });
  });
});
