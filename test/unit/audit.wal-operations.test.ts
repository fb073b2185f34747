import { describe, expect, it } from 'vitest';
import { collectAudit } from '../../src/audit/collect.js';
import { finalState, outcomeOf } from '../../src/audit/operations.js';
import type { EventPayload } from '../../src/history/types.js';
import { asLines, event, promote } from '../fixtures/audit/records.js';

/** Write-ahead intents and outcomes (docs/history.md) in the report: stages of their operation, never errors. */
const T0 = Date.parse('2024-05-01T10:00:00Z');
const s = (sec: number): number => T0 + sec * 1_000;
const files = [{ path: 'nginx/nginx.conf', before: null, after: 'a'.repeat(64) }];
const intent = (id: string, action: EventPayload['action'] = 'init'): EventPayload => ({ action, stage: 'intent', intent_id: id, command: action, files, writer: { pid: 1, host: 'h' }, detail: 'render nginx/nginx.conf' });
const outcome = (id: string, stage: 'completed' | 'not_applied' | 'partial', extra: Partial<EventPayload> = {}): EventPayload => ({ action: 'init', stage, intent_id: id, intent_seq: 1, detail: 'render nginx/nginx.conf', ...extra });

describe('intents and outcomes in the audit', () => {
  it('init: intent then completed is one operation, completed, counted as confirmed and taking effect', async () => {
    const data = await collectAudit(asLines([event(s(0), 'alice', intent('i1')), event(s(1), 'alice', outcome('i1', 'completed'))]));
    expect(data.operations).toHaveLength(1);
    const op = data.operations[0]!;
    expect(op.stages).toEqual(['intent', 'completed']);
    expect(outcomeOf(op)).toBe('completed: render nginx/nginx.conf');
    expect(finalState(op)).toBe('confirmed');
    expect(op.effectiveMs).toBe(s(1));
    expect(data.byAction.get('init')).toMatchObject({ total: 1, confirmed: 1, failed: 0 });
  });

  it('an outcome recorded by reconciliation ends the operation whose intent it names', async () => {
    const data = await collectAudit(
      asLines([
        event(s(0), 'alice', intent('i1')),
        event(s(60), 'swiftdeploy', outcome('i1', 'partial', { reconciled: true, detail: 'reconciled by init (bob): ...' })),
        event(s(61), 'bob', intent('i2')),
        event(s(62), 'bob', outcome('i2', 'completed')),
      ]),
    );
    expect(data.operations.map((o) => [o.actor, outcomeOf(o)])).toEqual([
      ['alice', 'partly applied: reconciled by init (bob): ...'],
      ['bob', 'completed: render nginx/nginx.conf'],
    ]);
    expect(data.byAction.get('init')).toMatchObject({ total: 2, confirmed: 1, failed: 1 });
  });

  it('an intent with no outcome yet says so; a promote with write-ahead steps still ends confirmed', async () => {
    const open = await collectAudit(asLines([event(s(0), 'alice', intent('i1'))]));
    expect(outcomeOf(open.operations[0]!)).toBe('intent recorded, no outcome yet: render nginx/nginx.conf');
    const records = promote(s(10), 'carol', 'canary');
    // requested, policy_decided, authorised | intent, completed | executed, confirmed
    const withWal = [
      ...records.slice(0, 3),
      event(s(13), 'carol', { ...intent('p1', 'promote') }),
      event(s(13), 'carol', { ...outcome('p1', 'completed'), action: 'promote' }),
      ...records.slice(3),
    ];
    const data = await collectAudit(asLines(withWal));
    expect(data.operations).toHaveLength(1);
    expect(finalState(data.operations[0]!)).toBe('confirmed');
    expect(data.byAction.get('promote')).toMatchObject({ total: 1, confirmed: 1 });
  });
});
