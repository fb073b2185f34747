import { describe, expect, it } from 'vitest';
import { collectAudit } from '../../src/audit/collect.js';
import { correlationText } from '../../src/audit/render-sections.js';
import { asLines, decision, errorRateTooHigh, event, promote, status, GIT_A, p99TooHigh } from '../fixtures/audit/records.js';

const T0 = Date.parse('2024-05-01T10:00:00Z');
const s = (sec: number): number => T0 + sec * 1_000;

describe('collectAudit', () => {
  it('groups the stages of one operation into one event, with its decision, commit and outcome', async () => {
    const data = await collectAudit(asLines([status(s(0)), ...promote(s(10), 'alice@example.com', 'canary'), status(s(30), { mode: 'canary' })]));
    expect(data.operations).toHaveLength(1);
    const op = data.operations[0]!;
    expect(op.action).toBe('promote');
    expect(op.actor).toBe('alice@example.com');
    expect(op.stages).toEqual(['requested', 'policy_decided', 'authorised', 'executed', 'confirmed']);
    expect(op.effectiveMs).toBe(s(13));
    expect(op.decision?.allowed).toBe(true);
    expect(op.git?.sha).toBe(GIT_A.sha);
    expect(data.byAction.get('promote')).toMatchObject({ total: 1, confirmed: 1, denied: 0 });
  });

  it('a denied promote counts as a denial, takes no effect, and its gate violation is listed', async () => {
    const data = await collectAudit(asLines(promote(s(0), 'bob', 'canary', GIT_A, [errorRateTooHigh(0.2)])));
    expect(data.byAction.get('promote')).toMatchObject({ total: 1, denied: 1, confirmed: 0 });
    expect(data.operations[0]!.effectiveMs).toBeNull();
    expect(data.episodes).toHaveLength(1);
    expect(data.episodes[0]).toMatchObject({ id: 'error_rate_too_high', source: 'promote gate', enforcement: 'enforce' });
  });

  it('coalesces consecutive violating ticks into one episode with the worst value, and correlates it', async () => {
    const records = [
      status(s(0)),
      ...promote(s(100), 'alice@example.com', 'canary'),
      // executed at s(103); the violation starts 2m14s later
      status(s(237), { mode: 'canary', errorRate: 0.1, canaryViolations: [errorRateTooHigh(0.1)] }),
      status(s(239), { mode: 'canary', errorRate: 0.4, canaryViolations: [errorRateTooHigh(0.4)] }),
      status(s(241), { mode: 'canary', errorRate: 0.2, canaryViolations: [errorRateTooHigh(0.2), p99TooHigh(0.9)] }),
      status(s(243), { mode: 'canary' }),
      status(s(245), { mode: 'canary', errorRate: 0.3, canaryViolations: [errorRateTooHigh(0.3)] }),
    ];
    const data = await collectAudit(asLines(records));
    const rate = data.episodes.filter((e) => e.id === 'error_rate_too_high');
    expect(rate).toHaveLength(2);
    expect(rate[0]).toMatchObject({ firstMs: s(237), lastMs: s(241), ticks: 3, worstObserved: 0.4, threshold: 0.05 });
    expect(rate[1]).toMatchObject({ firstMs: s(245), ticks: 1 });
    expect(data.episodes.filter((e) => e.id === 'p99_latency_too_high')).toHaveLength(1);
    expect(correlationText(rate[0]!.correlation)).toBe('2m14s after promote canary by alice@example.com at a1b2c3d');
    expect(data.ticksDenied).toBe(4);
    expect(data.peakErrorRate).toMatchObject({ value: 0.4, atMs: s(239) });
  });

  it('a gap in judgement (engine unavailable) ends an episode instead of bridging it', async () => {
    const data = await collectAudit(
      asLines([
        status(s(0), { canaryViolations: [errorRateTooHigh(0.1)] }),
        status(s(2), { canaryUnavailable: 'connection refused' }),
        status(s(4), { canaryViolations: [errorRateTooHigh(0.1)] }),
      ]),
    );
    expect(data.episodes.map((e) => e.ticks)).toEqual([1, 1]);
    expect(data.ticksUnavailable.get('canary')).toBe(1);
  });

  it('counts shadow would-have-blocks apart from denials', async () => {
    const data = await collectAudit(
      asLines([
        status(s(0), { enforcement: 'shadow', canaryViolations: [errorRateTooHigh(0.3)] }),
        event(s(5), 'shadow', { action: 'promote', stage: 'policy_decided', to_mode: 'canary', decision: decision('canary', 'pre_promote', [errorRateTooHigh(0.3)], 'shadow') }),
        event(s(6), 'shadow', { action: 'promote', stage: 'confirmed', to_mode: 'canary' }),
      ]),
    );
    expect(data.ticksDenied).toBe(0);
    expect(data.ticksWouldHaveBlock).toBe(1);
    expect(data.byAction.get('promote')).toMatchObject({ denied: 0, confirmed: 1, wouldHaveBlocked: 1 });
    expect(data.episodes.every((e) => e.enforcement === 'shadow')).toBe(true);
  });

  it('splits time between modes and treats long gaps as unobserved', async () => {
    const data = await collectAudit(
      asLines([status(s(0)), status(s(60)), status(s(120), { mode: 'canary' }), status(s(150), { mode: 'canary' }), status(s(1000))]),
    );
    expect(data.modeTimeMs.get('stable')).toBe(120_000);
    expect(data.modeTimeMs.get('canary')).toBe(30_000);
    expect(data.unobservedMs).toBe(850_000);
  });

  it('reports only the requested period but still correlates with a change made before it', async () => {
    const records = [
      ...promote(s(0), 'alice@example.com', 'canary'),
      status(s(100), { mode: 'canary' }),
      status(s(200), { mode: 'canary', canaryViolations: [errorRateTooHigh(0.1)] }),
      status(s(300), { mode: 'canary' }),
    ];
    const data = await collectAudit(asLines(records), { sinceMs: s(150), untilMs: s(250) });
    expect(data.recordsInPeriod).toBe(1);
    expect(data.operations).toHaveLength(0);
    expect(data.episodes).toHaveLength(1);
    expect(correlationText(data.episodes[0]!.correlation)).toBe('3m17s after promote canary by alice@example.com at a1b2c3d');
  });

  it('reads old records without kind, seq or hashes, and counts unreadable lines instead of guessing', async () => {
    const data = await collectAudit(
      asLines([
        { ts: '2023-01-01T00:00:00Z', action: 'deploy', actor: 'carol', stage: 'confirmed' },
        { ts: '2023-01-01T00:00:05Z', mode: 'stable', window: { requests_per_second: 3, error_rate: 0, p99_seconds: 0.05 } },
        { no: 'time' },
        'not an object',
      ]),
    );
    expect(data.eventRecords).toBe(1);
    expect(data.statusRecords).toBe(1);
    expect(data.unreadable).toBe(2);
    expect(data.byAction.get('deploy')).toMatchObject({ total: 1, confirmed: 1 });
  });

  it('caps the listed operations and says how many more there were', async () => {
    const records = [];
    for (let i = 0; i < 30; i++) records.push(event(s(i * 10), 'ci', { action: 'deploy', stage: 'requested' }), event(s(i * 10 + 1), 'ci', { action: 'deploy', stage: 'confirmed' }));
    const data = await collectAudit(asLines(records), { maxListed: 10 });
    expect(data.operations).toHaveLength(10);
    expect(data.operationsOverflow).toEqual({ count: 20, firstMs: s(100), lastMs: s(290) });
    expect(data.byAction.get('deploy')).toMatchObject({ total: 30, confirmed: 30 });
  });

  it('reads the records the lifecycle commands write: shadow decisions, automatic rollback, engine outage', async () => {
    const base = { action: 'promote' as const, from_mode: 'stable', to_mode: 'canary', git: GIT_A };
    const records = [
      event(s(0), 'alice@example.com', { ...base, stage: 'requested' }),
      // shadow mode: the gate records actor "shadow" and the person as operator
      event(s(1), 'shadow', { ...base, stage: 'policy_decided', operator: 'alice@example.com', decision: decision('canary', 'pre_promote', [errorRateTooHigh(0.2)], 'shadow') }),
      event(s(2), 'alice@example.com', { ...base, stage: 'authorised' }),
      // the promote failed after the change: reverted (modes reversed), then marked failed
      event(s(30), 'alice@example.com', { ...base, from_mode: 'canary', to_mode: 'stable', stage: 'rolled_back', detail: 'automatic rollback: health timeout' }),
      event(s(31), 'alice@example.com', { ...base, stage: 'failed', detail: 'health timeout' }),
      status(s(40), { canaryViolations: [errorRateTooHigh(0.3)] }),
      event(s(50), 'bob@example.com', { action: 'deploy', stage: 'requested' }),
      event(s(51), 'bob@example.com', {
        action: 'deploy',
        stage: 'failed',
        detail: 'policy engine unavailable (connection refused): ...',
        policy_unavailable: { domain: 'infrastructure', question: 'pre_deploy', failure: 'connection refused', enforcement: 'enforce' },
      }),
    ];
    const data = await collectAudit(asLines(records));
    expect(data.operations).toHaveLength(2);
    const [promoteOp, deployOp] = data.operations;
    expect(promoteOp).toMatchObject({ actor: 'alice@example.com', toMode: 'canary', stages: ['requested', 'policy_decided', 'authorised', 'rolled_back', 'failed'] });
    expect(data.byAction.get('promote')).toMatchObject({ total: 1, rolledBack: 1, failed: 0, wouldHaveBlocked: 1 });
    const statusEpisode = data.episodes.find((e) => e.source === 'status')!;
    expect(correlationText(statusEpisode.correlation)).toBe('10s after promote canary (rolled back) by alice@example.com at a1b2c3d');
    expect(deployOp!.decisionUnavailable).toBe('infrastructure: connection refused');
    expect(data.byAction.get('deploy')).toMatchObject({ total: 1, failed: 1 });
  });

  it('keeps every structure bounded over a long, flapping history and says what it left out', async () => {
    // 20,000 ticks whose canary flaps every other tick: 10,000 one-tick episodes.
    function* flapping() {
      for (let i = 0; i < 20_000; i++) {
        yield { line: i + 1, record: status(s(i * 5), i % 2 === 0 ? { canaryViolations: [errorRateTooHigh(0.2)] } : {}) };
      }
    }
    const data = await collectAudit(flapping(), { maxListed: 1_000 });
    expect(data.timeline.length).toBeLessThanOrEqual(200);
    expect(data.timeline.reduce((n, r) => n + (r.violations.get('canary/error_rate_too_high') ?? 0), 0)).toBe(10_000);
    expect(data.episodes).toHaveLength(1_000);
    expect(data.episodesOverflow).toMatchObject({ count: 9_000 });
    expect(data.ticksDenied).toBe(10_000);
  });
});
