/**
 * The ledger's two-thread read (src/history/parallel-read.ts), as the audit report uses it: a worker
 * reads, walks the chain and sends lines; this thread parses and collects. It must collect exactly what the one-thread pass
 * collects, its chain check must be verifyHistoryRange's result whenever it gives one, and anything
 * it cannot vouch for must end in the full check and the exact pass.
 *
 * A worker thread can only load the built JavaScript, so these tests run the modules `npm test`
 * builds into dist/ (typed as their sources), with the size threshold at 0 so a few MB take the
 * two-thread path, and `noWorker: 'throw'` where a test must not pass on the one-thread fallback.
 */
import { statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FIXTURE_GENERATED_AT, fixtureHistoryText, fixtureRecords } from '../fixtures/audit/fixture-history.js';
import { event, type Unhashed } from '../fixtures/audit/records.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const built = <T>(rel: string): Promise<T> => import(pathToFileURL(path.join(ROOT, 'dist', rel)).href) as Promise<T>;
// No skip: `npm test` builds first; a missing build is a failure.
const { streamTrustedParallel } = await built<typeof import('../../src/history/parallel-read.js')>('history/parallel-read.js');
const { streamHistory } = await built<typeof import('../../src/history/record-stream.js')>('history/record-stream.js');
const { createAuditCollector } = await built<typeof import('../../src/audit/collect.js')>('audit/collect.js');
const { writeAuditReport } = await built<typeof import('../../src/audit/audit.js')>('audit/audit.js');
const { verifyHistoryRange } = await built<typeof import('../../src/history/verify.js')>('history/verify.js');

const DAY_MS = 86_400_000;

/** The fixture history repeated `times` times, each copy two days after the last, plus a non-ASCII actor: several MB, many reads. */
function longRecords(times: number): Unhashed[] {
  const base = fixtureRecords();
  const out: Unhashed[] = [];
  for (let k = 0; k < times; k++) {
    for (const r of base) out.push({ ...r, ts: new Date(Date.parse(r.ts) + k * 2 * DAY_MS).toISOString() });
    out.push(event(Date.parse(base.at(-1)!.ts) + k * 2 * DAY_MS + 1_000, 'zoë@exämple.com', { action: 'teardown', stage: 'requested' }));
  }
  return out;
}

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'swiftdeploy-audit-parallel-'));
  file = path.join(dir, 'history.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function onOneThread(): Promise<unknown> {
  const collector = createAuditCollector({});
  await streamHistory(file, statSync(file).size, collector.add, () => undefined, { trustLayout: true });
  return collector.finish();
}

async function report(parallelFromBytes: number) {
  const outFile = path.join(dir, `report-${parallelFromBytes}.md`);
  const result = await writeAuditReport({ historyFile: file, projectDir: dir, project: 'shop-api', outFile, generatedAtMs: FIXTURE_GENERATED_AT, parallelFromBytes });
  return { markdown: await readFile(outFile, 'utf8'), verification: result.verification };
}

