/** The guard's incident state machine (src/guard/incident.ts): pure, every stage and its actor. */
import { describe, expect, it } from 'vitest';
import { step, WATCHING, type GuardEffect, type GuardPlan, type GuardSettings, type GuardState } from '../../src/guard/incident.js';
import type { GuardDecision } from '../../src/guard/policy.js';

const enforce: GuardSettings = { mode: 'enforce', autoAbortCanary: false, sustainTicks: 3, operator: 'ops@example.com' };
const shadow: GuardSettings = { ...enforce, mode: 'shadow' };
const violation = { domain: 'canary', id: 'error_rate_too_high', message: 'error rate 50% is above the maximum 1%', observed: 0.5, threshold: 0.01 };
const detected: GuardDecision = { domain: 'guard', detected: true, recovered: false, reason: 'violation sustained for 3 judged ticks', violations: [violation], judged_ticks: 3 };
const quiet: GuardDecision = { ...detected, detected: false, violations: [], reason: 'no sustained violation' };
const healed: GuardDecision = { ...quiet, recovered: true, reason: 'healthy for 2 judged ticks' };
const rollbackPlan = { action: 'rollback' as const, summary: 'rollback demo to stable' };
const abortPlan = { action: 'abort' as const, summary: 'abort rollout r-1 of app:2 at 25%' };

type Rec = Extract<GuardEffect, { kind: 'record' }>;
const records = (effects: GuardEffect[]): Rec[] => effects.filter((e): e is Rec => e.kind === 'record');
const stagesOf = (effects: GuardEffect[]) => records(effects).map((r) => `${r.stage}:${r.actor}`);

function open(s: GuardSettings, plan: GuardPlan = rollbackPlan): { state: GuardState; effects: GuardEffect[] } {
  return step(WATCHING, { kind: 'judged', decision: detected, opening: { id: 'inc-1', plan } }, s);
}

