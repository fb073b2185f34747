import { describe, expect, it } from 'vitest';
import { chaosEffect, MAX_SLOW_SECONDS, NO_CHAOS, parseChaosRequest } from '../../src/app/chaos.js';

describe('parseChaosRequest', () => {
  it.each([
    [{ mode: 'slow', duration: 2.5 }, { mode: 'slow', duration: 2.5 }],
    [{ mode: 'slow', duration: 0 }, { mode: 'slow', duration: 0 }],
    [{ mode: 'slow', duration: MAX_SLOW_SECONDS }, { mode: 'slow', duration: MAX_SLOW_SECONDS }],
    [{ mode: 'error', rate: 0 }, { mode: 'error', rate: 0 }],
    [{ mode: 'error', rate: 1 }, { mode: 'error', rate: 1 }],
    [{ mode: 'recover' }, { mode: 'none' }],
  ])('accepts %o', (body, state) => {
    expect(parseChaosRequest(body)).toEqual({ ok: true, state });
  });

  it.each([
    [null, 'body must be a JSON object'],
    [[{ mode: 'slow' }], 'body must be a JSON object'],
    ['error', 'body must be a JSON object'],
    [{}, 'mode: '],
    [{ mode: 'toString' }, 'mode: '],
    [{ mode: 'slow', duration: Number.POSITIVE_INFINITY }, 'duration: expected a finite number'],
    [{ mode: 'slow', duration: Number.NaN }, 'duration: expected a finite number'],
    [{ mode: 'slow', duration: '1' }, 'duration: expected a finite number'],
    [{ mode: 'slow', duration: MAX_SLOW_SECONDS + 0.001 }, `duration: expected 0 to ${MAX_SLOW_SECONDS} seconds`],
    [{ mode: 'slow', duration: -0.5 }, 'duration: expected 0 to'],
    [{ mode: 'error', rate: Number.NaN }, 'rate: expected a finite number'],
    [{ mode: 'error', rate: 1.0001 }, 'rate: expected a number between 0 and 1, got 1.0001'],
    [{ mode: 'error', rate: true }, 'rate: expected a finite number'],
    [{ mode: 'error' }, 'rate: expected a finite number'],
    [{ mode: 'recover', rate: 0 }, 'unexpected field for mode "recover": "rate"'],
    [{ mode: 'slow', duration: 1, extra: 1, rate: 0.1 }, 'unexpected field for mode "slow": "extra", "rate"'],
  ])('refuses %o with a one-line reason', (body, reason) => {
    const result = parseChaosRequest(body);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toContain(reason);
      expect(result.reason).not.toContain('\n');
    }
  });
});

describe('chaosEffect', () => {
  const never = (): number => {
    throw new Error('random must not be consulted');
  };

  it('passes everything when chaos is off, and a zero-second slow is no delay', () => {
    expect(chaosEffect(NO_CHAOS, never)).toEqual({ kind: 'pass' });
    expect(chaosEffect({ mode: 'slow', duration: 0 }, never)).toEqual({ kind: 'pass' });
  });

  it('delays by the duration in milliseconds', () => {
    expect(chaosEffect({ mode: 'slow', duration: 1.5 }, never)).toEqual({ kind: 'delay', ms: 1500 });
  });

  it('fails exactly when random() < rate, so rate 0 never fails and rate 1 always does', () => {
    const at = (r: number) => () => r;
    expect(chaosEffect({ mode: 'error', rate: 0 }, at(0))).toEqual({ kind: 'pass' });
    expect(chaosEffect({ mode: 'error', rate: 1 }, at(0.999999))).toEqual({ kind: 'fail' });
    expect(chaosEffect({ mode: 'error', rate: 0.25 }, at(0.2499))).toEqual({ kind: 'fail' });
    expect(chaosEffect({ mode: 'error', rate: 0.25 }, at(0.25))).toEqual({ kind: 'pass' });
  });
});
