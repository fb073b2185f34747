/**
 * One rollout step judged end to end, as the lifecycle will: two real app instances (stable and canary)
 * on 127.0.0.1 take real traffic, each is scraped before and after, windowStats makes one window per
 * track, stepFacts joins them, and the real OPA answers the canary policy's `step` question.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { scrapeMetrics } from '../../src/metrics/scrape.js';
import { windowStats } from '../../src/metrics/window.js';
import { stepFacts } from '../../src/policy/step-facts.js';
import type { StepFacts } from '../../src/policy/types.js';
import { requireOpa } from '../helpers/engines.js';
import { opaForSuite } from '../helpers/opa.js';
import { stepThresholds } from '../unit/policy.cases.js';
import { postChaos, startApp, statusesOf, TEST_TOKEN, type RunningApp } from './app.harness.js';

const engine = requireOpa();

describe.skipIf(!engine.path)(`a rollout step judged by the real OPA${engine.skipNote}`, () => {
  const real = opaForSuite();
  let apps: RunningApp[] = [];
  afterEach(async () => {
    await Promise.all(apps.map((a) => a.close()));
    apps = [];
  });

  /** Runs one step: `stableRequests` and `canaryRequests` real requests during the window. */
  async function step(stableRequests: number, canaryRequests: number, canaryChaos?: string): Promise<StepFacts> {
    const stable = await startApp({ mode: 'stable' });
    const canary = await startApp({ mode: 'canary', chaosToken: TEST_TOKEN });
    apps.push(stable, canary);
    if (canaryChaos) expect((await postChaos(canary.url, canaryChaos)).status).toBe(200);
    const before = await Promise.all([scrapeMetrics(`${stable.url}/metrics`), scrapeMetrics(`${canary.url}/metrics`)]);
    await Promise.all([statusesOf(`${stable.url}/`, stableRequests), statusesOf(`${canary.url}/`, canaryRequests)]);
    const after = await Promise.all([scrapeMetrics(`${stable.url}/metrics`), scrapeMetrics(`${canary.url}/metrics`)]);
    return stepFacts(3, 50, 30, windowStats(before[0], after[0]), windowStats(before[1], after[1]));
  }

  it('passes a step where both tracks served enough good requests', async () => {
    const facts = await step(150, 120);
    expect(facts).toMatchObject({ step: 3, weight: 50, window_seconds: 30,
      stable: { requests: 150, errors: 0, error_rate: 0 }, canary: { requests: 120, errors: 0, error_rate: 0 } });
    const d = await real.client.decide('canary', { question: 'step', facts, thresholds: { ...stepThresholds, max_p99_latency_seconds: 5 } });
    expect(d).toMatchObject({ allowed: true, outcome: 'pass', violations: [], reason: 'canary checks passed for step 3 at weight 50%' });
    expect(d.observed).toEqual(JSON.parse(JSON.stringify(facts)));
  });

  it('fails a step whose canary answers every request with an error, even when max_error_rate is 1', async () => {
    const facts = await step(150, 120, '{"mode":"error","rate":1}');
    expect(facts.canary).toMatchObject({ requests: 120, errors: 120, error_rate: 1 });
    const thresholds = { ...stepThresholds, max_p99_latency_seconds: 5, max_error_rate: 1, max_error_rate_increase: 1 };
    const d = await real.client.decide('canary', { question: 'step', facts, thresholds });
    expect(d.outcome).toBe('fail');
    expect(d.allowed).toBe(false);
    expect(d.violations.map((v) => v.id)).toEqual(['canary_all_errors']);
    expect(d.reason).toBe("every one of the canary's 120 requests failed");
  });

  it('is inconclusive when the canary saw too little traffic, and shows the count', async () => {
    const facts = await step(150, 7);
    const d = await real.client.decide('canary', { question: 'step', facts, thresholds: { ...stepThresholds, max_p99_latency_seconds: 5 } });
    expect(d.outcome).toBe('inconclusive');
    expect(d.reason).toBe('canary served 7 requests in the step, fewer than the minimum 100');
  });

  it('is inconclusive, never a pass, when the canary saw no traffic at all', async () => {
    const facts = await step(150, 0);
    expect(facts.canary).toMatchObject({ requests: 0, error_rate: null, p99_latency_seconds: null });
    const d = await real.client.decide('canary', { question: 'step', facts, thresholds: { ...stepThresholds, min_requests: 0 } });
    expect(d.outcome).toBe('inconclusive');
    expect(d.violations.map((v) => v.message)).toEqual([
      'canary error_rate could not be measured',
      'canary p99_latency_seconds could not be measured',
    ]);
  });
});
