/**
 * The report end to end on real files: a hash-chained fixture history in a temp project, verified and
 * streamed by the real ledger, written atomically, compared byte for byte with the golden file.
 */
import { describe, expect, it } from 'vitest';
import { FIXTURE_GENERATED_AT, fixtureHistoryText } from '../fixtures/audit/fixture-history.js';
import { auditReporter, expectAuditGoldens } from '../helpers/audit-golden.js';

const report = auditReporter(FIXTURE_GENERATED_AT);

describe('audit report', () => {
  it('matches the golden file byte for byte (generated at is injected)', async () => {
    const history = fixtureHistoryText();
    // The committed fixture is exactly what the generator produces: neither can drift alone.
    await expectAuditGoldens([
      [history, 'history.jsonl'],
      [await report(history), 'report.golden.md'],
    ]);
  });

  it('has every section, and the incident correlated with the promote that preceded it', async () => {
    const markdown = await report(fixtureHistoryText());
    for (const heading of ['# Audit report: shop-api', '## Summary', '## Timeline', '## Violations', '## Events', '## Correlation', '## Charts']) {
      expect(markdown).toContain(`${heading}\n`);
    }
    expect(markdown).toMatch(/\| \*\*Verification\*\* \| ✅ verified: 467 records, hash chain intact \|/);
    expect(markdown).toContain('after promote canary by alice@example.com at f00dfee (dirty)');
    expect(markdown).toContain('- **Promotions:** 2 (1 confirmed, 1 denied by policy)');
    expect(markdown).toContain('```mermaid\nxychart-beta');
  });

  it('escapes Markdown in recorded values: tables stay intact and no HTML gets through', async () => {
    const markdown = await report(fixtureHistoryText());
    expect(markdown).not.toContain('<script>');
    expect(markdown).toContain('eve\\|\\*ops\\*');
    expect(markdown).toContain('&lt;script&gt;');
    // Every table row has as many unescaped cell separators as its header.
    const lines = markdown.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const sep = lines[i]!;
      if (!/^\|(---\|)+$/.test(sep)) continue;
      const columns = sep.split('|').length - 2;
      for (let j = i + 1; j < lines.length && lines[j]!.startsWith('|'); j++) {
        expect(lines[j]!.split(/(?<!\\)\|/).length - 2, `line ${j + 1}: ${lines[j]}`).toBe(columns);
      }
    }
  });

  it('reports an old history without hashes as unverifiable, not corrupt', async () => {
    const old = [
      { ts: '2023-03-01T09:00:00Z', action: 'deploy', stage: 'confirmed', actor: 'carol' },
      { ts: '2023-03-01T09:00:05Z', mode: 'stable', window: { requests_per_second: 2, error_rate: 0, p99_seconds: 0.04 } },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n');
    const markdown = await report(`${old}\n`);
    expect(markdown).toContain('⚠️ unverifiable: the history predates hash chaining');
    expect(markdown).not.toContain('FAILED');
    expect(markdown).toContain('- **Deploys:** 1 (1 confirmed)');
  });

  it('names the first bad line of a tampered history in the header', async () => {
    const lines = fixtureHistoryText().split('\n');
    lines[9] = lines[9]!.replace('"requests":300', '"requests":301');
    const markdown = await report(lines.join('\n'));
    expect(markdown).toContain('❌ FAILED at line 10: edited');
  });

  it('reports only the requested period', async () => {
    const since = Date.parse('2024-05-01T10:30:00Z');
    const markdown = await report(fixtureHistoryText(), { sinceMs: since });
    expect(markdown).toContain('requested 2024-05-01T10:30:00Z to the end');
    expect(markdown).not.toContain('| 2024-05-01T10:0');
  });
});
