/**
 * The report's view of progressive rollouts: the "Progressive rollouts" section, the step analyses
 * the timeline shows inline, and the summary line. Every function returns nothing (or the input
 * unchanged) for a history without rollouts, so such a report keeps its bytes.
 */
import type { AuditData } from './collect.js';
import { escapeMarkdown, formatCount, formatTime, tableHeader, tableRow } from './markdown.js';
import type { RolloutRow, RolloutView, TrackView } from './rollouts.js';

/** A track's error rate as the rollout shows it: a percentage with one decimal. */
export function formatTrackRate(fraction: number | null): string {
  return fraction === null ? 'no data' : `${(fraction * 100).toFixed(1)}%`;
}

export function formatTrackP99(seconds: number | null): string {
  return seconds === null ? 'no data' : `${Math.round(seconds * 1000)} ms`;
}

function requestsText(t: TrackView): string {
  return t.requests === null ? 'no data' : formatCount(t.requests);
}

function stepText(row: Pick<RolloutRow, 'step' | 'steps'>): string {
  if (row.step === null) return '?';
  return row.steps === null ? String(row.step) : `${row.step}/${row.steps}`;
}

function weightText(weight: number | null): string {
  return weight === null ? '?' : `${weight}%`;
}

function analysisText(row: RolloutRow): string {
  const a = row.analysis;
  if (a === null) return '';
  const ids = a.violations.length > 0 ? ` (${a.violations.map(escapeMarkdown).join(', ')})` : '';
  return `${escapeMarkdown(a.outcome)}${ids}${a.shadow ? ' (shadow: recorded, not obeyed)' : ''}`;
}

function statusText(row: RolloutRow): string {
  if (row.status === null) return '';
  if (row.first) return `started by ${escapeMarkdown(row.actor)}`;
  if (row.status === 'running') return `resumed by ${escapeMarkdown(row.actor)}`;
  // A change a person made says who; one that followed an analysis was the driver's.
  const by = row.analysis === null && !(row.reason ?? '').includes(`by ${row.actor}`) ? ` by ${escapeMarkdown(row.actor)}` : '';
  return `${escapeMarkdown(row.status)}${by}${row.reason !== null ? `: ${escapeMarkdown(row.reason)}` : ''}`;
}

function outcomeText(row: RolloutRow): string {
  return [analysisText(row), statusText(row)].filter((s) => s !== '').join(' → ');
}

function rolloutTable(view: RolloutView): string[] {
  const lines = [
    tableHeader(['Time (UTC)', 'Step', 'Weight', 'Outcome', 'Stable requests', 'Stable error rate', 'Stable p99', 'Canary requests', 'Canary error rate', 'Canary p99']),
  ];
  for (const row of view.rows) {
    const a = row.analysis;
    lines.push(
      tableRow([
        formatTime(row.tsMs),
        stepText(row),
        weightText(row.weight),
        outcomeText(row),
        a === null ? '' : requestsText(a.stable),
        a === null ? '' : formatTrackRate(a.stable.errorRate),
        a === null ? '' : formatTrackP99(a.stable.p99Seconds),
        a === null ? '' : requestsText(a.canary),
        a === null ? '' : formatTrackRate(a.canary.errorRate),
        a === null ? '' : formatTrackP99(a.canary.p99Seconds),
      ]),
    );
  }
  return lines;
}

function canaryText(view: RolloutView): string {
  const image = view.canaryImage === null ? 'unknown image' : escapeMarkdown(view.canaryImage);
  return view.canaryVersion === null ? image : `${image} (${escapeMarkdown(view.canaryVersion)})`;
}

export function renderRollouts(data: AuditData): string | null {
  const { rollouts, overflow } = data.rollouts;
  if (rollouts.length === 0 && overflow === 0) return null;
  const lines = [
    '## Progressive rollouts',
    '',
    "> One table per rollout: each step's analysis (requests, error rate and p99 of each track over the step's window, as recorded with the transition it led to) and each change of status. A track that served no request has no error rate or p99: `no data`, never 0.",
  ];
  if (overflow > 0) {
    lines.push('', `> ⚠️ ${formatCount(overflow)} further rollout records are not listed (list cap reached); use --since/--until to list them.`);
  }
  for (const view of rollouts) {
    lines.push(
      '',
      `### Rollout ${escapeMarkdown(view.id)}`,
      '',
      `- **Canary:** ${canaryText(view)}`,
      `- **Started:** ${formatTime(view.startMs)} by ${escapeMarkdown(view.startedBy)}`,
      `- **Ended:** ${view.endMs === null ? 'not ended' : formatTime(view.endMs)}`,
      `- **Status (last recorded):** ${view.status === null ? 'unknown' : escapeMarkdown(view.status)}${view.reason !== null ? `: ${escapeMarkdown(view.reason)}` : ''}`,
      `- **Steps:** ${view.steps === null ? 'unknown' : formatCount(view.steps)}`,
      '',
    );
    if (view.rows.length === 0) lines.push('No step or change of status recorded in this period.');
    else lines.push(...rolloutTable(view));
  }
  return lines.join('\n');
}

/** "- **Progressive rollouts:** 3 (1 completed, 1 aborted, 1 ready)", or null without rollouts. */
export function rolloutSummaryLine(data: AuditData): string | null {
  const { rollouts } = data.rollouts;
  if (rollouts.length === 0) return null;
  const counts = new Map<string, number>();
  for (const v of rollouts) counts.set(v.status ?? 'unknown', (counts.get(v.status ?? 'unknown') ?? 0) + 1);
  const parts = [...counts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([status, n]) => `${formatCount(n)} ${escapeMarkdown(status)}`);
  return `- **Progressive rollouts:** ${formatCount(rollouts.length)} (${parts.join(', ')})`;
}

/** A step analysis as an inline timeline row (the timeline's columns), with its time. */
export interface InlineRow {
  tsMs: number;
  line: string;
}

export function analysisTimelineRows(data: AuditData): InlineRow[] {
  const out: InlineRow[] = [];
  for (const view of data.rollouts.rollouts) {
    for (const row of view.rows) {
      const a = row.analysis;
      if (a === null) continue;
      out.push({
        tsMs: row.tsMs,
        line: tableRow([
          formatTime(row.tsMs),
          '',
          `**◆ rollout ${escapeMarkdown(view.id)} step ${stepText(row)} at ${weightText(row.weight)}**`,
          '',
          '',
          `stable ${formatTrackRate(a.stable.errorRate)} · canary ${formatTrackRate(a.canary.errorRate)}`,
          `stable ${formatTrackP99(a.stable.p99Seconds)} · canary ${formatTrackP99(a.canary.p99Seconds)}`,
          `canary/step: ${outcomeText(row)}`,
        ]),
      });
    }
  }
  // Rollouts follow one another, so this is file order; a stable sort only guards against a clock step.
  return out.sort((x, y) => x.tsMs - y.tsMs);
}
