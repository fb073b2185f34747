import { describe, expect, it } from 'vitest';
import type { StatusPayload } from '../../src/status/payload.js';
import { noPaint, renderDashboard, renderPlainBlock, tickDocument, type Paint } from '../../src/cli/status-view.js';
import { sparkline, SignalHistory } from '../../src/status/sparkline.js';
import { exitForTick, type TickResult } from '../../src/status/tick.js';
import { decision, errorRateTooHigh } from '../fixtures/audit/records.js';

const window = {
  from: 0, to: 30_000, seconds: 30, requests: 300, errors: 300, requests_per_second: 10,
  error_rate: 1, p50_seconds: 0.004, p95_seconds: 0.005, p99_seconds: 0.005, quantiles_capped: false, counter_resets: 0,
};

function tick(payload: Partial<StatusPayload>): TickResult {
  const full: StatusPayload = { mode: 'canary', chaos: { mode: 'error' }, uptime_seconds: 3725, window, decisions: {}, ...payload };
  return { at: Date.parse('2024-05-01T10:00:00Z'), payload: full, record: { seq: 7, hash: 'h' }, exit: exitForTick(full) };
}

// Marks each painted span so a test can see which colour a signal got.
const tagged: Paint = { ok: (s) => `<ok>${s}`, bad: (s) => `<bad>${s}`, warn: (s) => `<warn>${s}`, dim: (s) => s, bold: (s) => s };

describe('status rendering', () => {
  it('100% errors at 5 ms latency: errors red, latency green; nothing averages the outage away', () => {
    const t = tick({ decisions: { infrastructure: decision('infrastructure', 'status', []), canary: decision('canary', 'status', [errorRateTooHigh(1)]) } });
    const out = renderDashboard(t, { rps: [], errorRate: [], p99: [] }, tagged);
    expect(out).toMatch(/<bad>● errors\s+100\.00%/);
    expect(out).toMatch(/<ok>● latency/);
    expect(out).toMatch(/<bad>\[FAIL\] policy\/canary \(status\): .* \(enforce, policy \w{12}\)$/m);
    expect(out).toContain(`error_rate_too_high: ${errorRateTooHigh(1).message} (observed 1, threshold 0.05)`);
    expect(t.exit).toBe(3);
  });

  it('shadow denials are labelled, unavailability is shown per domain', () => {
    const t = tick({
      decisions: {
        infrastructure: { domain: 'infrastructure', unavailable: 'connection refused', enforcement: 'enforce' },
        canary: decision('canary', 'status', [errorRateTooHigh(1)], 'shadow'),
      },
    });
    const out = renderPlainBlock(t);
    expect(out).toContain('UNAVAILABLE infrastructure');
    expect(out).toContain('[SHADOW] policy/canary (status): ');
    expect(t.exit).toBe(4);
    expect(out).not.toMatch(/\x1b\[/);
  });

  it('a failed scrape says so and exits 1; no data is never shown as 0', () => {
    const t = tick({ mode: null, chaos: null, uptime_seconds: null, window: null, error: 'cannot scrape http://127.0.0.1:8080/metrics: connection refused', decisions: {} });
    expect(t.exit).toBe(1);
    expect(renderPlainBlock(t)).toContain('metrics unavailable: cannot scrape');
    const empty = tick({ window: { ...window, requests: 0, errors: 0, requests_per_second: 0, error_rate: null, p50_seconds: null, p95_seconds: null, p99_seconds: null } });
    expect(renderPlainBlock(empty)).toContain('errors  no data');
    expect(renderPlainBlock(empty)).toContain('p99 no data');
  });

  it('--json documents carry the payload, the exit code and the record written', () => {
    const doc = tickDocument(tick({ decisions: {} }));
    expect(doc).toMatchObject({ ts: '2024-05-01T10:00:00.000Z', mode: 'canary', exit_code: 0, record: { seq: 7 } });
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });
});

describe('sparkline', () => {
  it('scales to the series, shows gaps for missing values, keeps the last width values', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8)).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([1, null, 1], 8)).toBe('█ █');
    expect(sparkline([2, 1], 8)).toBe('█▅');
    expect(sparkline([0, 0], 8)).toBe('▁▁');
    expect(sparkline([9, 0, 7], 2)).toBe('▁█');
    const h = new SignalHistory(3);
    for (const v of [1, 2, 3, 4]) h.push(v);
    expect(h.all).toEqual([2, 3, 4]);
  });
});

describe('tracksLine (status during a rollout)', () => {
  it('both tracks in units; a track without a window says so', async () => {
    const { tracksLine } = await import('../../src/cli/status-view.js');
    const w = { from: 0, to: 30_000, seconds: 30, requests: 40, errors: 12, requests_per_second: 1.3, error_rate: 0.302, p50_seconds: 0.01, p95_seconds: 0.4, p99_seconds: 0.8123, quantiles_capped: false, counter_resets: 0 };
    expect(tracksLine({ stable: { ...w, requests: 120, errors: 0, error_rate: 0, p99_seconds: 0.012 }, canary: w })).toBe(
      'tracks: stable 120 req, errors 0%, p99 12 ms | canary 40 req, errors 30.2%, p99 812 ms',
    );
    expect(tracksLine({ stable: null, canary: { ...w, error_rate: null, p99_seconds: null } })).toBe('tracks: stable no window yet | canary 40 req, errors n/a, p99 n/a');
  });
});

describe('replicaLines (status on swarm)', () => {
  it('a head saying how many were summed, one aligned line per replica: its window, or why it was not scraped', async () => {
    const { replicaLines } = await import('../../src/cli/status-view.js');
    const w = { ...window, requests: 40, errors: 0, error_rate: 0, p99_seconds: 0.012 };
    const replicas = [
      { task: 'k2j4h5g6f7d8a9s0d1f2g3h4j', name: 'shop_app.1', node: 'manager', window: w },
      { task: 'p0o9i8u7y6t5r4e3w2q1a2s3d', name: 'shop_app.2', node: 'manager', window: null },
      { task: 'z1x2c3v4b5n6m7l8k9j0h1g2f', name: 'shop_app.3', node: 'worker-2', window: null, error: 'not scraped: on node worker-2' },
    ];
    expect(replicaLines(replicas)).toEqual([
      'replicas: 2 of 3 scraped, summed into the window above',
      '  shop_app.1  manager   40 req, errors 0%, p99 12 ms  (task k2j4h5g6f7d8)',
      '  shop_app.2  manager   no window yet  (task p0o9i8u7y6t5)',
      '  shop_app.3  worker-2  not scraped: on node worker-2  (task z1x2c3v4b5n6)',
    ]);
    const doc = tickDocument(tick({ replicas }));
    expect(JSON.parse(JSON.stringify(doc))).toMatchObject({ replicas: [{ task: replicas[0]!.task, window: { requests: 40 } }, { window: null }, { error: 'not scraped: on node worker-2' }] });
  });
});
