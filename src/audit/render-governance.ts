/** The report's governance sections: approvals, the guard's incidents, webhook deliveries (src/audit/governance.ts). */
import type { AuditData } from './collect.js';
import { approvalOutcome, type ApprovalView, type IncidentView } from './governance.js';
import { escapeMarkdown, formatCount, formatDuration, formatTime, plural, tableHeader, tableRow } from './markdown.js';

function between(fromMs: number | null | undefined, toMs: number | null | undefined): string {
  return fromMs == null || toMs == null ? '—' : formatDuration(toMs - fromMs);
}

function refusedText(a: ApprovalView): string {
  const parts = Object.entries(a.refused)
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    .map(([why, n]) => `${formatCount(n)} ${escapeMarkdown(why)}`);
  return parts.length === 0 ? '' : `; refused attempts: ${parts.join(', ')}`;
}

function renderApprovals(approvals: ApprovalView[], endMs: number | null): string {
  const lines = [
    '## Approvals',
    '',
    '> Authorisations requested instead of given at the terminal, and how each was decided. A decision by link is one tap on an approver\'s own single-use link; refused attempts decided nothing.',
    '',
    tableHeader(['Requested', 'Action', 'Requested by', 'Decided by', 'Waited', 'Outcome']),
  ];
  for (const a of approvals) {
    const end = approvalOutcome(a, endMs);
    const deciders = a.decisions
      .filter((d) => end.by.includes(d.by))
      .map((d) => `${escapeMarkdown(d.by)}${d.via === null ? '' : ` (${escapeMarkdown(d.via)})`}`);
    const used = a.usedMs === null ? (end.outcome === 'approved' ? '; not used yet' : '') : `; used ${formatDuration(a.usedMs - (end.atMs ?? a.usedMs))} after approval`;
    const denyReason = end.outcome === 'denied' ? a.decisions.find((d) => d.outcome === 'denied')?.reason : undefined;
    const ended = end.outcome === 'expired' || end.outcome === 'voided' ? (a.ended?.reason ?? (a.expiresMs !== null ? `not decided by ${formatTime(a.expiresMs)}` : undefined)) : undefined;
    const why = denyReason ?? ended;
    lines.push(
      tableRow([
        formatTime(a.requestedMs),
        `${escapeMarkdown(a.action ?? 'unknown')}${a.summary === null ? '' : `: ${escapeMarkdown(a.summary)}`} (\`${escapeMarkdown(a.id)}\`${a.required > 1 ? `, ${a.required} approvers required` : ''})`,
        escapeMarkdown(a.requestedBy),
        deciders.length === 0 ? '—' : deciders.join(', '),
        end.atMs === null ? '—' : formatDuration(end.atMs - a.requestedMs),
        `${escapeMarkdown(end.outcome)}${why ? `: ${escapeMarkdown(why)}` : ''}${used}${refusedText(a)}`,
      ]),
    );
  }
  return lines.join('\n');
}

function stageAt(i: IncidentView, stage: string): { actor: string; atMs: number } | undefined {
  return i.stages.find((s) => s.stage === stage);
}

function renderIncidents(incidents: IncidentView[]): string {
  const lines = [
    '## Guard incidents',
    '',
    '> Detected by policy (actor `policy`), proposed by the guard, authorised by a human (or by policy when a failing canary may be aborted automatically), executed, and recovered when the policy judged the stack healthy again. Shadow incidents executed nothing.',
    '',
    tableHeader(['Detected', 'Mode', 'Violations', 'Last change before it', 'Proposed', 'Authorised by', 'Detected → authorised', 'Executed', 'Detected → recovered']),
  ];
  for (const i of incidents) {
    const detected = stageAt(i, 'detected');
    const authorised = stageAt(i, 'authorised');
    const executed = stageAt(i, 'executed');
    const recovered = stageAt(i, 'recovered');
    const start = detected?.atMs ?? i.stages[0]?.atMs ?? null;
    const c = i.correlation;
    const change =
      c === null
        ? '—'
        : `${c.afterMs === null ? '' : `${formatDuration(c.afterMs)} after `}${escapeMarkdown(c.label)}${c.actor === null ? '' : ` by ${escapeMarkdown(c.actor)}`}${c.commit === null ? '' : ` at \`${escapeMarkdown(c.commit.slice(0, 7))}\``}`;
    const by = i.authorisedBy.length > 0 ? i.authorisedBy.map(escapeMarkdown).join(', ') : authorised === undefined ? '—' : escapeMarkdown(authorised.actor);
    lines.push(
      tableRow([
        start === null ? '—' : formatTime(start),
        i.shadow ? 'shadow' : 'enforce',
        i.violations.length === 0 ? '—' : i.violations.map(escapeMarkdown).join(', '),
        change,
        i.plan === null ? '—' : `${i.shadow ? 'would have proposed ' : ''}${escapeMarkdown(i.plan)}`,
        by,
        between(start, authorised?.atMs),
        executed === undefined ? (i.shadow ? 'nothing (shadow)' : '—') : `${escapeMarkdown(i.outcome ?? 'done')}${i.detail === null ? '' : `: ${escapeMarkdown(i.detail)}`}`,
        recovered === undefined ? 'not recovered' : between(start, recovered.atMs),
      ]),
    );
  }
  return lines.join('\n');
}

function renderDeliveries(data: AuditData): string {
  const rows = [...data.governance.deliveries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const lines = ['## Notifications', '', tableHeader(['Event', 'Delivered', 'Undelivered'])];
  for (const [event, c] of rows) lines.push(tableRow([escapeMarkdown(event), formatCount(c.delivered), formatCount(c.undelivered)]));
  return lines.join('\n');
}

/** null when the history has no approval, incident or delivery in the period (the report then has no such sections). */
export function renderGovernance(data: AuditData): string | null {
  const g = data.governance;
  const sections: string[] = [];
  if (g.approvals.length > 0) sections.push(renderApprovals(g.approvals, data.lastMs));
  if (g.incidents.length > 0) sections.push(renderIncidents(g.incidents));
  if (g.deliveries.size > 0) sections.push(renderDeliveries(data));
  if (g.overflow > 0) sections.push(`> ⚠️ ${plural(g.overflow, 'further approval or incident', 'further approvals or incidents')} not listed (the list is capped); use --since/--until to list them.`);
  return sections.length === 0 ? null : sections.join('\n\n');
}
