import { describe, expect, it } from 'vitest';
import { collectAudit } from '../../src/audit/collect.js';
import { renderRollouts } from '../../src/audit/render-rollouts.js';
import { weightPerRow } from '../../src/audit/rollouts.js';
import { asLines, event, status, type Unhashed } from '../fixtures/audit/records.js';

const T0 = Date.parse('2024-06-03T09:00:00Z');
const at = (sec: number): number => T0 + sec * 1000;

function rollout(id: string, step: number, weight: number, st: string, reason?: string): Record<string, unknown> {
  return { id, step, steps: 2, weight, status: st, canary_image: 'app:2', canary_version: '2.0.0', ...(reason !== undefined ? { reason } : {}) };
}

const analysis = { step: 1, weight: 25, outcome: 'pass', tracks: { stable: { requests: 90, error_rate: 0.0111, p99_seconds: 0.1234 }, canary: { requests: 30, error_rate: 0, p99_seconds: 0.2 } } };

function transition(sec: number, actor: string, intentId: string, r: Record<string, unknown>, withAnalysis = false): Unhashed[] {
  const extra = { rollout: r, ...(withAnalysis ? { analysis } : {}) };
  return [
    event(at(sec), actor, { action: 'promote', stage: 'intent', intent_id: intentId, files: [], ...extra }),
    // An outcome that repeats its intent's payload must not add the analysis twice.
    event(at(sec + 1), actor, { action: 'promote', stage: 'completed', intent_id: intentId, intent_seq: 1, ...extra }),
  ];
}

describe('rollouts in the audit collector', () => {
  it('takes an analysis once per intent, even when its outcome record repeats it', async () => {
    const records = [
      ...transition(0, 'alice', 'i1', rollout('r-1', 1, 0, 'running')),
      ...transition(10, 'alice', 'i2', rollout('r-1', 1, 25, 'running')),
      ...transition(40, 'alice', 'i3', rollout('r-1', 2, 25, 'running'), true),
    ];
    const data = await collectAudit(asLines(records));
    const [view] = data.rollouts.rollouts;
    expect(view?.rows.map((r) => [r.step, r.weight, r.analysis?.outcome ?? null, r.status])).toEqual([
      [1, 0, null, 'running'],
      [1, 25, 'pass', null],
    ]);
    expect(data.rollouts.weights.map((w) => w.weight)).toEqual([0, 25]);
    const section = renderRollouts(data) ?? '';
    // One decimal for error rates, whole milliseconds for p99.
    expect(section).toContain('| 1/2 | 25% | pass | 90 | 1.1% | 123 ms | 30 | 0.0% | 200 ms |');
  });

  it('keeps memory to rollouts and steps: status records during a rollout add nothing to it', async () => {
    const records: Unhashed[] = [...transition(0, 'alice', 'i1', rollout('r-1', 1, 25, 'running'))];
    for (let i = 0; i < 5_000; i++) records.push(status(at(10 + i * 5)));
    records.push(...transition(30_000, 'alice', 'i2', rollout('r-1', 2, 25, 'running'), true));
    const data = await collectAudit(asLines(records));
    expect(data.rollouts.rollouts).toHaveLength(1);
    expect(data.rollouts.rollouts[0]?.rows).toHaveLength(2);
    expect(data.rollouts.weights).toHaveLength(1);
    expect(data.timeline.length).toBeLessThanOrEqual(200);
  });

  it('caps the listed rollouts and says so', async () => {
    const records = ['r-1', 'r-2', 'r-3'].flatMap((id, i) => transition(i * 100, 'alice', `i${i}`, rollout(id, 1, 0, 'running')));
    const data = await collectAudit(asLines(records), { maxListed: 2 });
    expect(data.rollouts.rollouts.map((v) => v.id)).toEqual(['r-1', 'r-2']);
    expect(data.rollouts.overflow).toBeGreaterThan(0);
    expect(renderRollouts(data)).toContain('further rollout records are not listed (list cap reached); use --since/--until');
  });

  it('renders nothing for a history without rollouts', async () => {
    const data = await collectAudit(asLines([status(at(0)), status(at(5))]));
    expect(renderRollouts(data)).toBeNull();
    expect(data.rollouts.weights).toEqual([]);
  });
});

describe('weightPerRow', () => {
  it('is 0 before any rollout, the weight in effect after, and the peak inside a row', () => {
    const rows = [
      { fromMs: 0, toMs: 10 },
      { fromMs: 20, toMs: 40 },
      { fromMs: 50, toMs: 60 },
      { fromMs: 70, toMs: 80 },
    ];
    const weights = [
      { tsMs: 15, weight: 10 },
      // A step shorter than a row still shows at its height.
      { tsMs: 25, weight: 50 },
      { tsMs: 30, weight: 0 },
      { tsMs: 75, weight: 25 },
    ];
    expect(weightPerRow(rows, weights)).toEqual([0, 50, 0, 25]);
  });
});
