/**
 * Notice -> request body. `generic` is a JSON document a program reads; `slack` is a Slack
 * incoming-webhook body (`text` for notifications and clients without blocks, `blocks` for the
 * rest). Pure: the same notice, context and time give the same bytes (the signature covers them).
 */
import type { Notice, NoticeCorrelation, NoticeViolation } from './types.js';
import { correlationText } from './correlate.js';

export interface FormatContext {
  /** manifest project.name */
  project: string;
  /** The commit the CLI runs on (git sha), when the project is a git repository. */
  commit: string | null;
  sentAt: Date;
}

export type WebhookFormat = 'slack' | 'generic';

export function formatNotice(notice: Notice, format: WebhookFormat, ctx: FormatContext): string {
  return JSON.stringify(format === 'slack' ? slackBody(notice, ctx) : genericBody(notice, ctx));
}

function correlationDoc(c: NoticeCorrelation | null | undefined): (NoticeCorrelation & { text: string }) | null | undefined {
  if (c === undefined || c === null) return c;
  return { action: c.action, label: c.label, actor: c.actor, at: c.at, after_ms: c.after_ms, commit: c.commit, text: correlationText(c) };
}

/** The generic body: fixed key order, absent fields as null so receivers see one shape. */
export function genericBody(notice: Notice, ctx: FormatContext): Record<string, unknown> {
  return {
    event: notice.event,
    summary: notice.summary,
    shadow: notice.shadow === true,
    project: ctx.project,
    actor: notice.actor,
    commit: ctx.commit,
    decision: notice.decision ?? null,
    violations: (notice.violations ?? []).map((v) => ({ domain: v.domain ?? null, id: v.id, message: v.message, observed: v.observed ?? null, threshold: v.threshold ?? null })),
    correlation: correlationDoc(notice.correlation) ?? null,
    links: (notice.links ?? []).map((l) => ({ label: l.label, url: l.url, ...(l.approver !== undefined ? { approver: l.approver } : {}) })),
    approval: notice.approval ?? null,
    incident: notice.incident ?? null,
    detail: notice.detail ?? null,
    sent_at: ctx.sentAt.toISOString(),
  };
}

/** Slack mrkdwn: only &, < and > are special (https://api.slack.com/reference/surfaces/formatting#escaping). */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Slack refuses a section text over 3000 characters and a button label over 75. */
function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function value(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v) ?? 'null';
}

function violationLine(v: NoticeViolation): string {
  const id = v.domain !== undefined ? `${v.domain}/${v.id}` : v.id;
  return `• \`${esc(id)}\` ${esc(v.message)} (observed ${esc(value(v.observed))}, threshold ${esc(value(v.threshold))})`;
}

export function slackBody(notice: Notice, ctx: FormatContext): Record<string, unknown> {
  const blocks: Record<string, unknown>[] = [];
  const section = (text: string) => blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(text, 3000) } });
  section(`*${esc(notice.summary)}*`);
  const facts = [`*project* ${esc(ctx.project)}`, `*event* ${esc(notice.event)}`, `*actor* ${esc(notice.actor)}`];
  if (ctx.commit !== null) facts.push(`*commit* \`${esc(ctx.commit.slice(0, 7))}\``);
  const decision = notice.decision as { domain?: unknown; allowed?: unknown; enforcement?: unknown; reason?: unknown } | undefined;
  if (decision !== undefined) {
    const verdict = decision.allowed === true ? 'allowed' : 'denied';
    facts.push(`*decision* ${esc(`${String(decision.domain ?? 'policy')}: ${verdict}${decision.enforcement === 'shadow' ? ' (shadow)' : ''}`)}`);
  }
  section(facts.join('   '));
  if (notice.violations !== undefined && notice.violations.length > 0) section(notice.violations.map(violationLine).join('\n'));
  if (notice.correlation !== undefined) {
    section(notice.correlation === null ? '_no earlier deploy, promote or rollback found in the ledger_' : `_${esc(correlationText(notice.correlation))}_`);
  }
  if (notice.approval !== undefined) {
    section(`approval \`${esc(notice.approval.id)}\` for *${esc(notice.approval.action)}*, expires ${esc(notice.approval.expires_at)}`);
  }
  const links = notice.links ?? [];
  if (links.length > 0) {
    blocks.push({
      type: 'actions',
      elements: links.slice(0, 25).map((l, i) => ({
        type: 'button',
        action_id: `swiftdeploy_link_${i}`,
        text: { type: 'plain_text', text: clip(l.approver !== undefined ? `${l.label} (${l.approver})` : l.label, 75) },
        url: l.url,
      })),
    });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `swiftdeploy · ${esc(ctx.sentAt.toISOString())}` }] });
  // `text` is what phones show in the push notification, and the whole message without blocks.
  const linkText = links.map((l) => `<${l.url}|${esc(l.label)}>`).join(' · ');
  const text = [notice.summary, notice.correlation ? correlationText(notice.correlation) : null].filter((s): s is string => s !== null).map(esc).join(' — ');
  return { text: clip(linkText === '' ? text : `${text} ${linkText}`, 3000), blocks };
}
