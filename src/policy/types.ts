/**
 * The contract between fact gathering, the OPA client, the Rego policies and the history ledger.
 * The Rego in policies/ reads exactly these shapes from `input`; change both together.
 */

export type PolicyDomain = 'infrastructure' | 'canary';
export type InfrastructureQuestion = 'pre_deploy' | 'status';
export type CanaryQuestion = 'pre_promote' | 'status' | 'step';
export type PolicyQuestion = InfrastructureQuestion | CanaryQuestion;
export type Enforcement = 'enforce' | 'shadow';

/** A fact that could not be measured is null, never 0: the policy turns it into `facts_unavailable`. */
export interface InfrastructureFacts {
  disk_free_gb: number | null;
  /** The path whose filesystem was measured (Docker's data root when known, else the project dir). */
  disk_path: string;
  cpu_load_1m: number | null;
  cpu_cores: number;
  /** 1-minute load average divided by the core count; this is what `max_cpu_load` is compared with. */
  cpu_load_per_core: number | null;
  memory_available_mb: number | null;
  /** Where each fact came from, e.g. `{ disk_free_gb: "statfs:/var/lib/docker" }`. */
  sources: Record<string, string>;
}

export interface InfrastructureThresholds {
  min_disk_free_gb: number;
  max_cpu_load: number;
  min_memory_available_mb: number;
}

/**
 * One canary window of the app's own traffic (swiftdeploy's /metrics and /healthz scrapes excluded),
 * produced by src/metrics from two snapshots.
 */
export interface CanaryFacts {
  /** Seconds actually covered by the window (may be shorter than asked for). */
  window_seconds: number;
  /** Completed requests in the window. */
  requests: number;
  errors: number;
  requests_per_second: number;
  /** null when there was no traffic: "no data" must never pass a gate as 0. */
  error_rate: number | null;
  p99_latency_seconds: number | null;
  /** true when the p99 rank fell in the +Inf bucket and p99 is the highest finite bound. */
  p99_capped: boolean;
}

export interface CanaryThresholds {
  max_error_rate: number;
  max_p99_latency_seconds: number;
  window_seconds: number;
  min_requests: number;
}

/**
 * One track's window over a rollout step (from that track's own metrics): the CanaryFacts fields plus
 * the other quantiles and the counter resets, for the record and the timeline.
 */
export interface TrackFacts extends CanaryFacts {
  p50_latency_seconds: number | null;
  p95_latency_seconds: number | null;
  counter_resets: number;
}

/** The facts of the canary policy's `step` question. */
export interface StepFacts {
  /** 1-based index of the rollout step. */
  step: number;
  /** The canary's share of traffic during the step, in %. */
  weight: number;
  /** The step's analysis window as configured (each track's measured window is in its own facts). */
  window_seconds: number;
  stable: TrackFacts;
  canary: TrackFacts;
}

export interface StepThresholds {
  max_error_rate: number;
  max_p99_latency_seconds: number;
  /** Applies to each track in each step. */
  min_requests: number;
  /** The canary's error rate may exceed stable's by at most this (a ratio, 0.01 = one point). */
  max_error_rate_increase: number;
  /** The canary's p99 may be at most stable's p99 times this. */
  max_p99_ratio: number;
}

/** What a step's analysis concluded; `allowed` is exactly `outcome === 'pass'`. */
export type StepOutcome = 'pass' | 'fail' | 'inconclusive';

export interface PolicyInput<Facts = unknown, Thresholds = unknown> {
  question: PolicyQuestion | string;
  facts: Facts;
  thresholds: Thresholds;
}

export interface Violation {
  id: string;
  message: string;
  observed: unknown;
  threshold: unknown;
}

/** The document each policy's `decision` rule produces. Never a bare boolean. */
export interface Decision {
  domain: PolicyDomain;
  question: string;
  allowed: boolean;
  reason: string;
  violations: Violation[];
  observed: Record<string, unknown>;
  /** Only on the canary's `step` question (required there). */
  outcome?: StepOutcome;
}

/** A decision as it was obeyed (or shadowed), as written to history. */
export interface DecisionRecord extends Decision {
  enforcement: Enforcement;
  policy_version: string;
  /** In shadow mode: the violation ids that would have blocked the action. */
  would_have_blocked?: string[];
}
