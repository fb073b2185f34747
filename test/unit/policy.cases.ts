/**
 * Inputs and the decisions policies/*.rego must give for them: the same cases the *_test.rego files
 * prove, as data. test/integration/policy.decisions.test.ts sends every `input` to a real
 * `opa run --server` loaded with policies/ and checks the decision against `expect`; the healthy
 * facts and thresholds are reused by the other policy tests.
 */
import type { PolicyDomain, StepFacts, StepOutcome, StepThresholds, TrackFacts } from '../../src/policy/types.js';

export interface PolicyCase {
  name: string;
  domain: PolicyDomain;
  input: unknown;
  /** `outcome` is given exactly for the canary's step question. */
  expect: { allowed: boolean; ids: string[]; messages?: string[]; reason?: string; outcome?: StepOutcome };
}

export const infraThresholds = { min_disk_free_gb: 10, max_cpu_load: 2, min_memory_available_mb: 512 };
export const healthyHost = {
  disk_free_gb: 50.5,
  disk_path: '/var/lib/docker',
  cpu_load_1m: 1.2,
  cpu_cores: 4,
  cpu_load_per_core: 0.3,
  memory_available_mb: 4096,
  sources: { disk_free_gb: 'statfs:/var/lib/docker' },
};
export const canaryThresholds = { max_error_rate: 0.01, max_p99_latency_seconds: 0.5, window_seconds: 30, min_requests: 100 };
export const healthyCanary = {
  window_seconds: 30.2,
  requests: 1000,
  errors: 2,
  requests_per_second: 33.1,
  error_rate: 0.002,
  p99_latency_seconds: 0.25,
  p99_capped: false,
};

export const stepThresholds: StepThresholds = {
  max_error_rate: 0.01, max_p99_latency_seconds: 0.5, min_requests: 100, max_error_rate_increase: 0.01, max_p99_ratio: 1.5,
};
export const healthyStable: TrackFacts = {
  window_seconds: 60.1, requests: 1000, errors: 2, requests_per_second: 16.6, error_rate: 0.002,
  p50_latency_seconds: 0.05, p95_latency_seconds: 0.2, p99_latency_seconds: 0.4, p99_capped: false, counter_resets: 0,
};
export const healthyCanaryTrack: TrackFacts = { ...healthyStable, requests: 200, errors: 1, error_rate: 0.005, p99_latency_seconds: 0.3 };
const loose: StepThresholds = { ...stepThresholds, max_error_rate: 0.5, max_p99_latency_seconds: 5 };
const emptyTrack = { requests: 0, errors: 0, requests_per_second: 0, error_rate: null, p99_latency_seconds: null };

/** A step question: step 2 at 25%, each track healthy unless changed. */
const step = (change: { stable?: object; canary?: object; thresholds?: object } = {}) => {
  const facts: StepFacts = { step: 2, weight: 25, window_seconds: 60,
    stable: { ...healthyStable, ...change.stable }, canary: { ...healthyCanaryTrack, ...change.canary } };
  return { question: 'step', facts, thresholds: change.thresholds ?? stepThresholds };
};

const infra = (question: unknown, facts: object, thresholds: object = infraThresholds) => ({ question, facts, thresholds });
const canary = (question: unknown, facts: object, thresholds: object = canaryThresholds) => ({ question, facts, thresholds });
const without = (o: object, key: string) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));

