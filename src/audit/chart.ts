/**
 * Mermaid `xychart-beta` charts of the timeline, so GitHub shows a picture. Two charts rather than one
 * because xychart has a single y-axis, and a percentage and a latency on one scale flatten one of them.
 */
import type { AuditData } from './collect.js';

function axisMax(values: number[], floor: number): number {
  const max = Math.max(floor, ...values);
  // A round upper bound keeps the axis labels readable.
  const magnitude = 10 ** Math.floor(Math.log10(max));
  return Math.ceil(max / magnitude) * magnitude;
}

function round(n: number): string {
  return String(Math.round(n * 100) / 100);
}

function lineChart(title: string, yLabel: string, values: number[], floor: number): string {
  const n = values.length;
  return [
    '```mermaid',
    'xychart-beta',
    `  title "${title}"`,
    `  x-axis "timeline row" 1 --> ${Math.max(n, 2)}`,
    `  y-axis "${yLabel}" 0 --> ${round(axisMax(values, floor))}`,
    `  line [${values.map(round).join(', ')}]`,
    '```',
  ].join('\n');
}

export function renderCharts(data: AuditData): string {
  const rows = data.timeline;
  if (rows.length === 0) return '## Charts\n\nNo status records to chart.';
  const errorPct = rows.map((r) => (r.peakErrorRate ?? 0) * 100);
  const p99Ms = rows.map((r) => (r.worstP99 ?? 0) * 1000);
  return [
    '## Charts',
    '',
    '> One point per timeline row (peak error rate, worst p99). Rows with no traffic are drawn at 0 here; the timeline shows them as "no data".',
    '',
    lineChart('Peak error rate (%)', 'error rate (%)', errorPct, 1),
    '',
    lineChart('Worst p99 latency (ms)', 'p99 (ms)', p99Ms, 10),
  ].join('\n');
}
