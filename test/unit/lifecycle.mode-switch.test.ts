import { describe, expect, it } from 'vitest';
import { manifestLineChange, modeConfirmed } from '../../src/lifecycle/mode-switch.js';

describe('modeConfirmed: body and header must both agree', () => {
  it('canary needs mode canary AND X-Mode: canary', () => {
    expect(modeConfirmed({ status: 200, mode: 'canary', canaryHeader: true }, 'canary')).toBe(true);
    expect(modeConfirmed({ status: 200, mode: 'canary', canaryHeader: false }, 'canary')).toBe(false);
    expect(modeConfirmed({ status: 200, mode: 'stable', canaryHeader: true }, 'canary')).toBe(false);
  });
  it('stable needs mode stable and NO X-Mode header', () => {
    expect(modeConfirmed({ status: 200, mode: 'stable', canaryHeader: false }, 'stable')).toBe(true);
    expect(modeConfirmed({ status: 200, mode: 'stable', canaryHeader: true }, 'stable')).toBe(false);
  });
  it('an error response confirms nothing', () => {
    expect(modeConfirmed({ status: 502, mode: null, canaryHeader: false }, 'stable')).toBe(false);
    expect(modeConfirmed({ status: 500, mode: 'canary', canaryHeader: true }, 'canary')).toBe(false);
  });
});

describe('manifestLineChange', () => {
  it('names the one changed line, 1-based', () => {
    const before = 'a: 1\nservices:\n  mode: stable # keep\n';
    const after = 'a: 1\nservices:\n  mode: canary # keep\n';
    expect(manifestLineChange(before, after)).toEqual({ line: 3, from: '  mode: stable # keep', to: '  mode: canary # keep' });
  });
  it('is undefined when nothing changed', () => {
    expect(manifestLineChange('x\ny', 'x\ny')).toBeUndefined();
  });
});
