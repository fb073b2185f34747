import { describe, expect, it } from 'vitest';
import { planArgv, planHash } from '../../src/approvals/plan.js';
import { approvalKey, mintToken, parseToken, tokenId, tokenMatches } from '../../src/approvals/token.js';
import { UsageError } from '../../src/errors.js';

const key = Buffer.from('k'.repeat(32));
const binding = { id: 'ap-0123456789abcdef', plan_hash: 'a'.repeat(64), approver: 'alice@example.com', expires_at: '2030-01-01T00:00:00.000Z' };

describe('approval tokens', () => {
  it('carry 128 random bits, verify for their binding only, and the ledger digest is not the token', () => {
    const { token, token_id } = mintToken(key, binding);
    const parsed = parseToken(token)!;
    expect(parsed.approver).toBe('alice@example.com');
    expect(Buffer.from(parsed.nonce, 'base64url')).toHaveLength(16);
    expect(token_id).toBe(tokenId(parsed.nonce));
    expect(token).not.toContain(token_id);
    expect(tokenMatches(key, binding, parsed)).toBe(true);
    for (const change of [{ id: 'ap-ffffffffffffffff' }, { plan_hash: 'b'.repeat(64) }, { approver: 'bob@example.com' }, { expires_at: '2031-01-01T00:00:00.000Z' }]) {
      expect(tokenMatches(key, { ...binding, ...change }, parsed)).toBe(false);
    }
    expect(tokenMatches(Buffer.from('x'.repeat(32)), binding, parsed)).toBe(false);
    expect(tokenMatches(key, binding, { ...parsed, mac: parsed.mac.slice(0, -4) })).toBe(false);
    expect(mintToken(key, binding).token).not.toBe(token);
  });

  it('malformed tokens parse to nothing', () => {
    for (const t of ['', 'a.b', 'a.b.c.d', 'a..c', 'a.b.c!', 'x'.repeat(600)]) expect(parseToken(t)).toBeUndefined();
  });

  it('the key comes from the named variable; missing or short is a usage error naming it', () => {
    expect(approvalKey({ secret_env: 'SD_K' }, { SD_K: 's'.repeat(16) })).toEqual(Buffer.from('s'.repeat(16)));
    expect(() => approvalKey({ secret_env: 'SD_K' }, {})).toThrow(UsageError);
    expect(() => approvalKey({ secret_env: 'SD_K' }, {})).toThrow(/SD_K, which is not set/);
    expect(() => approvalKey({ secret_env: 'SD_K' }, { SD_K: 'short' })).toThrow(/SD_K is too short/);
  });
});

describe('plans', () => {
  it('the hash changes with the plan, the manifest and the stack', () => {
    const plan = { action: 'promote' as const, args: { mode: 'canary' }, summary: 'promote canary' };
    const base = planHash(plan, 'm', { rollout: null, last_change: null });
    expect(planHash({ ...plan }, 'm', { last_change: null, rollout: null })).toBe(base);
    expect(planHash({ ...plan, args: { mode: 'stable' } }, 'm', { rollout: null, last_change: null })).not.toBe(base);
    expect(planHash(plan, 'n', { rollout: null, last_change: null })).not.toBe(base);
    expect(planHash(plan, 'm', { rollout: '{}', last_change: null })).not.toBe(base);
    expect(planHash(plan, 'm', { rollout: null, last_change: 'h' })).not.toBe(base);
  });

  it('each action becomes the argv serve runs', () => {
    expect(planArgv({ action: 'promote', args: { mode: 'stable' }, summary: '' })).toEqual(['promote', 'stable']);
    expect(planArgv({ action: 'rollback', args: { reason: 'r' }, summary: '' })).toEqual(['rollback', '--reason', 'r']);
    expect(planArgv({ action: 'abort', args: {}, summary: '' })).toEqual(['abort']);
    expect(planArgv({ action: 'resume', args: {}, summary: '' })).toEqual(['resume']);
    expect(planArgv({ action: 'teardown', args: { clean: true }, summary: '' })).toEqual(['teardown', '--clean']);
  });
});
