/** The report's list sections: timeline (with operations inline), violations, events, correlation. */
import type { AuditData } from './collect.js';
import {
  escapeMarkdown,
  formatCount,
  formatDuration,
  formatLatency,
  formatRate,
  formatTime,
  formatValue,
  shortVersion,
  tableHeader,
  tableRow,
} from './markdown.js';
import { describeAction, describeChange, outcomeOf, type Operation } from './operations.js';
import type { TimelineRow } from './timeline.js';
import type { Correlation, ViolationEpisode } from './violations.js';
import { analysisTimelineRows, type InlineRow } from './render-rollouts.js';

function commitOf(op: Pick<Operation, 'git' | 'legacy'>): string {
  if (op.git === null) return op.legacy ? 'no commit recorded (legacy record, unverifiable)' : 'no commit recorded';
  return `${escapeMarkdown(op.git.sha.slice(0, 7))}${op.git.dirty ? ' (dirty)' : ''}`;
}

function countsText(counts: Map<string, number>): string {
  return [...counts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, n]) => `${escapeMarkdown(key)}${n > 1 ? ` ×${formatCount(n)}` : ''}`)
    .join(', ');
}

/** "2024-05-01T10:09:20Z → 10:09:25Z": the first and last record of a row (the date once if shared). */
function timeRange(fromMs: number, toMs: number): string {
  const from = formatTime(fromMs);
  if (toMs === fromMs) return from;
  const to = formatTime(toMs);
  return `${from} → ${to.slice(0, 10) === from.slice(0, 10) ? to.slice(11) : to}`;
}

function timelineRow(row: TimelineRow): string {
  const policy: string[] = [];
  if (row.violations.size > 0) policy.push(countsText(row.violations));
  if (row.unavailable.size > 0) policy.push(`engine unavailable: ${countsText(row.unavailable)}`);
  if (row.scrapeFailures > 0) policy.push(`scrape failed ×${formatCount(row.scrapeFailures)}`);
  return tableRow([
    `${timeRange(row.fromMs, row.toMs)}${row.legacyTicks === 0 ? '' : row.legacyTicks === row.ticks ? ' (legacy)' : ` (${formatCount(row.legacyTicks)} legacy)`}`,
    formatCount(row.ticks),
    row.modes.length === 0 ? 'unknown' : row.modes.map(escapeMarkdown).join(' → '),
    row.chaos.length === 0 ? 'unknown' : row.chaos.map(escapeMarkdown).join(', '),
    row.rpsTicks === 0 ? 'no data' : (row.rpsSum / row.rpsTicks).toFixed(2),
    formatRate(row.peakErrorRate),
    formatLatency(row.worstP99, row.worstP99Capped),
    policy.length === 0 ? 'allow' : policy.join('; '),
  ]);
}

function operationRow(op: Operation): string {
  const what = `**▶ ${escapeMarkdown(describeAction(op))}** by ${escapeMarkdown(op.actor)} at ${commitOf(op)}: ${escapeMarkdown(outcomeOf(op))}`;
  return tableRow([formatTime(op.startMs), '', what, '', '', '', '', decisionText(op)]);
}

export function renderTimeline(data: AuditData): string {
  const rows = data.timeline;
  const ticks = rows.reduce((n, r) => n + r.ticks, 0);
  const downsampled = rows.some((r) => r.ticks > 1);
  const note = downsampled
    ? `${formatCount(ticks)} status records shown as ${formatCount(rows.length)} rows of about ${formatCount(Math.round(ticks / Math.max(rows.length, 1)))} records each. ` +
      'In each row req/s is the mean, error rate the peak and p99 the worst of its records, so a short spike keeps its full height; ' +
      'every rule that fired inside a row is named with its count, and every operation is listed inline, after the row that holds its start.'
    : `${formatCount(ticks)} status records, one row each; operations inline.`;
  const analyses = analysisTimelineRows(data);
  const analysisNote = analyses.length > 0 ? " Each rollout step's analysis is inline too (◆), with the error rate and p99 of each track over the step's window." : '';
  const lines = [
    '## Timeline',
    '',
    `> ${note}${analysisNote}`,
    '',
    tableHeader(['Time (UTC)', 'Records', 'Mode', 'Chaos', 'req/s', 'Error rate', 'p99', 'Policy']),
  ];
  // Merge the time-ordered lists; an inline row goes before the first row that starts after it.
  let i = 0;
  for (const item of mergeInline(data.operations.map((op) => ({ tsMs: op.startMs, line: operationRow(op) })), analyses)) {
    while (i < rows.length && (rows[i]?.fromMs ?? Infinity) <= item.tsMs) lines.push(timelineRow(rows[i++] as TimelineRow));
    lines.push(item.line);
  }
  while (i < rows.length) lines.push(timelineRow(rows[i++] as TimelineRow));
  return lines.join('\n');
}