describe('history two-thread read, for the audit report', () => {
  it('collects exactly what the one-thread pass collects, and its chain check is verifyHistoryRange’s result', async () => {
    await writeFile(file, fixtureHistoryText(longRecords(14)));
    const size = statSync(file).size;
    expect(size).toBeGreaterThan(3 * 1024 * 1024); // several 1 MiB reads, lines straddling them
    const collector = createAuditCollector({});
    const chain = await streamTrustedParallel(file, size, collector.add, { parallelFromBytes: 0, noWorker: 'throw' });
    expect(chain).not.toBeNull();
    expect(chain).toEqual(await verifyHistoryRange(file, size));
    const data = collector.finish();
    expect(data.recordsRead).toBe(14 * (fixtureRecords().length + 1));
    expect(data).toEqual(await onOneThread());
  });

  it('writes the same report as the one-thread path', async () => {
    await writeFile(file, fixtureHistoryText(longRecords(3)));
    const parallel = await report(0);
    const single = await report(Number.MAX_SAFE_INTEGER);
    expect(parallel.verification).toMatchObject({ status: 'verified' });
    expect(parallel).toEqual(single);
  });

  it('a line the writer did not lay out: no chain verdict from the reader, the full check decides', async () => {
    const lines = fixtureHistoryText(longRecords(2)).trimEnd().split('\n');
    // Same record, other spacing: the content still matches its hash, but the line is not its canonical JSON.
    lines[40] = lines[40]!.replace('{"actor":', '{ "actor": ');
    await writeFile(file, `${lines.join('\n')}\n`);
    const size = statSync(file).size;
    expect(await verifyHistoryRange(file, size)).toMatchObject({ ok: false, records: 40, firstBad: { line: 41, reason: 'not canonical' } });
    const collector = createAuditCollector({});
    expect(await streamTrustedParallel(file, size, collector.add, { parallelFromBytes: 0, noWorker: 'throw' })).toBeNull();
    expect(collector.finish()).toEqual(await onOneThread());
    expect(await report(0)).toEqual(await report(Number.MAX_SAFE_INTEGER));
  });

  it('the original swiftdeploy\'s records before the chain: the same report as the one-thread path, marked legacy', async () => {
    const legacy = await readFile(path.join(ROOT, 'test/fixtures/audit/legacy-history.jsonl'), 'utf8');
    const chained = fixtureHistoryText(longRecords(2));
    // Chained after the legacy lines as the ledger would: seq from line 15, prev from the bytes of line 14.
    const { legacyAnchor } = await built<typeof import('../../src/history/chain.js')>('history/chain.js');
    const { recordHash } = await built<typeof import('../../src/history/chain.js')>('history/chain.js');
    const { canonicalJson } = await built<typeof import('../../src/util/canonical-json.js')>('util/canonical-json.js');
    const legacyLines = legacy.trimEnd().split('\n');
    let prev = legacyAnchor(Buffer.from(legacyLines.at(-1)!));
    const out: string[] = [];
    for (const [i, text] of chained.trimEnd().split('\n').entries()) {
      const { hash: _h, ...rest } = JSON.parse(text) as Record<string, unknown>;
      const unsigned = { ...rest, seq: legacyLines.length + i + 1, prev } as unknown as Parameters<typeof recordHash>[0];
      prev = recordHash(unsigned);
      out.push(canonicalJson({ ...unsigned, hash: prev }));
    }
    await writeFile(file, `${legacy}${out.join('\n')}\n`);
    expect(await verifyHistoryRange(file, statSync(file).size)).toMatchObject({ ok: true, legacy_records: 14, records: 14 + out.length });
    const parallel = await report(0);
    expect(parallel.verification).toMatchObject({ status: 'verified', legacyRecords: 14 });
    expect(parallel.markdown).toContain('| **Legacy records** | 14 (lines 1–14)');
    expect(parallel.markdown).toContain('| canary | error\\_rate | 0.1213 vs 0.05 | enforced | status (legacy record) |');
    expect(parallel).toEqual(await report(Number.MAX_SAFE_INTEGER));
  });

  it('a member given twice, in a chained line or a legacy one: the same report as the one-thread path, the line left out', async () => {
    const lines = fixtureHistoryText(longRecords(2)).trimEnd().split('\n');
    lines[60] = lines[60]!.replace('{"actor":', '{"actor":"forged@example.com","actor":');
    await writeFile(file, `${lines.join('\n')}\n`);
    const parallel = await report(0);
    expect(parallel.verification).toMatchObject({ status: 'broken', line: 61 });
    expect(parallel.markdown).toContain('line 61 (member "actor" appears twice)');
    expect(parallel.markdown).not.toContain('forged@example.com');
    expect(parallel).toEqual(await report(Number.MAX_SAFE_INTEGER));
    const legacy = (await readFile(path.join(ROOT, 'test/fixtures/audit/legacy-history.jsonl'), 'utf8')).replace('"mode": "canary"', '"mode": "stable", "mode": "canary"');
    await writeFile(file, legacy);
    const collector = createAuditCollector({});
    await expect(streamTrustedParallel(file, statSync(file).size, collector.add, { parallelFromBytes: 0, noWorker: 'throw' })).rejects.toThrow(/member name given twice/);
    const legacyReport = await report(0);
    expect(legacyReport.markdown).toContain('member "mode" appears twice');
    expect(legacyReport).toEqual(await report(Number.MAX_SAFE_INTEGER));
  });

  it('an edited record: the same break in the header as the one-thread path', async () => {
    const lines = fixtureHistoryText(longRecords(2)).trimEnd().split('\n');
    lines[100] = lines[100]!.replace('"requests":300', '"requests":301');
    await writeFile(file, `${lines.join('\n')}\n`);
    const parallel = await report(0);
    expect(parallel.verification).toMatchObject({ status: 'broken', line: 101 });
    expect(parallel).toEqual(await report(Number.MAX_SAFE_INTEGER));
  });

  it('a chained record longer than the ledger writes: refused as `audit verify` refuses it, on both paths', async () => {
    const records = longRecords(1);
    records.splice(30, 0, event(Date.parse(records[29]!.ts) + 1, 'alice@example.com', { action: 'deploy', stage: 'requested', detail: 'x'.repeat(1024 * 1024) }));
    await writeFile(file, fixtureHistoryText(records));
    const outFile = path.join(dir, 'audit_report.md');
    for (const parallelFromBytes of [0, Number.MAX_SAFE_INTEGER]) {
      const err = await writeAuditReport({ historyFile: file, projectDir: dir, project: 'shop-api', outFile, generatedAtMs: FIXTURE_GENERATED_AT, parallelFromBytes }).catch((e: unknown) => e);
      expect((err as Error).message, `parallelFromBytes ${parallelFromBytes}`).toMatch(/history\.jsonl:31: line longer than 1048576 bytes/);
    }
    await expect(readFile(outFile)).rejects.toThrow(/ENOENT/);
  });

  it('a line that is not JSON in the middle: refused at that line, nothing written', async () => {
    const lines = fixtureHistoryText(longRecords(2)).trimEnd().split('\n');
    lines[200] = '{"actor":"status","hash":';
    await writeFile(file, `${lines.join('\n')}\n`);
    const outFile = path.join(dir, 'audit_report.md');
    const err = await writeAuditReport({ historyFile: file, projectDir: dir, project: 'shop-api', outFile, generatedAtMs: FIXTURE_GENERATED_AT, parallelFromBytes: 0 }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('HistoryIntegrityError');
    expect((err as Error).message).toMatch(/history\.jsonl:201: invalid JSON/);
    await expect(readFile(outFile)).rejects.toThrow(/ENOENT/);
  });
});