describe('guard incident state machine', () => {
  it('watching: nothing happens until the policy detects', () => {
    expect(step(WATCHING, { kind: 'judged', decision: quiet }, enforce)).toEqual({ state: WATCHING, effects: [] });
    expect(step(WATCHING, { kind: 'judged', decision: healed }, enforce)).toEqual({ state: WATCHING, effects: [] });
  });

  it('enforce, no rollout: DETECTED by policy, an approval is requested, PROPOSED by guard with its links once it exists', () => {
    const a = open(enforce);
    expect(stagesOf(a.effects)).toEqual(['detected:policy']);
    expect(a.effects.at(-1)).toEqual({ kind: 'request_approval', plan: rollbackPlan });
    expect(a.state.phase).toBe('awaiting_decision');
    const det = records(a.effects)[0]!;
    expect(det.incident).toEqual({ id: 'inc-1', shadow: false, violations: [violation], ticks: 3 });
    expect(det.event).toBe('guard_detected');
    expect(det.summary).toBe('detected: violation sustained for 3 judged ticks');

    const links = [{ label: 'approve', url: 'https://deploy.example.com/a/x', approver: 'alice@example.com' }];
    const b = step(a.state, { kind: 'requested', approvalId: 'ap-1', links }, enforce);
    const proposed = records(b.effects)[0]!;
    expect(proposed).toMatchObject({ stage: 'proposed', actor: 'guard', event: 'guard_proposed', links, incident: { id: 'inc-1', approval_id: 'ap-1', plan: rollbackPlan } });

    const c = step(b.state, { kind: 'decided', outcome: { id: 'ap-1', outcome: 'approved', by: ['alice@example.com'] } }, enforce);
    expect(stagesOf(c.effects)).toEqual(['authorised:alice@example.com']);
    expect(records(c.effects)[0]!.incident.authorised_by).toEqual(['alice@example.com']);
    expect(c.effects.at(-1)).toMatchObject({ kind: 'execute', plan: rollbackPlan, runAs: 'ops@example.com', authorisedBy: ['alice@example.com'] });
    expect(c.state.phase).toBe('executing');

    // While the action runs, ticks change nothing.
    expect(step(c.state, { kind: 'judged', decision: healed }, enforce)).toEqual({ state: c.state, effects: [] });

    const d = step(c.state, { kind: 'executed', outcome: 'ok', detail: 'rollback exited 0' }, enforce);
    expect(stagesOf(d.effects)).toEqual(['executed:ops@example.com']);
    expect(records(d.effects)[0]!.incident).toMatchObject({ outcome: 'ok', approval_id: 'ap-1' });
    expect(d.state.phase).toBe('awaiting_recovery');

    // A new detection while the incident is open opens nothing.
    expect(step(d.state, { kind: 'judged', decision: detected, opening: { id: 'inc-2', plan: rollbackPlan } }, enforce).effects).toEqual([]);

    const e = step(d.state, { kind: 'judged', decision: healed }, enforce);
    expect(stagesOf(e.effects)).toEqual(['recovered:policy']);
    expect(records(e.effects)[0]!.event).toBe('guard_recovered');
    expect(e.state).toEqual(WATCHING);
    // After RECOVERED a new incident may open.
    expect(open(enforce).effects.length).toBeGreaterThan(0);
  });

  it('a denied approval runs nothing; the incident waits for recovery', () => {
    const a = open(enforce);
    const b = step(a.state, { kind: 'requested', approvalId: 'ap-1', links: [] }, enforce);
    const c = step(b.state, { kind: 'decided', outcome: { id: 'ap-1', outcome: 'denied', by: ['bob@example.com'], reason: 'known issue' } }, enforce);
    expect(stagesOf(c.effects)).toEqual(['denied:bob@example.com']);
    expect(c.effects.some((e) => e.kind === 'execute')).toBe(false);
    expect(c.state.phase).toBe('awaiting_recovery');
  });

  it('an approval that cannot be requested is recorded as PROPOSED with the reason; nothing runs', () => {
    const a = open(enforce);
    const b = step(a.state, { kind: 'request_failed', detail: 'approvals not available' }, enforce);
    expect(records(b.effects)[0]).toMatchObject({ stage: 'proposed', actor: 'guard', incident: { detail: 'approvals not available' } });
    expect(b.state.phase).toBe('awaiting_recovery');
  });

  it('healed while a human was asked: the approval is cancelled and the incident RECOVERED', () => {
    const a = open(enforce);
    const b = step(a.state, { kind: 'requested', approvalId: 'ap-1', links: [] }, enforce);
    const c = step(b.state, { kind: 'judged', decision: healed }, enforce);
    expect(c.effects[0]).toEqual({ kind: 'cancel_approval' });
    expect(stagesOf(c.effects)).toEqual(['recovered:policy']);
    expect(c.state).toEqual(WATCHING);
    // A late decision for it changes nothing.
    expect(step(c.state, { kind: 'decided', outcome: { id: 'ap-1', outcome: 'approved', by: ['a'] } }, enforce).effects).toEqual([]);
  });

  it('auto_abort_canary: an abort is authorised by policy and run as policy, no human asked', () => {
    const s = { ...enforce, autoAbortCanary: true };
    const a = open(s, abortPlan);
    expect(stagesOf(a.effects)).toEqual(['detected:policy', 'proposed:guard', 'authorised:policy']);
    expect(a.effects.at(-1)).toEqual({ kind: 'execute', plan: abortPlan, runAs: 'policy', authorisedBy: ['policy'] });
    expect(a.effects.some((e) => e.kind === 'request_approval')).toBe(false);
    expect(a.state.phase).toBe('executing');
  });

  it('auto_abort_canary never authorises a rollback: an incident on stable needs a human', () => {
    const a = open({ ...enforce, autoAbortCanary: true }, rollbackPlan);
    expect(stagesOf(a.effects)).toEqual(['detected:policy']);
    expect(a.effects.at(-1)).toEqual({ kind: 'request_approval', plan: rollbackPlan });
  });

  it('shadow: DETECTED and PROPOSED recorded with shadow true and [SHADOW] text; nothing requested or run', () => {
    const a = open(shadow);
    expect(stagesOf(a.effects)).toEqual(['detected:policy', 'proposed:guard']);
    expect(a.effects.every((e) => e.kind === 'record')).toBe(true);
    for (const r of records(a.effects)) {
      expect(r.incident.shadow).toBe(true);
      expect(r.summary.startsWith('[SHADOW] ')).toBe(true);
    }
    expect(records(a.effects)[1]!.summary).toBe('[SHADOW] would have proposed rollback demo to stable (a human would be asked to approve)');
    expect(a.state.phase).toBe('awaiting_recovery');
    const b = step(a.state, { kind: 'judged', decision: healed }, shadow);
    expect(records(b.effects)[0]).toMatchObject({ stage: 'recovered', actor: 'policy', summary: '[SHADOW] recovered: healthy for 2 judged ticks', incident: { shadow: true } });
  });

  it('shadow with auto_abort_canary: records every stage it would reach, executes nothing', () => {
    const s = { ...shadow, autoAbortCanary: true };
    const a = open(s, abortPlan);
    expect(stagesOf(a.effects)).toEqual(['detected:policy', 'proposed:guard', 'authorised:policy', 'executed:ops@example.com']);
    expect(a.effects.some((e) => e.kind === 'execute')).toBe(false);
    expect(records(a.effects)[3]!.summary).toBe('[SHADOW] would have run abort rollout r-1 of app:2 at 25%');
    expect(records(a.effects)[3]!.incident.outcome).toBeUndefined();
  });

  it('a failed action is EXECUTED with outcome failed', () => {
    const s = { ...enforce, autoAbortCanary: true };
    const a = open(s, abortPlan);
    const b = step(a.state, { kind: 'executed', outcome: 'failed', detail: 'abort exited 5' }, s);
    expect(records(b.effects)[0]).toMatchObject({ stage: 'executed', summary: 'abort failed: abort exited 5', incident: { outcome: 'failed' } });
  });

  it('auto_abort_canary: a host or unobservable-stack incident during a rollout still asks a human (only a failing canary is aborted by policy)', () => {
    const auto = { ...enforce, autoAbortCanary: true };
    const host = { domain: 'infrastructure', id: 'disk_free_too_low', message: 'disk 0.5 GB below 1 GB', observed: 0.5, threshold: 1 };
    const mixed = step(WATCHING, { kind: 'judged', decision: { ...detected, violations: [violation, host] }, opening: { id: 'inc-1', plan: abortPlan } }, auto);
    expect(stagesOf(mixed.effects)).toEqual(['detected:policy']);
    expect(mixed.effects.at(-1)).toEqual({ kind: 'request_approval', plan: abortPlan });
    const canaryOnly = step(WATCHING, { kind: 'judged', decision: detected, opening: { id: 'inc-2', plan: abortPlan } }, auto);
    expect(stagesOf(canaryOnly.effects)).toEqual(['detected:policy', 'proposed:guard', 'authorised:policy']);
    expect(canaryOnly.effects.at(-1)).toMatchObject({ kind: 'execute', runAs: 'policy' });
  });

  it('an action that did not happen (failed, or its approval expired) is proposed again after another sustain window of failing ticks', () => {
    const a = open(enforce);
    const b = step(a.state, { kind: 'requested', approvalId: 'ap-1', links: [] }, enforce);
    const c = step(b.state, { kind: 'decided', outcome: { id: 'ap-1', outcome: 'approved', by: ['alice@example.com'] } }, enforce);
    const failed = step(c.state, { kind: 'executed', outcome: 'failed', detail: 'rollback exited 5' }, enforce);
    expect(failed.state.phase).toBe('awaiting_recovery');
    let state = failed.state;
    const again = { id: 'inc-1', plan: rollbackPlan };
    for (let i = 1; i < enforce.sustainTicks; i++) {
      const t = step(state, { kind: 'judged', decision: detected, opening: again }, enforce);
      expect(t.effects).toEqual([]);
      state = t.state;
    }
    const re = step(state, { kind: 'judged', decision: detected, opening: again }, enforce);
    expect(re.effects).toEqual([{ kind: 'request_approval', plan: rollbackPlan }]);
    expect(re.state).toMatchObject({ phase: 'awaiting_decision', incident: { id: 'inc-1' } });
    // A successful action is not proposed again: the guard waits for recovery.
    const ok = step(c.state, { kind: 'executed', outcome: 'ok', detail: 'rollback exited 0' }, enforce);
    let okState = ok.state;
    for (let i = 0; i < 10; i++) okState = step(okState, { kind: 'judged', decision: detected, opening: again }, enforce).state;
    expect(okState.phase).toBe('awaiting_recovery');
    // An expired approval too.
    const expired = step(b.state, { kind: 'decided', outcome: { id: 'ap-1', outcome: 'expired', by: [] } }, enforce);
    let e = expired.state;
    let effects: GuardEffect[] = [];
    for (let i = 0; i < enforce.sustainTicks; i++) ({ state: e, effects } = step(e, { kind: 'judged', decision: detected, opening: again }, enforce));
    expect(effects).toEqual([{ kind: 'request_approval', plan: rollbackPlan }]);
  });
});
