import { describe, expect, it } from 'vitest';
import {
  abort,
  afterAnalysis,
  atStepWeight,
  complete,
  describeRollout,
  drivenMs,
  hasCanaryTrack,
  newRollout,
  pause,
  resume,
  rolloutStateSchema,
  type RolloutConfig,
  type RolloutState,
} from '../../src/lifecycle/rollout-state.js';

const config: RolloutConfig = { steps: [10, 25, 50, 100], failure_limit: 0, inconclusive_limit: 2, on_inconclusive: 'pause', max_duration: 600 };
const t0 = new Date('2026-11-30T12:00:00.000Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const me = { pid: 4242, host: 'h1' };
const start = (c: RolloutConfig = config): RolloutState => atStepWeight(newRollout('r-1', { image: 'app:2', version: '2.0.0' }, c, me, t0), t0);

describe('rollout state machine', () => {
  it('a new rollout is running at its first step weight, and its state file shape parses', () => {
    const s = start();
    expect(s).toMatchObject({ status: 'running', step: 0, weight: 10, failures: 0, inconclusive: 0 });
    expect(rolloutStateSchema.parse(JSON.parse(JSON.stringify(s)))).toEqual(s);
  });

  it('passes walk the steps in order, then the rollout is ready at 100%', () => {
    let s = start();
    const weights: number[] = [s.weight];
    for (let i = 1; i < 4; i++) {
      const next = afterAnalysis(s, 'pass', config, at(i * 30));
      expect(next.kind).toBe('advance');
      s = atStepWeight(next.state, at(i * 30));
      weights.push(s.weight);
    }
    expect(weights).toEqual([10, 25, 50, 100]);
    const last = afterAnalysis(s, 'pass', config, at(130));
    expect(last.kind).toBe('ready');
    expect(last.state).toMatchObject({ status: 'ready', weight: 100, running_since: null, driven_ms: 130_000 });
    expect(hasCanaryTrack(last.state)).toBe(true);
  });

  it('a failure beyond failure_limit aborts at weight 0; within it the step is analysed again', () => {
    const s = start();
    const aborted = afterAnalysis(s, 'fail', config, at(30));
    expect(aborted.kind).toBe('abort');
    expect(aborted.state).toMatchObject({ status: 'aborted', weight: 0, failures: 1 });
    expect(aborted.state.reason).toContain('failures 1 > failure_limit 0');
    expect(hasCanaryTrack(aborted.state)).toBe(false);

    const tolerant = { ...config, failure_limit: 1 };
    const again = afterAnalysis(start(tolerant), 'fail', tolerant, at(30));
    expect(again).toMatchObject({ kind: 'repeat', state: { status: 'running', weight: 10, failures: 1, step: 0 } });
    expect(afterAnalysis(again.state, 'fail', tolerant, at(60)).kind).toBe('abort');
  });

  it('inconclusive extends the step up to inconclusive_limit, then pauses (on_inconclusive: pause)', () => {
    let s = start();
    for (let i = 1; i <= 2; i++) {
      const next = afterAnalysis(s, 'inconclusive', config, at(i * 30));
      expect(next).toMatchObject({ kind: 'repeat', state: { inconclusive: i, weight: 10 } });
      s = next.state;
    }
    const paused = afterAnalysis(s, 'inconclusive', config, at(90));
    expect(paused.kind).toBe('pause');
    expect(paused.state).toMatchObject({ status: 'paused', weight: 10, running_since: null, driven_ms: 90_000 });
    expect(paused.state.reason).toContain('waiting for a human');
  });

  it('inconclusive exhausted with on_inconclusive: fail counts as a failure', () => {
    const c = { ...config, inconclusive_limit: 0, on_inconclusive: 'fail' as const };
    const next = afterAnalysis(start(c), 'inconclusive', c, at(30));
    expect(next.kind).toBe('abort');
    expect(next.state.reason).toContain('on_inconclusive: fail');
  });

  it('a pass resets the step extensions', () => {
    const once = afterAnalysis(start(), 'inconclusive', config, at(30)).state;
    expect(afterAnalysis(once, 'pass', config, at(60)).state.inconclusive).toBe(0);
  });

  it('max_duration aborts a rollout that would go on, but not the last pass', () => {
    const late = at(601);
    expect(afterAnalysis(start(), 'pass', config, late)).toMatchObject({ kind: 'abort', state: { status: 'aborted', weight: 0 } });
    expect(afterAnalysis(start(), 'inconclusive', config, late).kind).toBe('abort');
    const onLast = { ...start(), step: 3, weight: 100 };
    expect(afterAnalysis(onLast, 'pass', config, late).kind).toBe('ready');
    expect(afterAnalysis(start(), 'pass', config, at(600)).kind).toBe('advance');
  });

  it('paused time does not count towards max_duration', () => {
    const paused = pause(start(), 'Ctrl-C', at(500));
    expect(paused).toMatchObject({ status: 'paused', driven_ms: 500_000, weight: 10, driver: null });
    const resumed = resume(paused, me, at(5000));
    expect(drivenMs(resumed, at(5050))).toBe(550_000);
    expect(afterAnalysis(resumed, 'pass', config, at(5050)).kind).toBe('advance');
    expect(afterAnalysis(resumed, 'pass', config, at(5102)).kind).toBe('abort');
  });

  it('resume continues a running rollout whose driver died, at its step and weight', () => {
    const s = atStepWeight(afterAnalysis(start(), 'pass', config, at(30)).state, at(30));
    const resumed = resume(s, { pid: 7, host: 'h2' }, at(100));
    expect(resumed).toMatchObject({ status: 'running', step: 1, weight: 25, driven_ms: 30_000, running_since: at(100).toISOString(), driver: { pid: 7 } });
  });

  it('abort works from running, paused and ready; completed and aborted refuse', () => {
    const s = start();
    expect(abort(s, 'rollback by ann', at(10))).toMatchObject({ status: 'aborted', weight: 0, reason: 'rollback by ann' });
    expect(abort(pause(s, 'x', at(5)), 'abort', at(10)).status).toBe('aborted');
    const ready = { ...s, status: 'ready' as const, weight: 100 };
    expect(abort(ready, 'abort', at(10)).weight).toBe(0);
    expect(() => abort(abort(s, 'a', at(1)), 'b', at(2))).toThrow(/already aborted/);
    expect(() => abort(complete(ready, at(3)), 'b', at(4))).toThrow(/already completed/);
  });

  it('only a ready rollout completes; nothing acts on an analysis of a stopped rollout', () => {
    const s = start();
    expect(() => complete(s, at(1))).toThrow(/only a ready rollout/);
    expect(() => afterAnalysis(pause(s, 'x', at(1)), 'pass', config, at(2))).toThrow(/paused rollout/);
    expect(() => resume(abort(s, 'x', at(1)), me, at(2))).toThrow(/cannot resume a aborted/);
    expect(complete({ ...s, status: 'ready', weight: 100 }, at(1))).toMatchObject({ status: 'completed', weight: 0 });
  });

  it('describes itself in one line', () => {
    expect(describeRollout(start())).toBe('rollout r-1: app:2 (2.0.0) step 1/4, canary weight 10%, running');
  });

  it('the state file schema refuses a weight above 100 and unknown keys', () => {
    expect(rolloutStateSchema.safeParse({ ...start(), weight: 101 }).success).toBe(false);
    expect(rolloutStateSchema.safeParse({ ...start(), extra: 1 }).success).toBe(false);
  });
});

describe('rollout state file', () => {
  it('round-trips through canonical JSON, and a damaged file fails loudly naming the file', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const { readRollout, rolloutFileContent, rolloutFileIn } = await import('../../src/lifecycle/rollout-store.js');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sd-rollout-'));
    const file = rolloutFileIn(dir);
    expect(await readRollout(file)).toBeUndefined();
    const s = start();
    const content = rolloutFileContent(s);
    expect(content.endsWith('}\n')).toBe(true);
    expect(content.indexOf('"canary"')).toBeLessThan(content.indexOf('"status"'));
    await writeFile(file, content);
    expect(await readRollout(file)).toEqual(s);
    await writeFile(file, content.slice(0, 40));
    await expect(readRollout(file)).rejects.toThrow(/rollout\.json is damaged \(not JSON/);
    await writeFile(file, JSON.stringify({ ...s, weight: 250 }));
    await expect(readRollout(file)).rejects.toThrow(/damaged \(weight: /);
  });
});
