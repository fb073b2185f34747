import { describe, expect, it } from 'vitest';
import { redactToken } from '../../src/runtime/chaos-token.js';

describe('redactToken', () => {
  const token = 'AbCd' + 'x'.repeat(39);
  it('shows four characters and the length', () => expect(redactToken(token)).toBe('AbCd…(43 chars)'));
  it('never contains the token', () => expect(redactToken(token)).not.toContain(token.slice(0, 8)));
  it('a short token is fully masked', () => expect(redactToken('abcdefgh')).toBe('********'));
});
