/**
 * The report of a history with progressive rollouts, end to end on real files: a complete rollout, an
 * aborted one and a paused-then-resumed one (test/fixtures/audit/rollout-history.ts), hash-chained,
 * verified and streamed by the real ledger reader, written atomically, compared byte for byte.
 */
import { describe, expect, it } from 'vitest';
import { fixtureHistoryText } from '../fixtures/audit/fixture-history.js';
import { ROLLOUT_GENERATED_AT, rolloutFixtureRecords } from '../fixtures/audit/rollout-history.js';
import { auditReporter, expectAuditGoldens } from '../helpers/audit-golden.js';

const report = auditReporter(ROLLOUT_GENERATED_AT);

/** The section between `## <title>` and the next `## `. */
function section(markdown: string, title: string): string {
  const start = markdown.indexOf(`\n## ${title}\n`);
  if (start < 0) return '';
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

/** The values of the canary weight chart's line. */
function weightLine(markdown: string): number[] {
  const chart = markdown.slice(markdown.indexOf('title "Canary weight (%)"'));
  const m = /\n {2}line \[([^\]]*)\]/.exec(chart);
  if (m === null) throw new Error('no canary weight line');
  return m[1]!.split(', ').map(Number);
}

function dedupe(values: number[]): number[] {
  return values.filter((v, i) => i === 0 || v !== values[i - 1]);
}

describe('audit report of progressive rollouts', () => {
  it('matches the golden files byte for byte', async () => {
    const history = fixtureHistoryText(rolloutFixtureRecords());
    await expectAuditGoldens([
      [history, 'rollout-history.jsonl'],
      [await report(history), 'rollout-report.golden.md'],
    ]);
  });

  it('lists each rollout with who started it, how it ended, and a row per analysis and change of status', async () => {
    const markdown = await report(fixtureHistoryText(rolloutFixtureRecords()));
    expect(markdown).toMatch(/\| \*\*Verification\*\* \| ✅ verified: \d+ records, hash chain intact \|/);
    expect(markdown).toContain('- **Progressive rollouts:** 3 (1 aborted, 1 completed, 1 ready)');
    const rollouts = section(markdown, 'Progressive rollouts');
    expect(rollouts.match(/^### Rollout /gm)).toHaveLength(3);

    const a = rollouts.slice(rollouts.indexOf('### Rollout r-20240603t090100-a1a1a1'), rollouts.indexOf('### Rollout r-20240603t091500'));
    expect(a).toContain('- **Canary:** shop-api:2.0.0 (2.0.0)');
    expect(a).toContain('by alice@example.com');
    expect(a).toContain('- **Status (last recorded):** completed: promoted to stable');
    expect(a).not.toContain('not ended');
    // Four analyses, each with both tracks; a track without requests is "no data", never 0.
    expect(a.match(/\| pass( →[^|]*)? \|/g)).toHaveLength(4);
    expect(a).toContain('| 4/4 | 100% | pass → ready: every step passed | 0 | no data | no data | 600 | 0.5% | 127 ms |');
    expect(a).toContain('| completed by alice@example.com: promoted to stable |');

    const b = rollouts.slice(rollouts.indexOf('### Rollout r-20240603t091500-b2b2b2'), rollouts.indexOf('### Rollout r-20240603t093000'));
    expect(b).toContain('- **Status (last recorded):** aborted: step 2/3 (50%): the analysis failed; failures 1 &gt; failure\\_limit 0');
    // The policy's verdict names the rule; the figures are the canary's error rate (one decimal) and p99 in ms.
    expect(b).toContain('| 2/3 | 50% | fail (canary\\_error\\_rate\\_above\\_stable) → aborted: step 2/3 (50%)');
    expect(b).toContain('| 298 | 0.4% | 120 ms | 301 | 30.2% | 812 ms |');

    const c = rollouts.slice(rollouts.indexOf('### Rollout r-20240603t093000-c3c3c3'));
    expect(c).toContain('- **Ended:** not ended');
    expect(c).toContain('- **Status (last recorded):** ready: every step passed');
    expect(c.match(/\| inconclusive/g)).toHaveLength(2);
    expect(c).toContain('inconclusive → paused: step 1/2 (25%): inconclusive after 1 extension(s); waiting for a human (resume or abort)');
    expect(c).toContain('| resumed by dave\\|\\*ops\\* |');
    // Resumed, it goes on from the step it paused at.
    expect(c.indexOf('resumed by')).toBeLessThan(c.indexOf('| 1/2 | 25% | pass |'));
  });

  it('puts each step analysis in the timeline with both tracks, and charts the canary weight as a step function', async () => {
    const markdown = await report(fixtureHistoryText(rolloutFixtureRecords()));
    const timeline = section(markdown, 'Timeline');
    expect(timeline.match(/^\| [^|]+ \| {3}\| \*\*◆ rollout /gm)).toHaveLength(10);
    expect(timeline).toContain('| stable 0.4% · canary 30.2% | stable 120 ms · canary 812 ms | canary/step: fail (canary\\_error\\_rate\\_above\\_stable) → aborted');
    expect(timeline).toContain('| stable 0.0% · canary no data | stable 50 ms · canary no data | canary/step: inconclusive |');

    const charts = section(markdown, 'Charts');
    expect(charts.match(/```mermaid/g)).toHaveLength(3);
    // One point per status record here: 0 before, the steps of A, back to 0, B up to its abort, C paused at 25% and resumed to 100%.
    expect(dedupe(weightLine(markdown))).toEqual([0, 10, 25, 50, 100, 0, 10, 50, 0, 25, 100]);
  });

  it('reports the rollouts of the requested period, with the weight in effect when it begins', async () => {
    const records = rolloutFixtureRecords();
    const history = fixtureHistoryText(records);
    // From inside rollout C's pause: only C is listed, its earlier rows are not, and the weight starts at 25%.
    const paused = records.findIndex((r) => JSON.stringify(r.payload).includes('"status":"paused"'));
    const sinceMs = Date.parse(records[paused]!.ts) + 60_000;
    const markdown = await report(history, { sinceMs });
    const rollouts = section(markdown, 'Progressive rollouts');
    expect(rollouts.match(/^### Rollout /gm)).toHaveLength(1);
    expect(rollouts).toContain('### Rollout r-20240603t093000-c3c3c3');
    expect(rollouts).toContain('by carol@example.com');
    expect(rollouts).not.toContain('inconclusive');
    expect(dedupe(weightLine(markdown))).toEqual([25, 100]);

    // Before the first rollout: the report has no trace of rollouts at all.
    const first = records.findIndex((r) => JSON.stringify(r.payload).includes('"rollout"'));
    const before = await report(history, { untilMs: Date.parse(records[first]!.ts) - 1 });
    expect(before).not.toContain('rollout');
    expect(before.match(/```mermaid/g)).toHaveLength(2);
  });
});
