import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decisionLines } from '../../src/cli/decision.js';
import { Output } from '../../src/cli/output.js';
import { noPaint } from '../../src/cli/paint.js';
import { LiveRegion } from '../../src/cli/redraw.js';
import { eventRenderer } from '../../src/cli/render-events.js';
import { Reporter, type OperationEvent } from '../../src/events.js';
import type { Decision } from '../../src/policy/types.js';

const ESC = /\x1b\[/;

function stream(tty: boolean): Writable & { isTTY?: boolean; text: string } {
  const s = new Writable({
    write(chunk: Buffer, _enc, cb) {
      s.text += chunk.toString();
      cb();
    },
  }) as Writable & { isTTY?: boolean; text: string };
  s.text = '';
  if (tty) s.isTTY = true;
  return s;
}

function terminal(options: { json?: boolean; tty?: boolean } = {}) {
  const stdout = stream(options.tty ?? false);
  const stderr = stream(options.tty ?? false);
  const out = new Output({ json: options.json ?? false, color: true, stdout, stderr, env: {} });
  return { report: new Reporter(eventRenderer(out)), stdout, stderr };
}

const denied: Decision = {
  allowed: false,
  domain: 'canary',
  question: 'pre_promote',
  reason: 'error rate 0.2 above 0.05',
  violations: [{ id: 'error_rate_too_high', message: 'error rate 0.2 above 0.05', observed: 0.2, threshold: 0.05 }],
} as Decision;

describe('the one decision printer', () => {
  it('[PASS], [FAIL] and [SHADOW] with the question, and observed vs threshold per violation', () => {
    expect(decisionLines({ ...denied, allowed: true, violations: [], reason: 'ok' }, false, noPaint)).toEqual(['[PASS] policy/canary (pre_promote): ok']);
    expect(decisionLines(denied, false, noPaint)).toEqual([
      '[FAIL] policy/canary (pre_promote): error rate 0.2 above 0.05',
      '       - error_rate_too_high: error rate 0.2 above 0.05 (observed 0.2, threshold 0.05)',
    ]);
    expect(decisionLines(denied, true, noPaint)[0]).toBe('[SHADOW] policy/canary (pre_promote): error rate 0.2 above 0.05');
  });
});

describe('event renderer', () => {
  it('in a pipe: plain lines on stderr, the result line on stdout, and no escape code anywhere', () => {
    const { report, stdout, stderr } = terminal();
    report.info('plan: promote stable -> canary');
    report.info('  + mode: canary', 'good');
    report.warn('something odd');
    report.error('NOT RECORDED', 'bad');
    report.runtimeOutput('Container app  Started');
    report.decision(denied);
    const step = report.progress('waiting for OPA');
    step.update('HTTP 500');
    step.done('OPA is ready');
    step.update('after done: ignored');
    report.result('promoted demo: stable -> canary', { ok: true, action: 'promote' });
    expect(stderr.text).toBe(
      [
        'plan: promote stable -> canary',
        '  + mode: canary',
        'warning: something odd',
        'error: NOT RECORDED',
        '  | Container app  Started',
        '[FAIL] policy/canary (pre_promote): error rate 0.2 above 0.05',
        '       - error_rate_too_high: error rate 0.2 above 0.05 (observed 0.2, threshold 0.05)',
        'waiting for OPA (0s): HTTP 500',
        'OPA is ready (0s)',
        '',
      ].join('\n'),
    );
    expect(stdout.text).toBe('promoted demo: stable -> canary\n');
    expect(stderr.text + stdout.text).not.toMatch(ESC);
  });

  it('with --json: stdout is exactly one JSON document per result, nothing else', () => {
    const { report, stdout, stderr } = terminal({ json: true, tty: true });
    report.info('plan');
    report.decision(denied, true);
    report.result('rolled back demo', { ok: true, action: 'rollback' });
    expect(stdout.text.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ ok: true, action: 'rollback' }]);
    expect(stderr.text).toContain('[SHADOW] policy/canary');
    // --json draws no spinner and no colour, even on a terminal.
    expect(stderr.text).not.toMatch(ESC);
  });

  it('on a terminal: the spinner redraws one line in place and is erased before any other line', () => {
    const { report, stderr } = terminal({ tty: true });
    const step = report.progress('waiting for http://127.0.0.1:8080/healthz');
    step.update('HTTP 502');
    step.update('HTTP 503');
    const before = stderr.text;
    expect(before.match(/\r\x1b\[2K/g)).toHaveLength(2);
    expect(before).not.toContain('\n');
    report.info('a notice in between');
    expect(stderr.text.slice(before.length)).toBe('\r\x1b[2K\x1b[Ja notice in between\n');
    step.done('healthy');
    expect(stderr.text.endsWith('healthy (0s)\n')).toBe(true);
    // A red `error:` on a terminal: colour reaches stderr only because it is a TTY.
    report.error('boom');
    expect(stderr.text).toContain('\x1b[31merror:\x1b[39m boom');
  });

  it('an unknown event kind is a programming error, not silence', () => {
    const { stderr } = terminal();
    const sink = eventRenderer(new Output({ json: false, color: false, stdout: stream(false), stderr }));
    expect(() => sink.emit({ kind: 'bogus' } as unknown as OperationEvent)).toThrow(TypeError);
  });
});

