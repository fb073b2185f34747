/**
 * Inputs and the decisions policies/*.rego must give for them: the same cases the *_test.rego files
 * prove, as data. test/integration/policy.decisions.test.ts sends every `input` to a real
 * `opa run --server` loaded with policies/ and checks the decision against `expect`; the healthy
 * facts and thresholds are reused by the other policy tests.
 */
import type { PolicyDomain } from '../../src/policy/types.js';

export interface PolicyCase {
  name: string;
  domain: PolicyDomain;
  input: unknown;
  expect: { allowed: boolean; ids: string[]; messages?: string[]; reason?: string };
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

const infra = (question: unknown, facts: object, thresholds: object = infraThresholds) => ({ question, facts, thresholds });
const canary = (question: unknown, facts: object, thresholds: object = canaryThresholds) => ({ question, facts, thresholds });
const without = (o: Record<string, unknown>, key: string) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));

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
  { name: 'tiny and huge floats format like Go', domain: 'infrastructure',
    input: infra('pre_deploy', { ...healthyHost, disk_free_gb: 0.00001, memory_available_mb: 1234567.5 },
      { ...infraThresholds, min_memory_available_mb: 2000000.25 }),
    expect: { allowed: false, ids: ['disk_free_too_low', 'memory_available_too_low'],
      messages: ['disk free 1e-05 GB is below the minimum 10 GB', 'available memory 1.2345675e+06 MB is below the minimum 2.00000025e+06 MB'] } },

  { name: 'healthy canary, pre_promote', domain: 'canary', input: canary('pre_promote', healthyCanary),
    expect: { allowed: true, ids: [], reason: 'canary checks passed for pre_promote' } },
  { name: 'healthy canary, status', domain: 'canary', input: canary('status', healthyCanary), expect: { allowed: true, ids: [] } },
  { name: 'error rate above maximum', domain: 'canary', input: canary('pre_promote', { ...healthyCanary, error_rate: 0.05 }),
    expect: { allowed: false, ids: ['error_rate_too_high'], messages: ['error rate 0.05 is above the maximum 0.01'] } },
  { name: 'error rate equal to maximum', domain: 'canary', input: canary('pre_promote', { ...healthyCanary, error_rate: 0.01 }),
    expect: { allowed: true, ids: [] } },
  { name: 'p99 above maximum', domain: 'canary', input: canary('pre_promote', { ...healthyCanary, p99_latency_seconds: 0.75 }),
    expect: { allowed: false, ids: ['p99_latency_too_high'], messages: ['p99 latency 0.75s is above the maximum 0.5s'] } },
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
    expect: { allowed: false, ids: ['window_too_short'], messages: ['window covered 5s, shorter than the required 30s'] } },
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
    expect: { allowed: false, ids: ['unsupported_question'], messages: ['unsupported question: policy/canary answers pre_promote and status'] } },
  { name: 'canary with empty input', domain: 'canary', input: {}, expect: { allowed: false, ids: ['unsupported_question'] } },
];
