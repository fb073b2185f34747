/**
 * The swarm aggregation (src/metrics/replicas.ts) over real /metrics text: several real app servers
 * on 127.0.0.1 play the replicas, scraped with the CLI's own scraper. The aggregate is fed to a
 * RollingWindow as the status monitor does, and must count exactly the traffic sent, across a
 * replaced task, a restart inside one task and a failed scrape.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ReplicaAggregate, type ReplicaScrape } from '../../src/metrics/replicas.js';
import { RollingWindow } from '../../src/metrics/rolling.js';
import { scrapeMetrics } from '../../src/metrics/scrape.js';
import type { Snapshot } from '../../src/metrics/types.js';
import { observeStack } from '../../src/status/observe.js';
import { postChaos, startApp, statusesOf, TEST_TOKEN, type RunningApp } from './app.harness.js';

const WINDOW_S = 600;
const apps: RunningApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function app(mode: 'stable' | 'canary' = 'stable'): Promise<RunningApp> {
  const a = await startApp({ mode, chaosToken: TEST_TOKEN });
  apps.push(a);
  return a;
}

/** A clock that moves one second per scrape, so windows have a length. */
function clock(): () => number {
  let t = 1_700_000_000_000;
  return () => (t += 1000);
}

async function scrapeAll(replicas: Record<string, RunningApp | string>, now: () => number): Promise<ReplicaScrape[]> {
  return Promise.all(
    Object.entries(replicas).map(async ([task, a]): Promise<ReplicaScrape> =>
      typeof a === 'string' ? { task, snapshot: null, error: a } : { task, node: 'node-1', snapshot: await scrapeMetrics(`${a.url}/metrics`, { now }) },
    ),
  );
}

/** What the status monitor does with one tick: aggregate, then the one window. */
function tick(agg: ReplicaAggregate, window: RollingWindow, scrapes: ReplicaScrape[]) {
  const out = agg.add(scrapes);
  if (out.snapshot) window.add(out.snapshot);
  return { ...out, window: window.stats() };
}

