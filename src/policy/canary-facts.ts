import type { WindowStats } from '../metrics/types.js';
import type { CanaryFacts } from './types.js';

/**
 * The canary policy's facts from one metrics window. A pure renaming: nulls stay null ("no
 * traffic" must reach the policy as unavailable, never as a 0% error rate).
 */
export function canaryFactsFromWindow(w: WindowStats): CanaryFacts {
  return {
    window_seconds: w.seconds,
    requests: w.requests,
    errors: w.errors,
    requests_per_second: w.requests_per_second,
    error_rate: w.error_rate,
    p99_latency_seconds: w.p99_seconds,
    p99_capped: w.quantiles_capped,
  };
}
