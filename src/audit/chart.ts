/**
 * Mermaid `xychart-beta` charts of the timeline, so GitHub shows a picture. Two charts rather than one
 * because xychart has a single y-axis, and a percentage and a latency on one scale flatten one of them.
 * A history with progressive rollouts gets a third: the canary weight over the same rows.
 */
import type { AuditData } from './collect.js';
import { weightPerRow } from './rollouts.js';

function axisMax(values: number[], floor: number): number {
  const max = Math.max(floor, ...values);
  // A round upper bound keeps the axis labels readable.
  const magnitude = 10 ** Math.floor(Math.log10(max));
  return Math.ceil(max / magnitude) * magnitude;
}

function round(n: number): string {
  return String(Math.round(n * 100) / 100);
}

function lineChart(title: string, yLabel: string, values: number[], floor: number, xLabel = 'timeline row', yMax = axisMax(values, floor)): string {
  const n = values.length;
  return [
    '```mermaid',
    'xychart-beta',
    `  title "${title}"`,
    `  x-axis "${xLabel}" 1 --> ${Math.max(n, 2)}`,
    `  y-axis "${yLabel}" 0 --> ${round(yMax)}`,
    `  line [${values.map(round).join(', ')}]`,
    '```',
  ].join('\n');
}

const WEIGHT_NOTE =
  '> Canary weight: the share of requests nginx sent to the canary track, from the rollout records (a step function; 0 when no canary track is up).';

export function renderCharts(data: AuditData): string {
  const rows = data.timeline;
  const weights = data.rollouts.weights;
  if (rows.length === 0) {
    if (weights.length === 0) return '## Charts\n\nNo status records to chart.';
    // No status records to align with: one point per weight change.
    return ['## Charts', '', 'No status records to chart.', '', WEIGHT_NOTE, '', lineChart('Canary weight (%)', 'canary weight (%)', weights.map((w) => w.weight), 100, 'weight change', 100)].join('\n');
  }
  const errorPct = rows.map((r) => (r.peakErrorRate ?? 0) * 100);
  const p99Ms = rows.map((r) => (r.worstP99 ?? 0) * 1000);
  const charts = [
    '## Charts',
    '',
    '> One point per timeline row (peak error rate, worst p99). Rows with no traffic are drawn at 0 here; the timeline shows them as "no data".',
    '',
    lineChart('Peak error rate (%)', 'error rate (%)', errorPct, 1),
    '',
    lineChart('Worst p99 latency (ms)', 'p99 (ms)', p99Ms, 10),
  ];
  // Only a history with rollouts gets the third chart: one without keeps its bytes.
  if (weights.length > 0) {
    charts.push(
      '',
      `${WEIGHT_NOTE} One point per timeline row: the highest weight in effect during the row.`,
      '',
      lineChart('Canary weight (%)', 'canary weight (%)', weightPerRow(rows, weights), 100, 'timeline row', 100),
    );
  }
  return charts.join('\n');
}
