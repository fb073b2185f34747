/**
 * Histories the report and `audit verify` must read without calling them corrupt: the original
 * (Python) swiftdeploy's records (test/fixtures/audit/legacy-history.jsonl, written by
 * legacy-history.py with Python's json.dumps), alone and followed by chained records; and what both
 * say about a line that gives a member name twice.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeAuditReport } from '../../src/audit/audit.js';
import { appendRecord, readRecords, verifyHistory } from '../../src/history/ledger.js';
import { FIXTURE_GENERATED_AT, fixtureHistoryText } from '../fixtures/audit/fixture-history.js';

const LEGACY = path.resolve(import.meta.dirname, '../fixtures/audit/legacy-history.jsonl');

let dir: string;
let historyFile: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'swiftdeploy-audit-legacy-'));
  historyFile = path.join(dir, 'history.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function report(): Promise<{ markdown: string; warnings: string[]; status: string }> {
  const outFile = path.join(dir, 'audit_report.md');
  const warnings: string[] = [];
  const result = await writeAuditReport({ historyFile, projectDir: dir, project: 'shop-api', outFile, generatedAtMs: FIXTURE_GENERATED_AT, warn: (m) => warnings.push(m) });
  return { markdown: await readFile(outFile, 'utf8'), warnings, status: result.verification.status };
}

describe('the original swiftdeploy\'s history', () => {
  beforeEach(async () => {
    await writeFile(historyFile, await readFile(LEGACY, 'utf8'));
  });

  it('verifies as unverifiable, not corrupt: every line counted as from before the chain', async () => {
    expect(await verifyHistory(historyFile)).toEqual({ ok: true, records: 14, head: null, unverifiable: true, legacy_records: 14 });
  });

  it('is read into the report, marked legacy: records, timeline, violations with observed vs threshold, events', async () => {
    const { markdown, warnings, status } = await report();
    expect(status).toBe('unverifiable');
    expect(warnings).toEqual([]);
    expect(markdown).not.toMatch(/no usable timestamp/);
    expect(markdown).toContain('| **Records** | 14 in period (7 status, 7 event) of 14 in the history |');
    expect(markdown).toContain('| **Legacy records** | 14 (lines 1–14) written before hash chaining');
    expect(markdown).toContain('| **Period** | 2025-03-03T09:58:02Z → 2025-03-03T10:28:32Z (30m30s) |');
    expect(markdown).toContain('⚠️ unverifiable: the history predates hash chaining');
    // Summary: the operations and the metrics of the status scrapes.
    expect(markdown).toContain('- **Promotions:** 2 (1 confirmed, 1 denied by policy)');
    expect(markdown).toContain('- **Rollbacks:** 1 (1 confirmed)');
    expect(markdown).toContain('- **Peak error rate:** 12.13% at 2025-03-03T10:02:02Z (305 requests in the window)');
    expect(markdown).toContain('- **Worst p99:** 618 ms at 2025-03-03T10:02:02Z');
    // Timeline: one row per status scrape, marked legacy, with the rules that fired.
    expect(markdown).toContain('| 2025-03-03T10:02:02Z (legacy) | 1 | canary | error | 10.17 | 12.13% | 618 ms | canary/error\\_rate, canary/p99\\_latency |');
    // Violations: observed vs threshold from the decisions, the source marked legacy.
    expect(markdown).toContain('| 2025-03-03T10:01:32Z | 2025-03-03T10:02:02Z | 2 | canary | error\\_rate | 0.1213 vs 0.05 | enforced | status (legacy record) |');
    expect(markdown).toContain('| canary | p99\\_latency | 618.4 vs 500 | enforced | status (legacy record) |');
    expect(markdown).toContain('| infrastructure | disk\\_free\\_gb | 4.2 vs 10 | enforced | promote gate (legacy record) |');
    // Events: each operation with its policy check and outcome.
    expect(markdown).toContain('| 2025-03-03T10:00:02Z | unknown | promote canary | infrastructure: allowed | no commit recorded (legacy record, unverifiable) | confirmed: canary serving |');
    expect(markdown).toContain('| rollback to stable | no decision recorded | no commit recorded (legacy record, unverifiable) | confirmed: error rate 12.13% above 5.00% |');
    expect(markdown).toContain('| promote canary | infrastructure: denied (disk\\_free\\_gb) | no commit recorded (legacy record, unverifiable) | denied by policy: 4.2 GB free on /var/lib/docker, below 10 GB |');
    expect(markdown).toContain('canary/error\\_rate: 1m18s after promote canary by unknown');
  });

  it('followed by chained records (appended by today\'s swiftdeploy): both verify and both are reported', async () => {
    for (const stage of ['requested', 'executed', 'confirmed'] as const) {
      await appendRecord(historyFile, { kind: 'event', actor: 'alice@example.com', policy_version: 'pv-1', manifest_sha256: null, payload: { action: 'deploy', stage } }, { now: () => new Date('2025-03-04T08:00:00Z') });
    }
    const verified = await verifyHistory(historyFile);
    expect(verified).toMatchObject({ ok: true, records: 17, unverifiable: true, legacy_records: 14 });
    const { markdown, status } = await report();
    expect(status).toBe('verified');
    expect(markdown).toContain('✅ verified: 17 records, hash chain intact; the first 14 predate hash chaining and are unverifiable');
    expect(markdown).toContain('| **Records** | 17 in period (7 status, 10 event) of 17 in the history |');
    expect(markdown).toContain('| **Legacy records** | 14 (lines 1–14) written before hash chaining');
    expect(markdown).toContain('- **Deploys:** 2 (2 confirmed)');
    expect(markdown).toContain('| 2025-03-04T08:00:00Z | alice@example.com | deploy | no decision recorded | no commit recorded | confirmed |');
  });

  it('a legacy line giving a member twice: verify refuses it by name, the report leaves it out and says so', async () => {
    const lines = (await readFile(LEGACY, 'utf8')).trimEnd().split('\n');
    lines[7] = (lines[7] as string).replace('"mode": "canary"', '"mode": "stable", "mode": "canary"');
    await writeFile(historyFile, `${lines.join('\n')}\n`);
    expect(await verifyHistory(historyFile)).toMatchObject({ ok: false, records: 7, firstBad: { line: 8, reason: 'invalid record', detail: expect.stringMatching(/member "mode" appears twice/) as unknown } });
    const { markdown, warnings, status } = await report();
    expect(status).toBe('broken');
    expect(markdown).toContain('❌ FAILED at line 8: invalid record');
    expect(markdown).toContain('> ⚠️ 1 line left out of this report because it gives a member name twice, so JSON readers disagree on what it says: line 8 (member "mode" appears twice).');
    expect(markdown).toContain('13 in period');
    expect(warnings.join('\n')).toMatch(/history\.jsonl:8: member "mode" appears twice: left out of the report/);
  });
});

describe('a chained record with a forged value before the original under the same name', () => {
  it('verify names the line; the report says so and shows neither value; readRecords skips it with a warning', async () => {
    const lines = fixtureHistoryText().trimEnd().split('\n');
    lines[2] = (lines[2] as string).replace('{"actor":"alice@example.com"', '{"actor":"forged@example.com","actor":"alice@example.com"');
    await writeFile(historyFile, `${lines.join('\n')}\n`);
    expect(await verifyHistory(historyFile)).toMatchObject({ ok: false, records: 2, firstBad: { line: 3, reason: 'not canonical', detail: expect.stringMatching(/member "actor" appears twice/) as unknown } });
    const { markdown, status } = await report();
    expect(status).toBe('broken');
    expect(markdown).toContain('❌ FAILED at line 3: not canonical (at byte 30: member "actor" appears twice');
    expect(markdown).toContain('line 3 (member "actor" appears twice)');
    expect(markdown).not.toContain('forged@example.com');
    const warnings: string[] = [];
    const read: number[] = [];
    for await (const item of readRecords(historyFile, { warn: (m) => warnings.push(m) })) read.push(item.line);
    expect(read).toHaveLength(lines.length - 1);
    expect(read).not.toContain(3);
    expect(warnings).toEqual([`${historyFile}:3: member "actor" appears twice: skipped (JSON readers disagree on this record)`]);
  });
});