/** Two time-ordered lists as one; at the same time an operation comes first. */
function mergeInline(ops: InlineRow[], analyses: InlineRow[]): InlineRow[] {
  if (analyses.length === 0) return ops;
  const out: InlineRow[] = [];
  let j = 0;
  for (const op of ops) {
    while (j < analyses.length && (analyses[j]?.tsMs ?? Infinity) < op.tsMs) out.push(analyses[j++] as InlineRow);
    out.push(op);
  }
  while (j < analyses.length) out.push(analyses[j++] as InlineRow);
  return out;
}

function decisionText(op: Operation): string {
  if (op.decisionUnavailable !== null) return `engine unavailable: ${escapeMarkdown(op.decisionUnavailable)}`;
  const d = op.decision;
  if (d === null && op.stepOutcomes !== undefined) {
    const counts = Object.entries(op.stepOutcomes)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([outcome, n]) => `${formatCount(n)} ${escapeMarkdown(outcome)}`);
    return `canary/step: ${counts.join(', ')}`;
  }
  if (d === null) return 'no decision recorded';
  const verdict = d.allowed ? 'allowed' : d.enforcement === 'shadow' ? 'would have blocked (shadow)' : 'denied';
  const ids = d.violations.map((v) => escapeMarkdown(v.id)).join(', ');
  const version = d.policyVersion === null ? '' : ` · policy \`${escapeMarkdown(shortVersion(d.policyVersion))}\``;
  return `${escapeMarkdown(d.domain)}: ${verdict}${ids === '' ? '' : ` (${ids})`}${version}`;
}

export function renderViolations(data: AuditData): string {
  if (data.episodes.length === 0) return '## Violations\n\nNo policy violations recorded in this period.';
  const lines = [
    '## Violations',
    '',
    '> Consecutive status records reporting the same rule form one row; the observed value is the one furthest from its threshold.',
    '',
    tableHeader(['From (UTC)', 'To (UTC)', 'Records', 'Domain', 'Rule', 'Observed vs threshold', 'Enforcement', 'Source']),
  ];
  for (const e of data.episodes) {
    lines.push(
      tableRow([
        formatTime(e.firstMs),
        formatTime(e.lastMs),
        formatCount(e.ticks),
        escapeMarkdown(e.domain),
        escapeMarkdown(e.id),
        `${formatValue(e.worstObserved)} vs ${formatValue(e.threshold)}`,
        e.enforcement === 'enforce' ? 'enforced' : 'shadow',
        escapeMarkdown(e.source),
      ]),
    );
  }
  return lines.join('\n');
}

export function renderEvents(data: AuditData): string {
  if (data.operations.length === 0) return '## Events\n\nNo lifecycle operations recorded in this period.';
  const lines = ['## Events', '', tableHeader(['Time (UTC)', 'Who', 'What', 'Decision', 'Commit', 'Outcome'])];
  for (const op of data.operations) {
    const modes = op.fromMode !== null && op.toMode !== null ? ` (${escapeMarkdown(op.fromMode)} → ${escapeMarkdown(op.toMode)})` : '';
    lines.push(
      tableRow([
        formatTime(op.startMs),
        escapeMarkdown(op.actor),
        `${escapeMarkdown(describeAction(op))}${modes}`,
        decisionText(op),
        commitOf(op),
        escapeMarkdown(outcomeOf(op)),
      ]),
    );
  }
  return lines.join('\n');
}

/** "2m14s after promote canary by alice@example.com at a1b2c3d". */
export function correlationText(c: Correlation | null): string {
  if (c === null) return 'no earlier deploy, promote or rollback took effect in this history';
  return `${formatDuration(c.afterMs)} after ${escapeMarkdown(describeChange(c.op))} by ${escapeMarkdown(c.op.actor)} at ${commitOf(c.op)}`;
}

function episodeLabel(e: ViolationEpisode): string {
  return `${escapeMarkdown(e.domain)}/${escapeMarkdown(e.id)}${e.enforcement === 'shadow' ? ' (shadow)' : ''}`;
}

export function renderCorrelation(data: AuditData): string {
  if (data.episodes.length === 0) return '## Correlation\n\nNo violations to correlate.';
  const lines = ['## Correlation', '', '> Each violation and the nearest earlier change (deploy, promote or rollback) that took effect before it began.', ''];
  for (const e of data.episodes) {
    lines.push(`- ${formatTime(e.firstMs)} ${episodeLabel(e)}: ${correlationText(e.correlation)}`);
  }
  return lines.join('\n');
}
