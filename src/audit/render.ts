/**
 * The audit report as Markdown: a pure function of the collected data and the report's metadata
 * (project, generation time, chain verdict), so the same history always renders the same bytes.
 */
import type { AuditData } from './collect.js';
import { renderCharts } from './chart.js';
import {
  escapeMarkdown,
  formatCount,
  formatDuration,
  formatLatency,
  formatRate,
  formatTime,
  plural,
  shortVersion,
  tableHeader,
  tableRow,
} from './markdown.js';
import { renderEvents, renderTimeline, renderViolations, renderCorrelation } from './render-sections.js';
import { renderRollouts, rolloutSummaryLine } from './render-rollouts.js';
import { renderGovernance } from './render-governance.js';

export type ChainVerdict =
  | { status: 'verified'; records: number; head: string | null; legacyRecords: number }
  | { status: 'broken'; records: number; line: number; reason: string }
  | { status: 'unverifiable'; records: number; reason: string };

export interface ReportMeta {
  project: string;
  /** Injected so golden files are byte-stable. */
  generatedAtMs: number;
  historyFile: string;
  verification: ChainVerdict;
}

function describeVerification(v: ChainVerdict): { head: string; result: string } {
  switch (v.status) {
    case 'verified': {
      const legacy =
        v.legacyRecords > 0 ? `; the first ${formatCount(v.legacyRecords)} predate hash chaining and are unverifiable` : '';
      return {
        head: v.head === null ? 'none (empty history)' : `\`${v.head}\``,
        result: `✅ verified: ${formatCount(v.records)} records, hash chain intact${legacy}`,
      };
    }
    case 'broken':
      return {
        head: 'not trustworthy',
        result: `❌ FAILED at line ${v.line}: ${escapeMarkdown(v.reason)}. Everything from that line on may have been altered.`,
      };
    case 'unverifiable':
      return {
        head: 'none',
        result: `⚠️ unverifiable: ${escapeMarkdown(v.reason)}. Not evidence of tampering, and no proof against it.`,
      };
  }
}

function renderHeader(data: AuditData, meta: ReportMeta): string {
  const { head, result } = describeVerification(meta.verification);
  const period =
    data.firstMs === null || data.lastMs === null
      ? 'no records'
      : `${formatTime(data.firstMs)} → ${formatTime(data.lastMs)} (${formatDuration(data.lastMs - data.firstMs)})`;
  const requested =
    data.sinceMs !== null || data.untilMs !== null
      ? ` — requested ${data.sinceMs === null ? 'the beginning' : formatTime(data.sinceMs)} to ${data.untilMs === null ? 'the end' : formatTime(data.untilMs)}`
      : '';
  const versions = [...data.policyVersions.entries()].map(
    ([version, seen]) =>
      `\`${escapeMarkdown(shortVersion(version))}\` (${formatTime(seen.firstMs)} → ${formatTime(seen.lastMs)}, ${formatCount(seen.records)} records)`,
  );
  if (data.policyVersionsOverflow > 0) versions.push(`and ${formatCount(data.policyVersionsOverflow)} more records with further versions`);
  const rows = [
    ['Project', escapeMarkdown(meta.project)],
    ['History file', escapeMarkdown(meta.historyFile)],
    ['Period', `${period}${requested}`],
    ['Generated at', formatTime(meta.generatedAtMs)],
    [
      'Records',
      `${formatCount(data.recordsInPeriod)} in period (${formatCount(data.statusRecords)} status, ${formatCount(data.eventRecords)} event) of ${formatCount(data.recordsRead)} in the history`,
    ],
    ...(data.legacy === null
      ? []
      : [
          [
            'Legacy records',
            `${formatCount(data.legacy.records)} (lines ${data.legacy.firstLine}–${data.legacy.lastLine}) written before hash chaining, e.g. by the original swiftdeploy: read into this report and marked *legacy*; nothing vouches for them (unverifiable, not evidence of tampering)`,
          ],
        ]),
    ['Chain head', head],
    ['Verification', result],
    ['Policy versions seen', versions.length === 0 ? 'none recorded' : versions.join('<br>')],
  ];
  const warnings: string[] = [];
  if (data.unreadable > 0) warnings.push(`${formatCount(data.unreadable)} lines had no usable timestamp and are not in this report.`);
  if (data.ambiguous.count > 0) {
    const listed = data.ambiguous.first.map((a) => `line ${a.line} (${escapeMarkdown(a.why)})`).join(', ');
    const more = data.ambiguous.count > data.ambiguous.first.length ? ` and ${formatCount(data.ambiguous.count - data.ambiguous.first.length)} more` : '';
    warnings.push(
      `${plural(data.ambiguous.count, 'line')} left out of this report because ${data.ambiguous.count === 1 ? 'it gives' : 'they give'} a member name twice, so JSON readers disagree on what ${data.ambiguous.count === 1 ? 'it says' : 'they say'}: ${listed}${more}.`,
    );
  }
  if (data.operationsOverflow !== null) {
    const o = data.operationsOverflow;
    warnings.push(
      `The events list is capped: ${formatCount(o.count)} further operations between ${formatTime(o.firstMs)} and ${formatTime(o.lastMs)} are counted in the summary but not listed; use --since/--until to list them.`,
    );
  }
  if (data.episodesOverflow !== null) {
    const o = data.episodesOverflow;
    warnings.push(
      `The violations list is capped: ${formatCount(o.count)} further violation episodes between ${formatTime(o.firstMs)} and ${formatTime(o.lastMs)} are not listed; use --since/--until to list them.`,
    );
  }
  return [
    `# Audit report: ${escapeMarkdown(meta.project)}`,
    '',
    tableHeader(['', '']),
    ...rows.map(([k, v]) => tableRow([`**${k ?? ''}**`, v ?? ''])),
    ...(warnings.length > 0 ? ['', ...warnings.map((w) => `> ⚠️ ${w}`)] : []),
  ].join('\n');
}

