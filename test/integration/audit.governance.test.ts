/**
 * The report's governance sections (issue #14) from a hash-chained history on real files: approvals
 * (requested by, decided by, waited how long, outcome), the guard's incidents with their stages and
 * timings, webhook deliveries; and that these records, written by other processes between an
 * operation's records, do not split or distort the operations list.
 */
import { describe, expect, it } from 'vitest';
import { fixtureHistoryText } from '../fixtures/audit/fixture-history.js';
import { GOV_GENERATED_AT, governanceFixtureRecords } from '../fixtures/audit/governance-history.js';
import { auditReporter } from '../helpers/audit-golden.js';

const report = auditReporter(GOV_GENERATED_AT);

function section(markdown: string, title: string): string {
  const start = markdown.indexOf(`\n## ${title}\n`);
  if (start < 0) return '';
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

function row(table: string, containing: string): string {
  const line = table.split('\n').find((l) => l.startsWith('|') && l.includes(containing));
  if (line === undefined) throw new Error(`no row containing ${containing} in:\n${table}`);
  return line;
}

describe('audit report: approvals, guard incidents, notifications', () => {
  it('lists each approval with who asked, who decided, how long it waited and how it ended', async () => {
    const markdown = await report(fixtureHistoryText(governanceFixtureRecords()));
    expect(markdown).toMatch(/✅ verified: \d+ records, hash chain intact/);
    const approvals = section(markdown, 'Approvals');
    expect(approvals).not.toBe('');
    const ap1 = row(approvals, '`ap-1`');
    expect(ap1).toContain('promote: promote canary');
    expect(ap1).toContain('| carol@example.com | alice@example.com (link) | 1m35s | approved; used 3s after approval |');
    const ap3 = row(approvals, '`ap-3`');
    expect(ap3).toContain('| dave@example.com | alice@example.com (terminal) | 2m00s | denied: not during the sale |');
    const ap4 = row(approvals, '`ap-4`');
    expect(ap4).toContain('2 approvers required');
    // Approved only when the second distinct approver decided; the replay decided nothing.
    expect(ap4).toContain('| alice@example.com (link), bob@example.com (terminal) | 1m40s | approved; not used yet; refused attempts: 1 replayed |');
    const ap2 = row(approvals, '`ap-2`');
    expect(ap2).toContain('| guard | bob@example.com (link) | 38s | approved; used 2s after approval; refused attempts: 1 wrong approver |');
  });

  it('lists each incident with its stages, actors and timings; a shadow one executed nothing', async () => {
    const markdown = await report(fixtureHistoryText(governanceFixtureRecords()));
    const incidents = section(markdown, 'Guard incidents');
    const enforced = row(incidents, '| enforce |');
    expect(enforced).toContain('| canary/error\\_rate\\_too\\_high |');
    expect(enforced).toContain('| 1m02s after promote canary by carol@example.com at `a1b2c3d` |');
    expect(enforced).toContain('| rollback canary -&gt; stable | bob@example.com | 39s | ok: rolled back to stable | 1m05s |');
    const shadow = row(incidents, '| shadow |');
    expect(shadow).toContain('| infrastructure/cpu\\_load\\_too\\_high | — | would have proposed rollback canary -&gt; stable | — | — | nothing (shadow) | 1m00s |');
  });

  it('counts deliveries per event, and keeps governance records out of the operations', async () => {
    const markdown = await report(fixtureHistoryText(governanceFixtureRecords()));
    const notifications = section(markdown, 'Notifications');
    expect(row(notifications, 'approval\\_requested')).toBe('| approval\\_requested | 1 | 0 |');
    expect(row(notifications, 'guard\\_proposed')).toBe('| guard\\_proposed | 1 | 1 |');
    // The promote (approved by link) is one confirmed operation, not split by the approval records around it.
    expect(markdown).toContain('- **Promotions:** 1 (1 confirmed)');
    expect(markdown).toContain('- **Rollbacks:** 1 (1 confirmed)');
    const events = section(markdown, 'Events');
    // Two operations (the promote, the rollback the guard ran); no row for an approval, incident or delivery.
    expect(events.split('\n').filter((l) => /^\| \d{4}-/.test(l))).toHaveLength(2);
  });

  it('has no governance sections for a history without such records', async () => {
    const markdown = await report(fixtureHistoryText(governanceFixtureRecords().filter((r) => !['approval', 'guard', 'notify'].includes(String((r.payload as { action?: unknown }).action)))));
    expect(markdown).not.toContain('## Approvals');
    expect(markdown).not.toContain('## Guard incidents');
    expect(markdown).not.toContain('## Notifications');
  });
});
