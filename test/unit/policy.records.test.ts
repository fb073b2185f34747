import { describe, expect, it } from 'vitest';
import { canaryFactsFromWindow } from '../../src/policy/canary-facts.js';
import { toDecisionRecord, violationIds } from '../../src/policy/gate.js';
import { stepFacts, trackFactsFromWindow } from '../../src/policy/step-facts.js';
import type { Decision } from '../../src/policy/types.js';
import type { WindowStats } from '../../src/metrics/types.js';

const deny: Decision = {
  domain: 'infrastructure', question: 'pre_deploy', allowed: false, reason: 'r',
  violations: [
    { id: 'facts_unavailable', message: 'a', observed: null, threshold: 1 },
    { id: 'facts_unavailable', message: 'b', observed: null, threshold: 2 },
    { id: 'memory_available_too_low', message: 'c', observed: 1, threshold: 2 },
  ],
  observed: {},
};

describe('toDecisionRecord', () => {
  it('in shadow mode lists each blocking id once, in the decision order', () => {
    const r = toDecisionRecord(deny, 'shadow', 'sha256:v');
    expect(r).toMatchObject({ enforcement: 'shadow', policy_version: 'sha256:v',
      would_have_blocked: ['facts_unavailable', 'memory_available_too_low'] });
    expect(violationIds(deny)).toEqual(['facts_unavailable', 'memory_available_too_low']);
  });

  it('in enforce mode (or on allow) carries no would_have_blocked', () => {
    expect(toDecisionRecord(deny, 'enforce', 'v')).not.toHaveProperty('would_have_blocked');
    expect(toDecisionRecord({ ...deny, allowed: true, violations: [] }, 'shadow', 'v')).not.toHaveProperty('would_have_blocked');
  });
});

describe('canaryFactsFromWindow', () => {
  it('renames window stats and keeps "no data" as null', () => {
    const w: WindowStats = { from: 0, to: 30_000, seconds: 30, requests: 0, errors: 0, requests_per_second: 0,
      error_rate: null, p50_seconds: null, p95_seconds: null, p99_seconds: null, quantiles_capped: false, counter_resets: 0 };
    expect(canaryFactsFromWindow(w)).toEqual({ window_seconds: 30, requests: 0, errors: 0, requests_per_second: 0,
      error_rate: null, p99_latency_seconds: null, p99_capped: false });
    expect(canaryFactsFromWindow({ ...w, requests: 10, error_rate: 0.1, p99_seconds: 0.25, quantiles_capped: true }))
      .toMatchObject({ error_rate: 0.1, p99_latency_seconds: 0.25, p99_capped: true });
  });
});

describe('stepFacts', () => {
  const empty: WindowStats = { from: 0, to: 30_000, seconds: 30, requests: 0, errors: 0, requests_per_second: 0,
    error_rate: null, p50_seconds: null, p95_seconds: null, p99_seconds: null, quantiles_capped: false, counter_resets: 0 };
  const busy: WindowStats = { from: 0, to: 30_500, seconds: 30.5, requests: 300, errors: 3, requests_per_second: 300 / 30.5,
    error_rate: 0.01, p50_seconds: 0.02, p95_seconds: 0.08, p99_seconds: 0.3, quantiles_capped: true, counter_resets: 1 };

  it('renames one track window, with every quantile, and keeps "no data" as null', () => {
    expect(trackFactsFromWindow(busy)).toEqual({ window_seconds: 30.5, requests: 300, errors: 3, requests_per_second: 300 / 30.5,
      error_rate: 0.01, p50_latency_seconds: 0.02, p95_latency_seconds: 0.08, p99_latency_seconds: 0.3, p99_capped: true, counter_resets: 1 });
    expect(trackFactsFromWindow(empty)).toMatchObject({ error_rate: null, p50_latency_seconds: null, p95_latency_seconds: null,
      p99_latency_seconds: null });
  });

  it('puts the step, the weight, the configured window and each track where the policy reads them', () => {
    const facts = stepFacts(2, 25, 60, empty, busy);
    expect(facts).toEqual({ step: 2, weight: 25, window_seconds: 60, stable: trackFactsFromWindow(empty), canary: trackFactsFromWindow(busy) });
  });
});