const ACTION_TITLES: Array<[string, string]> = [
  ['deploy', 'Deploys'],
  ['promote', 'Promotions'],
  ['rollback', 'Rollbacks'],
];

function renderSummary(data: AuditData): string {
  const lines: string[] = ['## Summary', ''];
  for (const [action, title] of ACTION_TITLES) {
    const c = data.byAction.get(action);
    if (c === undefined) {
      lines.push(`- **${title}:** 0`);
      continue;
    }
    const parts = [
      c.confirmed > 0 ? `${formatCount(c.confirmed)} confirmed` : '',
      c.denied > 0 ? `${formatCount(c.denied)} denied by policy` : '',
      c.rolledBack > 0 ? `${formatCount(c.rolledBack)} rolled back` : '',
      c.failed > 0 ? `${formatCount(c.failed)} failed` : '',
    ].filter((s) => s !== '');
    const other = c.total - c.confirmed - c.denied - c.rolledBack - c.failed;
    if (other > 0) parts.push(`${formatCount(other)} without a final outcome`);
    lines.push(`- **${title}:** ${formatCount(c.total)}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`);
  }
  const rollouts = rolloutSummaryLine(data);
  if (rollouts !== null) lines.push(rollouts);
  let opsDenied = 0;
  let opsShadow = 0;
  for (const c of data.byAction.values()) {
    opsDenied += c.denied;
    opsShadow += c.wouldHaveBlocked;
  }
  lines.push(
    `- **Denials:** ${plural(opsDenied, 'operation')} blocked by policy; ${plural(data.ticksDenied, 'status tick')} judged in violation of an enforced policy`,
    `- **Shadow would-have-blocks:** ${plural(opsShadow, 'operation')}; ${plural(data.ticksWouldHaveBlock, 'status tick')}`,
  );
  const peak = data.peakErrorRate;
  lines.push(
    `- **Peak error rate:** ${peak === null ? 'no data' : `${formatRate(peak.value)} at ${formatTime(peak.atMs)}${peak.requests === null ? '' : ` (${formatCount(peak.requests)} requests in the window)`}`}`,
  );
  const p99 = data.worstP99;
  lines.push(`- **Worst p99:** ${p99 === null ? 'no data' : `${formatLatency(p99.value, p99.capped)} at ${formatTime(p99.atMs)}`}`);
  const observedMs = [...data.modeTimeMs.values()].reduce((a, b) => a + b, 0) + data.unobservedMs;
  const share = (ms: number): string => (observedMs > 0 ? ` (${((ms / observedMs) * 100).toFixed(1)}%)` : '');
  const modes = [...data.modeTimeMs.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([mode, ms]) => `${escapeMarkdown(mode)} ${formatDuration(ms)}${share(ms)}`);
  modes.push(`unobserved ${formatDuration(data.unobservedMs)}${share(data.unobservedMs)}`);
  lines.push(`- **Time in each mode:** ${modes.join(', ')}`);
  const unavailable = [...data.ticksUnavailable.entries()].map(([d, n]) => `${escapeMarkdown(d)} ${plural(n, 'tick')}`);
  lines.push(`- **Policy engine unavailable:** ${unavailable.length === 0 ? 'never' : unavailable.join(', ')}`);
  lines.push(`- **Metrics scrape failures:** ${plural(data.scrapeFailures, 'tick')}`);
  return lines.join('\n');
}

export function renderAuditReport(data: AuditData, meta: ReportMeta): string {
  return (
    [
      renderHeader(data, meta),
      renderSummary(data),
      renderTimeline(data),
      renderViolations(data),
      renderEvents(data),
      renderRollouts(data),
      renderGovernance(data),
      renderCorrelation(data),
      renderCharts(data),
    ]
      .filter((section): section is string => section !== null)
      .join('\n\n') + '\n'
  );
}
