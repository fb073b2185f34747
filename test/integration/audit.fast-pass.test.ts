/**
 * The report's fast pass (records in the writer's layout parsed only as far as the report reads
 * them) must give exactly the data of a full parse, and must never stand when the chain does not
 * verify: then the report comes from fully parsed lines, as readRecords sees them.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeAuditReport } from '../../src/audit/audit.js';
import { createAuditCollector } from '../../src/audit/collect.js';
import { NotTrusted, streamHistory } from '../../src/history/record-stream.js';
import { HistoryIntegrityError } from '../../src/errors.js';
import { FIXTURE_GENERATED_AT, fixtureHistoryText } from '../fixtures/audit/fixture-history.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'swiftdeploy-audit-fast-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collected(file: string, trustLayout: boolean) {
  const collector = createAuditCollector({});
  const warnings: string[] = [];
  await streamHistory(file, statSync(file).size, collector.add, (m) => warnings.push(m), { trustLayout });
  return { data: collector.finish(), warnings };
}

describe('audit fast pass', () => {
  it('collects exactly what a full parse collects, for every record of the fixture history', async () => {
    const file = path.join(dir, 'history.jsonl');
    await writeFile(file, fixtureHistoryText());
    const fast = await collected(file, true);
    const full = await collected(file, false);
    expect(fast.data.recordsRead).toBeGreaterThan(50);
    expect(fast.data.unreadable).toBe(0);
    expect(fast).toEqual(full);
  });

  it('an actor edited to hold a raw control character: not JSON, so the report is refused at that line as readRecords would', async () => {
    // The fast pass reads the actor from its place and would accept it; the chain check fails, the
    // report is collected again from fully parsed lines, and that parse refuses the line.
    const lines = fixtureHistoryText().split('\n');
    lines[4] = lines[4]!.replace('{"actor":"', '{"actor":"\t');
    const historyFile = path.join(dir, 'history.jsonl');
    await writeFile(historyFile, lines.join('\n'));
    const request = { historyFile, projectDir: dir, project: 'shop-api', outFile: path.join(dir, 'audit_report.md'), generatedAtMs: FIXTURE_GENERATED_AT };
    const err = await writeAuditReport(request).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HistoryIntegrityError);
    expect((err as Error).message).toMatch(/history\.jsonl:5: invalid JSON/);
    await expect(readFile(request.outFile)).rejects.toThrow(/ENOENT/);
  });

  it('a torn last line: warned about once, and the header says the chain is broken there', async () => {
    const historyFile = path.join(dir, 'history.jsonl');
    const text = fixtureHistoryText();
    await writeFile(historyFile, `${text}{"actor":"status","hash":"`);
    const warnings: string[] = [];
    const outFile = path.join(dir, 'audit_report.md');
    const result = await writeAuditReport({ historyFile, projectDir: dir, project: 'shop-api', outFile, generatedAtMs: FIXTURE_GENERATED_AT, warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([`skipped 1 incomplete trailing record in ${historyFile}`]);
    expect(result.verification).toMatchObject({ status: 'broken', reason: expect.stringMatching(/^torn/) });
    expect(result.data.recordsRead).toBe(text.trimEnd().split('\n').length);
  });
});

describe('audit fast pass and lines outside the writer\'s layout', () => {
  it('refuses (NotTrusted) a line it parses whole that gives a member twice, and reads the seed\'s records as the exact pass does', async () => {
    const legacy = await readFile(path.resolve(import.meta.dirname, '../fixtures/audit/legacy-history.jsonl'), 'utf8');
    const file = path.join(dir, 'history.jsonl');
    await writeFile(file, legacy);
    expect((await collected(file, true)).data).toEqual((await collected(file, false)).data);
    await writeFile(file, legacy.replace('"event": "deploy"', '"event": "rollback", "event": "deploy"'));
    await expect(collected(file, true)).rejects.toBeInstanceOf(NotTrusted);
    const exact = await collected(file, false);
    expect(exact.warnings).toEqual([`${file}:2: member "event" appears twice: skipped (JSON readers disagree on this record)`]);
    expect(exact.data.recordsRead).toBe(13);
  });
});