export const policyCases: PolicyCase[] = [
  { name: 'healthy host, pre_deploy', domain: 'infrastructure', input: infra('pre_deploy', healthyHost),
    expect: { allowed: true, ids: [], reason: 'infrastructure checks passed for pre_deploy' } },
  { name: 'healthy host, status', domain: 'infrastructure', input: infra('status', healthyHost), expect: { allowed: true, ids: [] } },
  { name: 'disk below minimum', domain: 'infrastructure', input: infra('pre_deploy', { ...healthyHost, disk_free_gb: 9.5 }),
    expect: { allowed: false, ids: ['disk_free_too_low'], messages: ['disk free 9.5 GB is below the minimum 10 GB'] } },
  { name: 'disk equal to minimum', domain: 'infrastructure', input: infra('pre_deploy', { ...healthyHost, disk_free_gb: 10 }),
    expect: { allowed: true, ids: [] } },
  { name: 'load per core above maximum', domain: 'infrastructure', input: infra('pre_deploy', { ...healthyHost, cpu_load_per_core: 2.25 }),
    expect: { allowed: false, ids: ['cpu_load_too_high'], messages: ['1-minute load per core 2.25 is above the maximum 2'] } },
  { name: 'load per core equal to maximum', domain: 'infrastructure', input: infra('pre_deploy', { ...healthyHost, cpu_load_per_core: 2 }),
    expect: { allowed: true, ids: [] } },
  { name: 'raw load high but per core within', domain: 'infrastructure',
    input: infra('pre_deploy', { ...healthyHost, cpu_load_1m: 6, cpu_load_per_core: 1.5 }), expect: { allowed: true, ids: [] } },
  { name: 'memory below minimum', domain: 'infrastructure', input: infra('pre_deploy', { ...healthyHost, memory_available_mb: 511 }),
    expect: { allowed: false, ids: ['memory_available_too_low'], messages: ['available memory 511 MB is below the minimum 512 MB'] } },
  { name: 'memory equal to minimum', domain: 'infrastructure', input: infra('pre_deploy', { ...healthyHost, memory_available_mb: 512 }),
    expect: { allowed: true, ids: [] } },
  { name: 'every infrastructure violation, sorted', domain: 'infrastructure',
    input: infra('pre_deploy', { ...healthyHost, disk_free_gb: 1, cpu_load_per_core: 3, memory_available_mb: 100 }),
    expect: { allowed: false, ids: ['cpu_load_too_high', 'disk_free_too_low', 'memory_available_too_low'],
      reason: '1-minute load per core 3 is above the maximum 2; disk free 1 GB is below the minimum 10 GB; available memory 100 MB is below the minimum 512 MB' } },
  { name: 'windows: null load is unavailable, not zero', domain: 'infrastructure',
    input: infra('pre_deploy', { ...healthyHost, cpu_load_1m: null, cpu_load_per_core: null }),
    expect: { allowed: false, ids: ['facts_unavailable'], messages: ['cpu_load_per_core could not be measured'] } },
  { name: 'no facts at all', domain: 'infrastructure', input: infra('pre_deploy', {}),
    expect: { allowed: false, ids: ['facts_unavailable', 'facts_unavailable', 'facts_unavailable'] } },
  { name: 'string fact', domain: 'infrastructure', input: infra('pre_deploy', { ...healthyHost, disk_free_gb: '50' }),
    expect: { allowed: false, ids: ['facts_unavailable'] } },
  { name: 'missing threshold', domain: 'infrastructure', input: infra('pre_deploy', healthyHost, without(infraThresholds, 'max_cpu_load')),
    expect: { allowed: false, ids: ['threshold_missing'], messages: ['threshold max_cpu_load is missing or not a number'] } },
  { name: 'no thresholds object', domain: 'infrastructure', input: { question: 'pre_deploy', facts: healthyHost },
    expect: { allowed: false, ids: ['threshold_missing', 'threshold_missing', 'threshold_missing'] } },
  { name: 'infrastructure asked a canary question', domain: 'infrastructure', input: infra('pre_promote', healthyHost),
    expect: { allowed: false, ids: ['unsupported_question'] } },
  { name: 'infrastructure with no question', domain: 'infrastructure', input: { facts: healthyHost, thresholds: infraThresholds },
    expect: { allowed: false, ids: ['unsupported_question'] } },
  { name: 'tiny and huge floats are rounded, never in exponent form', domain: 'infrastructure',
    input: infra('pre_deploy', { ...healthyHost, disk_free_gb: 0.00001, memory_available_mb: 1234567.5 },
      { ...infraThresholds, min_memory_available_mb: 2000000.25 }),
    expect: { allowed: false, ids: ['disk_free_too_low', 'memory_available_too_low'],
      messages: ['disk free 0 GB is below the minimum 10 GB', 'available memory 1234567.5 MB is below the minimum 2000000.3 MB'] } },
  { name: 'figures that would read as their limit are shown finer', domain: 'infrastructure',
    input: infra('pre_deploy', { ...healthyHost, disk_free_gb: 9.999, cpu_load_per_core: 2.004 }),
    expect: { allowed: false, ids: ['cpu_load_too_high', 'disk_free_too_low'],
      messages: ['1-minute load per core 2.004 is above the maximum 2', 'disk free 9.999 GB is below the minimum 10 GB'] } },

  { name: 'healthy canary, pre_promote', domain: 'canary', input: canary('pre_promote', healthyCanary),
    expect: { allowed: true, ids: [], reason: 'canary checks passed for pre_promote' } },
  { name: 'healthy canary, status', domain: 'canary', input: canary('status', healthyCanary), expect: { allowed: true, ids: [] } },
  { name: 'error rate above maximum', domain: 'canary', input: canary('pre_promote', { ...healthyCanary, error_rate: 0.05 }),
    expect: { allowed: false, ids: ['error_rate_too_high'], messages: ['error rate 5% is above the maximum 1%'] } },
  { name: 'error rate equal to maximum', domain: 'canary', input: canary('pre_promote', { ...healthyCanary, error_rate: 0.01 }),
    expect: { allowed: true, ids: [] } },
  { name: 'p99 above maximum', domain: 'canary', input: canary('pre_promote', { ...healthyCanary, p99_latency_seconds: 0.75 }),
    expect: { allowed: false, ids: ['p99_latency_too_high'], messages: ['p99 latency 750 ms is above the maximum 500 ms'] } },
  { name: 'p99 equal to maximum', domain: 'canary', input: canary('pre_promote', { ...healthyCanary, p99_latency_seconds: 0.5 }),
    expect: { allowed: true, ids: [] } },
  { name: 'capped p99 within limit', domain: 'canary', input: canary('pre_promote', { ...healthyCanary, p99_capped: true }),
    expect: { allowed: false, ids: ['p99_latency_unbounded'] } },
  { name: 'capped p99 above limit', domain: 'canary', input: canary('pre_promote', { ...healthyCanary, p99_latency_seconds: 1, p99_capped: true }),
    expect: { allowed: false, ids: ['p99_latency_too_high'] } },
  { name: 'requests below minimum', domain: 'canary', input: canary('pre_promote', { ...healthyCanary, requests: 99 }),
    expect: { allowed: false, ids: ['insufficient_traffic'], messages: ['99 completed requests in the window, fewer than the minimum 100'] } },
  { name: 'requests equal to minimum', domain: 'canary', input: canary('pre_promote', { ...healthyCanary, requests: 100 }),
    expect: { allowed: true, ids: [] } },
  { name: 'empty window', domain: 'canary',
    input: canary('pre_promote', { ...healthyCanary, requests: 0, errors: 0, requests_per_second: 0, error_rate: null, p99_latency_seconds: null }),
    expect: { allowed: false, ids: ['facts_unavailable', 'facts_unavailable', 'insufficient_traffic'] } },
  { name: 'empty window with min_requests 0', domain: 'canary',
    input: canary('pre_promote', { ...healthyCanary, requests: 0, error_rate: null, p99_latency_seconds: null }, { ...canaryThresholds, min_requests: 0 }),
    expect: { allowed: false, ids: ['facts_unavailable', 'facts_unavailable'] } },
  { name: 'window shorter than required', domain: 'canary', input: canary('pre_promote', { ...healthyCanary, window_seconds: 5 }),
    expect: { allowed: false, ids: ['window_too_short'], messages: ['window covered 5 s, shorter than the required 30 s'] } },
  { name: 'window equal to required', domain: 'canary', input: canary('pre_promote', { ...healthyCanary, window_seconds: 30 }),
    expect: { allowed: true, ids: [] } },
  { name: 'every canary violation, sorted', domain: 'canary',
    input: canary('pre_promote', { ...healthyCanary, window_seconds: 10, requests: 10, error_rate: 0.5, p99_latency_seconds: 2 }),
    expect: { allowed: false, ids: ['error_rate_too_high', 'insufficient_traffic', 'p99_latency_too_high', 'window_too_short'] } },
  { name: 'missing p99_capped', domain: 'canary', input: canary('pre_promote', without(healthyCanary, 'p99_capped')),
    expect: { allowed: false, ids: ['facts_unavailable'], messages: ['p99_capped could not be measured'] } },
  { name: 'missing canary threshold', domain: 'canary', input: canary('pre_promote', healthyCanary, without(canaryThresholds, 'max_error_rate')),
    expect: { allowed: false, ids: ['threshold_missing'], messages: ['threshold max_error_rate is missing or not a number'] } },
  { name: 'canary asked an infrastructure question', domain: 'canary', input: canary('pre_deploy', healthyCanary),
    expect: { allowed: false, ids: ['unsupported_question'], messages: ['unsupported question: policy/canary answers pre_promote, status and step'] } },
  { name: 'canary with empty input', domain: 'canary', input: {}, expect: { allowed: false, ids: ['unsupported_question'] } },
  { name: 'unrounded error rate reads as a percentage', domain: 'canary',
    input: canary('status', { ...healthyCanary, error_rate: 0.3024523160762943, p99_latency_seconds: 0.8124 }),
    expect: { allowed: false, ids: ['error_rate_too_high', 'p99_latency_too_high'],
      reason: 'error rate 30.2% is above the maximum 1%; p99 latency 812 ms is above the maximum 500 ms' } },

  { name: 'healthy step', domain: 'canary', input: step(),
    expect: { allowed: true, ids: [], outcome: 'pass', reason: 'canary checks passed for step 2 at weight 25%' } },
  { name: 'step: canary error rate equal to maximum', domain: 'canary', input: step({ canary: { error_rate: 0.01 } }),
    expect: { allowed: true, ids: [], outcome: 'pass' } },
  { name: 'step: canary error rate above maximum', domain: 'canary', input: step({ canary: { error_rate: 0.0101 } }),
    expect: { allowed: false, ids: ['error_rate_too_high'], outcome: 'fail', messages: ['canary error rate 1.01% is above the maximum 1%'] } },
  { name: 'step: canary p99 equal to maximum', domain: 'canary', input: step({ canary: { p99_latency_seconds: 0.5 } }),
    expect: { allowed: true, ids: [], outcome: 'pass' } },
  { name: 'step: canary p99 above maximum', domain: 'canary', input: step({ canary: { p99_latency_seconds: 0.501 } }),
    expect: { allowed: false, ids: ['p99_latency_too_high'], outcome: 'fail', messages: ['canary p99 latency 501 ms is above the maximum 500 ms'] } },
  { name: 'step: canary error rate equal to stable + margin', domain: 'canary',
    input: step({ stable: { error_rate: 0.02 }, canary: { error_rate: 0.03 }, thresholds: loose }), expect: { allowed: true, ids: [], outcome: 'pass' } },
  { name: 'step: canary error rate above stable + margin', domain: 'canary',
    input: step({ stable: { error_rate: 0.02 }, canary: { error_rate: 0.031 }, thresholds: loose }),
    expect: { allowed: false, ids: ['error_rate_above_stable'], outcome: 'fail', messages: ["canary error rate 3.1% is above stable's 2% + 1% = 3%"] } },
  { name: 'step: canary p99 equal to stable x ratio', domain: 'canary',
    input: step({ canary: { p99_latency_seconds: 0.6 }, thresholds: loose }), expect: { allowed: true, ids: [], outcome: 'pass' } },
  { name: 'step: canary p99 above stable x ratio', domain: 'canary',
    input: step({ canary: { p99_latency_seconds: 0.601 }, thresholds: loose }),
    expect: { allowed: false, ids: ['p99_above_stable'], outcome: 'fail', messages: ["canary p99 latency 601 ms is above 1.5 × stable's 400 ms = 600 ms"] } },
  { name: 'step: too few canary requests', domain: 'canary', input: step({ canary: { requests: 99 } }),
    expect: { allowed: false, ids: ['canary_too_few_requests'], outcome: 'inconclusive',
      messages: ['canary served 99 requests in the step, fewer than the minimum 100'] } },
  { name: 'step: too few stable requests', domain: 'canary', input: step({ stable: { requests: 99 } }),
    expect: { allowed: false, ids: ['stable_too_few_requests'], outcome: 'inconclusive' } },
  { name: 'step: empty canary window', domain: 'canary', input: step({ canary: emptyTrack }),
    expect: { allowed: false, ids: ['canary_too_few_requests', 'facts_unavailable', 'facts_unavailable'], outcome: 'inconclusive' } },
  { name: 'step: empty canary window with min_requests 0', domain: 'canary',
    input: step({ canary: emptyTrack, thresholds: { ...stepThresholds, min_requests: 0 } }),
    expect: { allowed: false, ids: ['facts_unavailable', 'facts_unavailable'], outcome: 'inconclusive',
      messages: ['canary error_rate could not be measured', 'canary p99_latency_seconds could not be measured'] } },
  { name: 'step: all-errors canary with max_error_rate 1', domain: 'canary',
    input: step({ canary: { errors: 200, error_rate: 1 }, thresholds: { ...stepThresholds, max_error_rate: 1, max_error_rate_increase: 1 } }),
    expect: { allowed: false, ids: ['canary_all_errors'], outcome: 'fail', messages: ["every one of the canary's 200 requests failed"] } },
  { name: 'step: all-errors stable', domain: 'canary', input: step({ stable: { errors: 1000, error_rate: 1, p99_latency_seconds: 0.01 } }),
    expect: { allowed: false, ids: ['stable_all_errors'], outcome: 'inconclusive',
      messages: ["every one of stable's 1000 requests failed: cannot compare against a failing stable"] } },
  { name: 'step: null canary p99', domain: 'canary', input: step({ canary: { p99_latency_seconds: null } }),
    expect: { allowed: false, ids: ['facts_unavailable'], outcome: 'inconclusive' } },
  { name: 'step: fail wins over inconclusive', domain: 'canary', input: step({ canary: { requests: 50, errors: 25, error_rate: 0.5 } }),
    expect: { allowed: false, ids: ['canary_too_few_requests', 'error_rate_above_stable', 'error_rate_too_high'], outcome: 'fail' } },
  { name: 'step: capped canary p99 within the limits', domain: 'canary', input: step({ canary: { p99_latency_seconds: 0.25, p99_capped: true } }),
    expect: { allowed: false, ids: ['p99_comparison_unbounded', 'p99_latency_unbounded'], outcome: 'inconclusive' } },
  { name: 'step: missing step threshold', domain: 'canary',
    input: step({ thresholds: without(stepThresholds, 'max_p99_ratio') }),
    expect: { allowed: false, ids: ['threshold_missing'], outcome: 'inconclusive', messages: ['threshold max_p99_ratio is missing or not a number'] } },
];