describe('LiveRegion (the one redraw)', () => {
  it('a multi-line frame is replaced by moving up over it; clear() erases it', () => {
    const s = stream(true);
    const region = new LiveRegion(s);
    region.draw('one\ntwo\nthree');
    region.draw('four');
    expect(s.text).toBe('\r\x1b[2K\x1b[Jone\ntwo\nthree\x1b[2A\r\x1b[2K\x1b[Jfour');
    region.clear();
    expect(s.text.endsWith('four\r\x1b[2K\x1b[J')).toBe(true);
  });

  it('full screen (the status dashboard): home and clear per frame, cursor hidden until close()', () => {
    const s = stream(true);
    const region = new LiveRegion(s, { fullScreen: true, hideCursor: true });
    region.draw('tick 1');
    region.draw('tick 2');
    region.close();
    region.close();
    expect(s.text).toBe('\x1b[?25l\x1b[H\x1b[Jtick 1\n\x1b[H\x1b[Jtick 2\n\x1b[?25h');
  });
});

describe('rollout events', () => {
  const analysed = {
    phase: 'analysed' as const,
    rollout: { id: 'r-1', step: 2, steps: 4, weight: 25, status: 'running' },
    text: 'step 2/4 at 25%: fail',
    outcome: 'fail' as const,
    tracks: { stable: { requests: 120, error_rate: 0, p99_seconds: 0.0123 }, canary: { requests: 40, error_rate: 0.302, p99_seconds: null } },
  };

  it('for humans: one line on stderr with per-track figures in units, nothing on stdout', () => {
    const { report, stdout, stderr } = terminal();
    report.rollout(analysed);
    expect(stdout.text).toBe('');
    expect(stderr.text).toBe(
      'rollout: step 2/4 at 25%: fail\n' +
        '         stable 120 requests, error rate 0%, p99 12 ms\n' +
        '         canary 40 requests, error rate 30.2%, p99 n/a\n',
    );
  });

  it('with --json: one JSON line per event on stdout, raw numbers, then the result document', () => {
    const { report, stdout, stderr } = terminal({ json: true });
    report.rollout(analysed);
    report.rollout({ phase: 'paused', rollout: { id: 'r-1', weight: 25, status: 'paused' }, text: 'paused' });
    report.result('done', { ok: true });
    const lines = stdout.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toEqual({ event: 'rollout', ...analysed });
    expect(lines[1]).toMatchObject({ event: 'rollout', phase: 'paused' });
    expect(lines[2]).toEqual({ ok: true });
    expect(stderr.text).toBe('');
  });
});
