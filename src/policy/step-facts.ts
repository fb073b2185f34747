import type { WindowStats } from '../metrics/types.js';
import { canaryFactsFromWindow } from './canary-facts.js';
import type { StepFacts, TrackFacts } from './types.js';

/**
 * One track's facts from its own metrics window. A pure renaming, like canaryFactsFromWindow: nulls
 * stay null, so an empty window reaches the policy as unavailable, never as a 0% error rate.
 */
export function trackFactsFromWindow(w: WindowStats): TrackFacts {
  return {
    ...canaryFactsFromWindow(w),
    p50_latency_seconds: w.p50_seconds,
    p95_latency_seconds: w.p95_seconds,
    counter_resets: w.counter_resets,
  };
}

/**
 * The facts of the canary policy's `step` question: the step (1-based), the canary's weight in %, the
 * step's configured window, and one window per track, each made by windowStats from two scrapes of
 * that track's own metrics over the step.
 */
export function stepFacts(step: number, weight: number, windowSeconds: number, stableWindow: WindowStats, canaryWindow: WindowStats): StepFacts {
  return {
    step,
    weight,
    window_seconds: windowSeconds,
    stable: trackFactsFromWindow(stableWindow),
    canary: trackFactsFromWindow(canaryWindow),
  };
}
