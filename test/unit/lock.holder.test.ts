/** The one holder record: what is written, and what is still read from before the one lock core. */
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { holderLiveness, newHolder, parseHolder } from '../../src/lock/holder.js';

describe('parseHolder', () => {
  it('reads back what newHolder writes', () => {
    const h = newHolder('deploy', 'alice');
    expect(parseHolder(`${JSON.stringify(h)}\n`)).toEqual(h);
    expect(h).toMatchObject({ version: 1, actor: 'alice', host: hostname(), pid: process.pid, command: 'deploy' });
    expect(h.id).toMatch(/^[0-9a-f]{24}$/);
  });

  it('reads a project lock written by the previous version unchanged', () => {
    const old = { version: 1, id: 'x', actor: 'alice', host: 'build-7', pid: 4121, pidStartTime: '77', bootId: 'b', command: 'promote canary', startedAt: '2026-05-01T14:02:11.532Z' };
    expect(parseHolder(JSON.stringify(old))).toEqual(old);
  });

  it('maps a ledger lock written by the previous version (nonce, since, purpose, boot_id, proc_start)', () => {
    const old = { pid: 4121, host: 'build-7', boot_id: 'b', proc_start: '77', since: '2026-01-01T00:00:00.000Z', nonce: 'n', purpose: 'append event record' };
    expect(parseHolder(JSON.stringify(old))).toEqual({
      version: 1, id: 'n', host: 'build-7', pid: 4121, bootId: 'b', pidStartTime: '77', command: 'append event record', startedAt: '2026-01-01T00:00:00.000Z',
    });
    // null meant "unknown" there; here the field is absent.
    expect(parseHolder(JSON.stringify({ ...old, boot_id: null, proc_start: null }))).not.toHaveProperty('bootId');
  });

  it.each([
    ['[]', 'not a JSON object'],
    ['{"id":"x","host":"h","command":"c","startedAt":"t"}', 'field pid is missing or not an integer'],
    ['{"id":"x","host":"h","pid":1,"startedAt":"t"}', 'field command is missing or not a string'],
    ['{"nonce":"n","pid":1}', 'field host is missing or not a string'],
  ])('refuses %s: %s', (text, reason) => expect(() => parseHolder(text)).toThrow(reason));
});

describe('holderLiveness', () => {
  it('this process is alive', () => expect(holderLiveness(newHolder('x'))).toEqual({ liveness: 'alive' }));
  it('a holder on another host cannot be judged from here', () =>
    expect(holderLiveness({ ...newHolder('x'), host: 'elsewhere' })).toEqual({
      liveness: 'unknown',
      reason: 'taken on another host (elsewhere); cannot check its pid from here',
    }));
});