describe('ReplicaAggregate over real app servers', () => {
  it('a long-lived aggregate (status): a task first answering more than a window after it started does not pour its older traffic into one tick', async () => {
    const b = await app();
    const agg = new ReplicaAggregate(1);
    const window = new RollingWindow(1);
    tick(agg, window, await scrapeAll({ tb: b }, Date.now));
    // started after the aggregate began, then unreachable for longer than the 1 s window
    const c = await app();
    await statusesOf(`${c.url}/`, 9);
    await new Promise((r) => setTimeout(r, 1300));
    tick(agg, window, await scrapeAll({ tb: b, tc: 'cannot scrape: timeout' }, Date.now));
    await statusesOf(`${b.url}/`, 4);
    const third = tick(agg, window, await scrapeAll({ tb: b, tc: c }, Date.now));
    expect(third.window?.requests).toBe(4);
  });

  it('without an uptime sample: a task listed running but unanswered starts from its first good scrape; one listed Starting first is new and counts all it served', async () => {
    const [a, b, c] = [await app(), await app(), await app()];
    await statusesOf(`${a.url}/`, 40);
    const noUptime = async (x: RunningApp): Promise<Snapshot> => {
      const snap = await scrapeMetrics(`${x.url}/metrics`, { now: Date.now });
      return { ...snap, samples: snap.samples.filter((s) => s.name !== 'app_uptime_seconds') };
    };
    const agg = new ReplicaAggregate(WINDOW_S);
    const window = new RollingWindow(WINDOW_S);
    tick(agg, window, [
      { task: 'ta', snapshot: null, error: 'cannot scrape: timeout' },
      { task: 'tb', snapshot: await noUptime(b) },
      { task: 'tc', snapshot: null, error: 'not running: Starting 1 second ago', pending: true },
    ]);
    await statusesOf(`${b.url}/`, 5);
    await statusesOf(`${c.url}/`, 7);
    const second = tick(agg, window, [
      { task: 'ta', snapshot: await noUptime(a) },
      { task: 'tb', snapshot: await noUptime(b) },
      { task: 'tc', snapshot: await noUptime(c) },
    ]);
    // ta's 40 before the window are not in it; tc, new, counts its 7
    expect(second.window?.requests).toBe(5 + 7);
  });

  it('a replica that misses its first scrape: its first good one is its baseline, not its lifetime; a task started later counts all it served', async () => {
    const [a, b] = [await app(), await app()];
    // a served before the window began (an old incident: errors included)
    await postChaos(a.url, '{"mode":"error","rate":1}');
    await statusesOf(`${a.url}/`, 40);
    await postChaos(a.url, '{"mode":"recover"}');
    const agg = new ReplicaAggregate(WINDOW_S);
    const window = new RollingWindow(WINDOW_S);
    // Real clock: a process's uptime is compared with when the aggregate began.
    tick(agg, window, await scrapeAll({ ta: 'cannot scrape: The operation was aborted due to timeout', tb: b }, Date.now));
    await statusesOf(`${b.url}/`, 5);
    await new Promise((r) => setTimeout(r, 20));
    const second = tick(agg, window, await scrapeAll({ ta: a, tb: b }, Date.now));
    expect(second.window?.requests).toBe(5);
    expect(second.window?.errors).toBe(0);

    const c = await app();
    await statusesOf(`${c.url}/`, 6);
    await statusesOf(`${a.url}/`, 3);
    const third = tick(agg, window, await scrapeAll({ ta: a, tb: b, tc: c }, Date.now));
    expect(third.window?.requests).toBe(5 + 6 + 3);
    expect(third.window?.errors).toBe(0);
  });

  it('sums three replicas: requests, errors and latency buckets of the aggregate are the sums of each replica', async () => {
    const [a, b, c] = [await app(), await app(), await app()];
    await postChaos(c.url, '{"mode":"error","rate":1}');
    const now = clock();
    const agg = new ReplicaAggregate(WINDOW_S);
    const window = new RollingWindow(WINDOW_S);
    tick(agg, window, await scrapeAll({ ta: a, tb: b, tc: c }, now));

    await statusesOf(`${a.url}/`, 5);
    await statusesOf(`${b.url}/`, 7);
    const fromC = await statusesOf(`${c.url}/`, 11);
    expect(fromC.every((s) => s >= 500)).toBe(true);
    const scrapes = await scrapeAll({ ta: a, tb: b, tc: c }, now);
    const t = tick(agg, window, scrapes);

    expect(t.replicas.map((r) => [r.task, r.node, r.window?.requests, r.window?.errors])).toEqual([
      ['ta', 'node-1', 5, 0],
      ['tb', 'node-1', 7, 0],
      ['tc', 'node-1', 11, 11],
    ]);
    expect(t.window?.requests).toBe(23);
    expect(t.window?.errors).toBe(11);
    expect(t.window?.error_rate).toBeCloseTo(11 / 23, 10);
    expect(t.window?.counter_resets).toBe(0);

    // Every bucket of the aggregate is the sum of the replicas' own buckets for that series.
    const bucket = (s: Snapshot, labels: Record<string, string>) =>
      s.samples.find((x) => x.name === 'http_request_duration_seconds_bucket' && Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length === 3)?.value ?? 0;
    const aggregate = t.snapshot!;
    const les = aggregate.samples.filter((x) => x.name === 'http_request_duration_seconds_bucket' && x.labels.path === '/').map((x) => x.labels.le!);
    expect(les).toContain('+Inf');
    expect(les.length).toBeGreaterThan(5);
    for (const le of les) {
      const labels = { method: 'GET', path: '/', le };
      expect(bucket(aggregate, labels)).toBe(scrapes.reduce((sum, s) => sum + bucket(s.snapshot!, labels), 0));
    }
    expect(bucket(aggregate, { method: 'GET', path: '/', le: '+Inf' })).toBe(23);
    expect(t.window?.p99_seconds).not.toBeNull();
  });

  it('tick after tick, as old scrapes leave the window, the replicas\' windows add up to the aggregate\'s', async () => {
    const replicas = { ta: await app(), tb: await app(), tc: await app() };
    // Each scrape moves the clock by an uneven step: the replicas of one tick are scraped at different,
    // shifting times, as docker exec's start-up jitters.
    const steps = [300, 2500, 900, 1700, 100, 2200, 1300];
    let t = 1_700_000_000_000;
    let n = 0;
    const now = () => (t += steps[n++ % steps.length]!);
    const agg = new ReplicaAggregate(5);
    const window = new RollingWindow(5);
    tick(agg, window, await scrapeAll(replicas, now));
    for (let i = 1; i <= 8; i++) {
      await Promise.all(Object.values(replicas).map((a, k) => statusesOf(`${a.url}/`, i + k)));
      const r = tick(agg, window, await scrapeAll(replicas, now));
      expect(r.replicas.every((r) => r.window !== null)).toBe(true);
      expect(r.window?.requests).toBe(r.replicas.reduce((sum, x) => sum + x.window!.requests, 0));
      expect(r.replicas.map((x) => x.window!.seconds)).toEqual([r.window!.seconds, r.window!.seconds, r.window!.seconds]);
    }
    // The window has moved on: it no longer holds the first ticks' traffic.
    expect(window.size).toBeLessThan(9);
  });

  it('a replaced task (a new task id) adds only its own traffic: no drop of the sum, no negative rate', async () => {
    const [a, b] = [await app(), await app()];
    const now = clock();
    const agg = new ReplicaAggregate(WINDOW_S);
    const window = new RollingWindow(WINDOW_S);
    // Both have served traffic before the window starts: it must not be counted.
    await statusesOf(`${a.url}/`, 40);
    await statusesOf(`${b.url}/`, 30);
    tick(agg, window, await scrapeAll({ ta: a, tb: b }, now));

    await statusesOf(`${a.url}/`, 4);
    await statusesOf(`${b.url}/`, 6);
    tick(agg, window, await scrapeAll({ ta: a, tb: b }, now));

    // Swarm replaces task tb by tb2: a fresh process that has served 3 requests when first seen.
    await b.close();
    apps.splice(apps.indexOf(b), 1);
    const b2 = await app();
    await statusesOf(`${b2.url}/`, 3);
    await statusesOf(`${a.url}/`, 2);
    const t = tick(agg, window, await scrapeAll({ ta: a, tb2: b2 }, now));

    expect(t.replicas.map((r) => r.task)).toEqual(['ta', 'tb2']);
    // tb2 has one scrape: no window of its own yet, but its 3 requests are in the aggregate.
    expect(t.replicas[1]?.window).toBeNull();
    expect(t.window?.requests).toBe(4 + 6 + 3 + 2);
    expect(t.window?.requests_per_second).toBeGreaterThan(0);
    expect(t.window?.counter_resets).toBe(0);
    // The aggregate is cumulative: no request series went down across the replacement.
    expect(t.snapshot!.samples.filter((s) => s.name === 'http_requests_total').every((s) => s.value >= 0)).toBe(true);
  });

  it('a restart inside one task is that replica\'s reset; a failed scrape is caught up at the next good one', async () => {
    const [a, b] = [await app(), await app()];
    const now = clock();
    const agg = new ReplicaAggregate(WINDOW_S);
    const window = new RollingWindow(WINDOW_S);
    await statusesOf(`${b.url}/`, 20);
    tick(agg, window, await scrapeAll({ ta: a, tb: b }, now));

    // ta cannot be scraped this tick; its 8 requests are counted when it can be again.
    await statusesOf(`${a.url}/`, 8);
    const failed = tick(agg, window, await scrapeAll({ ta: 'exec failed: scripted', tb: b }, now));
    expect(failed.replicas[0]).toEqual({ task: 'ta', window: null, error: 'exec failed: scripted' });
    expect(failed.window?.requests).toBe(0);

    // The process inside task tb restarts: its counters start again below their old values.
    await b.close();
    apps.splice(apps.indexOf(b), 1);
    const bAgain = await app();
    await statusesOf(`${bAgain.url}/`, 5);
    const t = tick(agg, window, await scrapeAll({ ta: a, tb: bAgain }, now));

    expect(t.window?.requests).toBe(8 + 5);
    expect(t.replicas[1]?.window?.counter_resets).toBeGreaterThan(0);
    expect(t.replicas[1]?.window?.requests).toBe(5);
    expect(t.window?.counter_resets).toBe(0);
  });

  it('the aggregate says a mode only when every replica serves it, and the youngest replica\'s uptime', async () => {
    const now = clock();
    const agg = new ReplicaAggregate(WINDOW_S);
    const [a, b] = [await app('stable'), await app('stable')];
    const same = agg.add(await scrapeAll({ ta: a, tb: b }, now));
    expect(observeStack(same.snapshot!).mode).toBe('stable');
    expect(observeStack(same.snapshot!).chaos).toEqual({ mode: 'none' });

    const c = await app('canary');
    const mixed = agg.add(await scrapeAll({ ta: a, tb: b, tc: c }, now));
    expect(observeStack(mixed.snapshot!).mode).toBeNull();
    const uptimes = (await scrapeAll({ ta: a, tc: c }, now)).map((s) => s.snapshot!.samples.find((x) => x.name === 'app_uptime_seconds')!.value);
    expect(observeStack(mixed.snapshot!).uptime_seconds).toBeLessThanOrEqual(Math.floor(Math.max(...uptimes)));

    const none = agg.add(await scrapeAll({ ta: 'no answer', tb: 'no answer' }, now));
    expect(none.snapshot).toBeNull();
    expect(none.replicas.map((r) => r.error)).toEqual(['no answer', 'no answer']);
  });
});
