/** Signatures and bodies: what a receiver gets, byte for byte, and what it must refuse. */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { genericBody, formatNotice, slackBody } from '../../src/notify/format.js';
import { signBody, verifySignature } from '../../src/notify/sign.js';
import { correlationText } from '../../src/notify/correlate.js';
import { decisionNotice } from '../../src/lifecycle/alerts.js';
import type { Notice } from '../../src/notify/types.js';
import type { DecisionRecord } from '../../src/policy/types.js';

const SECRET = 'whsec-test-0123456789';
const NOW = Date.parse('2026-05-01T10:00:00Z');
const T = NOW / 1000;

describe('signBody / verifySignature', () => {
  const body = '{"event":"deny","summary":"x"}';

  it('t=<unix seconds>,v1=<hex HMAC-SHA256 over "<t>.<raw body>">, as a receiver computes it independently', () => {
    const header = signBody(body, SECRET, T);
    const expected = createHmac('sha256', SECRET).update(`${T}.${body}`).digest('hex');
    expect(header).toBe(`t=${T},v1=${expected}`);
    expect(verifySignature(header, body, SECRET, { now: NOW })).toEqual({ ok: true, t: T });
  });

  it('a tampered body, a wrong secret and a changed t are mismatches', () => {
    const header = signBody(body, SECRET, T);
    expect(verifySignature(header, body.replace('deny', 'rollback'), SECRET, { now: NOW })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySignature(header, body, 'another-secret', { now: NOW })).toEqual({ ok: false, reason: 'mismatch' });
    const shifted = header.replace(`t=${T}`, `t=${T + 1}`);
    expect(verifySignature(shifted, body, SECRET, { now: NOW })).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('an old timestamp (a replay) is refused even with a valid MAC; inside the tolerance it passes', () => {
    const old = signBody(body, SECRET, T - 301);
    expect(verifySignature(old, body, SECRET, { now: NOW })).toEqual({ ok: false, reason: 'stale' });
    expect(verifySignature(old, body, SECRET, { now: NOW, toleranceSeconds: 600 })).toEqual({ ok: true, t: T - 301 });
    expect(verifySignature(signBody(body, SECRET, T + 400), body, SECRET, { now: NOW })).toEqual({ ok: false, reason: 'stale' });
  });

  it('malformed headers are refused, and any one of several v1 values may match (secret rotation)', () => {
    for (const bad of [undefined, '', 'v1=abc', `t=${T}`, `t=x,v1=${'0'.repeat(64)}`, `t=${T},v1=zz`, 'garbage']) {
      expect(verifySignature(bad, body, SECRET, { now: NOW }).ok).toBe(false);
    }
    const good = signBody(body, SECRET, T).split('v1=')[1]!;
    expect(verifySignature(`t=${T},v1=${'0'.repeat(64)},v1=${good}`, body, SECRET, { now: NOW })).toEqual({ ok: true, t: T });
  });
});

const decision: DecisionRecord = {
  domain: 'canary',
  question: 'pre_promote',
  allowed: false,
  reason: 'error rate too high',
  violations: [{ id: 'error_rate_too_high', message: 'error rate 0.2 > 0.05', observed: 0.2, threshold: 0.05 }],
  observed: { error_rate: 0.2 },
  enforcement: 'enforce',
  policy_version: 'p'.repeat(64),
};

const correlation = { action: 'promote', label: 'promote canary', actor: 'ops@example.com', at: '2026-05-01T09:57:46.000Z', after_ms: 134_000, commit: 'a1b2c3d4e5f6' };
const ctx = { project: 'shop-api', commit: 'f00dfeedcafe', sentAt: new Date(NOW) };

describe('formatNotice', () => {
  const notice: Notice = {
    ...decisionNotice(decision, 'ops@example.com', 'promote canary')!,
    correlation,
    links: [{ label: 'Approve', url: 'https://sd.example.com/a/tok1', approver: 'alice@example.com' }],
  };

  it('the correlation text names how long after what, by whom, at which commit', () => {
    expect(correlationText(correlation)).toBe('2m14s after promote canary by ops@example.com at a1b2c3d');
  });

  it('generic: event, summary, project, actor, commit, decision, violations with observed vs threshold, correlation, links, sent_at', () => {
    const body = JSON.parse(formatNotice(notice, 'generic', ctx)) as Record<string, unknown>;
    expect(body).toMatchObject({
      event: 'deny',
      summary: 'promote canary denied by the canary policy: error_rate_too_high',
      shadow: false,
      project: 'shop-api',
      actor: 'ops@example.com',
      commit: 'f00dfeedcafe',
      decision: { domain: 'canary', allowed: false, enforcement: 'enforce' },
      violations: [{ domain: 'canary', id: 'error_rate_too_high', observed: 0.2, threshold: 0.05 }],
      correlation: { ...correlation, text: '2m14s after promote canary by ops@example.com at a1b2c3d' },
      links: [{ label: 'Approve', url: 'https://sd.example.com/a/tok1', approver: 'alice@example.com' }],
      approval: null,
      incident: null,
      sent_at: '2026-05-01T10:00:00.000Z',
    });
    expect(body).not.toHaveProperty('correlate_at');
  });

  it('the same notice and time give the same bytes (the signature covers them)', () => {
    expect(formatNotice(notice, 'generic', ctx)).toBe(formatNotice({ ...notice }, 'generic', { ...ctx, sentAt: new Date(NOW) }));
    expect(formatNotice(notice, 'slack', ctx)).toBe(formatNotice({ ...notice }, 'slack', { ...ctx, sentAt: new Date(NOW) }));
    expect(formatNotice(notice, 'generic', ctx)).not.toBe(formatNotice(notice, 'generic', { ...ctx, sentAt: new Date(NOW + 1000) }));
  });

  it('slack: text for the push notification, mrkdwn sections, the links as buttons; <, > and & escaped', () => {
    const body = slackBody({ ...notice, summary: 'a <b> & c' }, ctx) as { text: string; blocks: Array<Record<string, unknown>> };
    expect(body.text).toContain('a &lt;b&gt; &amp; c — 2m14s after promote canary by ops@example.com at a1b2c3d');
    expect(body.text).toContain('<https://sd.example.com/a/tok1|Approve>');
    const sections = body.blocks.filter((b) => b.type === 'section').map((b) => (b.text as { type: string; text: string }));
    expect(sections.every((s) => s.type === 'mrkdwn')).toBe(true);
    expect(sections[0]!.text).toBe('*a &lt;b&gt; &amp; c*');
    expect(sections.map((s) => s.text).join('\n')).toContain('`canary/error_rate_too_high` error rate 0.2 &gt; 0.05 (observed 0.2, threshold 0.05)');
    const actions = body.blocks.find((b) => b.type === 'actions') as { elements: Array<Record<string, unknown>> };
    expect(actions.elements).toEqual([
      { type: 'button', action_id: 'swiftdeploy_link_0', text: { type: 'plain_text', text: 'Approve (alice@example.com)' }, url: 'https://sd.example.com/a/tok1' },
    ]);
  });

  it('a shadow decision is a would_have_blocked notice whose summary keeps its [SHADOW] prefix in both formats', () => {
    const shadow = decisionNotice({ ...decision, enforcement: 'shadow', would_have_blocked: ['error_rate_too_high'] }, 'ops@example.com', 'promote canary')!;
    expect(shadow).toMatchObject({ event: 'would_have_blocked', shadow: true });
    expect(shadow.summary).toMatch(/^\[SHADOW\] canary policy would have blocked promote canary: error_rate_too_high$/);
    expect((genericBody(shadow, ctx) as { summary: string }).summary).toMatch(/^\[SHADOW\] /);
    expect((slackBody(shadow, ctx) as { text: string }).text).toMatch(/^\[SHADOW\] /);
  });

  it('an allowed decision sends nothing; an enforced rollout-step denial is told as the pause or abort instead', () => {
    expect(decisionNotice({ ...decision, allowed: true, violations: [] }, 'x', 'promote')).toBeUndefined();
    expect(decisionNotice({ ...decision, question: 'step' }, 'x', 'step')).toBeUndefined();
    expect(decisionNotice({ ...decision, question: 'step', enforcement: 'shadow' }, 'x', 'step')?.event).toBe('would_have_blocked');
  });
});
