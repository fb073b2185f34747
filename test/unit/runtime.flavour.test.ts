import { describe, expect, it } from 'vitest';
import { isComposeV1, parseComposeVersion, supportsGlobalProgress } from '../../src/runtime/flavour.js';

describe('parseComposeVersion', () => {
  it.each([
    ['2.24.5', { major: 2, minor: 24, patch: 5 }],
    ['v2.24.5', { major: 2, minor: 24, patch: 5 }],
    ['1.29.2', { major: 1, minor: 29, patch: 2 }],
    ['docker-compose version 1.29.2, build unknown', { major: 1, minor: 29, patch: 2 }],
    ['2.27.1-desktop.1', { major: 2, minor: 27, patch: 1 }],
    ['2.3', { major: 2, minor: 3, patch: 0 }],
  ])('%j', (text, expected) => expect(parseComposeVersion(text)).toEqual(expected));
  it('no version in the text', () => expect(parseComposeVersion('unknown flag: --short')).toBeUndefined());
});

describe('what each version accepts', () => {
  const f = (version: string) => ({ command: ['docker', 'compose'], version });
  it('v1 is v1', () => expect(isComposeV1(f('1.29.2'))).toBe(true));
  it('v2 is not v1', () => expect(isComposeV1(f('2.0.0'))).toBe(false));
  it('a version we cannot read is treated as the oldest', () => expect(isComposeV1(f('dev'))).toBe(true));
  it.each([
    ['1.29.2', false],
    ['2.18.1', false],
    ['2.19.0', true],
    ['2.24.5', true],
    ['3.0.0', true],
  ])('global --progress on %s: %s', (version, expected) => expect(supportsGlobalProgress(f(version))).toBe(expected));
});
