import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HistoryIntegrityError, LockHeld, OperationFailed, exitCodeOf } from '../../src/errors.js';
import { recordIntact } from '../../src/history/chain.js';
import { GENESIS_PREV, appendRecord, createRecorder, lockPathFor, readRecords, verifyHistory } from '../../src/history/ledger.js';
import type { RecordInput } from '../../src/history/types.js';
import { canonicalJson } from '../../src/util/canonical-json.js';
import { streamHistory } from '../../src/history/record-stream.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swiftdeploy-history-'));
  file = join(dir, 'history.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const event = (detail: string): RecordInput => ({
  kind: 'event',
  actor: 'alice@example.com',
  policy_version: 'pv-1',
  manifest_sha256: 'b'.repeat(64),
  payload: { action: 'promote', stage: 'confirmed', detail, to_mode: 'canary' },
});

async function appendN(n: number, warn = (_: string) => {}): Promise<void> {
  for (let i = 1; i <= n; i++) await appendRecord(file, event(`step ${i}`), { warn });
}

async function readAll(opts: { warn?: (m: string) => void } = {}) {
  const out = [];
  for await (const item of readRecords(file, opts)) out.push(item);
  return out;
}

const lines = async () => (await readFile(file, 'utf8')).split('\n').slice(0, -1);

describe('appendRecord', () => {
  it('writes one canonical, newline-terminated line per record, hash-chained from genesis', async () => {
    const clock = () => new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6));
    const first = await appendRecord(file, event('one'), { now: clock });
    const second = await appendRecord(file, event('two'), { now: clock });
    expect(first).toMatchObject({ v: 1, seq: 1, ts: '2026-01-02T03:04:05.006Z', kind: 'event', prev: GENESIS_PREV });
    expect(second).toMatchObject({ seq: 2, prev: first.hash });
    const written = await lines();
    expect(written).toHaveLength(2);
    for (const [i, line] of written.entries()) {
      const record = JSON.parse(line) as Record<string, unknown>;
      const { hash, ...rest } = record;
      expect(line).toBe(canonicalJson(record));
      expect(hash).toBe(createHash('sha256').update(`${String(rest.prev)}${canonicalJson(rest)}`).digest('hex'));
      expect(record).toEqual(i === 0 ? first : second);
    }
  });

  it('creates the file 0644 and leaves no lock behind', async () => {
    await appendN(1);
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    await expect(stat(lockPathFor(file))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses bad input before touching anything', async () => {
    const bad = { ...event('x'), payload: { action: 'deploy', stage: 'failed', latency: Number.NaN } } as RecordInput;
    await expect(appendRecord(file, bad)).rejects.toThrow(/non-finite/);
    await expect(appendRecord(file, { ...event('x'), kind: 'other' } as unknown as RecordInput)).rejects.toThrow(/kind/);
    await expect(appendRecord(file, { ...event('x'), actor: '' })).rejects.toThrow(/actor/);
    await expect(appendRecord(file, { ...event('x'.repeat(1024 * 1024)) })).rejects.toThrow(/exceeds 1048576/);
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses to chain onto a last record that was edited, changing nothing (exit 6)', async () => {
    await appendN(3);
    const before = await readFile(file, 'utf8');
    await writeFile(file, before.replace('step 3', 'step X'));
    const tampered = await readFile(file, 'utf8');
    const err = await appendRecord(file, event('4')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HistoryIntegrityError);
    expect(exitCodeOf(err)).toBe(6);
    expect((err as Error).message).toMatch(/history\.jsonl:3: .*edited/);
    expect(await readFile(file, 'utf8')).toBe(tampered);
  });

  it('refuses to chain onto a last record with a forged member hidden before the original (exit 6)', async () => {
    await appendN(3);
    // JSON.parse keeps the last "actor", so the record still matches its hash; the bytes are not what the writer wrote.
    const tampered = (await readFile(file, 'utf8')).replace(/\n\{"actor":([^\n]*)\n$/, '\n{"actor":"forged@example.com","actor":$1\n');
    await writeFile(file, tampered);
    const err = await appendRecord(file, event('4')).catch((e: unknown) => e);
    expect(exitCodeOf(err)).toBe(6);
    expect((err as Error).message).toMatch(/history\.jsonl:3: .*not its canonical JSON/);
    expect(await readFile(file, 'utf8')).toBe(tampered);
  });
});

describe('torn last record', () => {
  // One fsync'ed append per byte offset: seconds on a quiet machine, far more at load average 15.
  it('is cut off by the next append at EVERY byte offset, with one warning; readers skip it; verify names it', { timeout: 180_000 }, async () => {
    await appendN(2);
    const second = (await readAll()).at(-1)?.record.hash;
    // The shortest record the ledger writes, so the loop below stays quick.
    await appendRecord(file, { kind: 'event', actor: 'a', policy_version: null, manifest_sha256: null, payload: { action: 'init', stage: 'requested' } });
    const full = await readFile(file);
    const complete = full.subarray(0, full.lastIndexOf(0x0a, full.length - 2) + 1); // first two lines
    const last = full.subarray(complete.length);
    // Every proper prefix of the last line, from 1 byte to all of it but the newline.
    for (let k = 1; k < last.length; k++) {
      const torn = Buffer.concat([complete, last.subarray(0, k)]);
      await writeFile(file, torn);

      const readerWarnings: string[] = [];
      expect((await readAll({ warn: (m) => readerWarnings.push(m) })).map((r) => r.record.seq)).toEqual([1, 2]);
      expect(readerWarnings).toEqual([`skipped 1 incomplete trailing record in ${file}`]);
      expect(await readFile(file)).toEqual(torn); // readers never modify

      expect(await verifyHistory(file)).toMatchObject({ ok: false, records: 2, firstBad: { line: 3, reason: 'torn' } });

      const warnings: string[] = [];
      const record = await appendRecord(file, event('again'), { warn: (m) => warnings.push(m) });
      expect(warnings).toEqual([`skipped 1 incomplete trailing record in ${file}`]);
      expect(record).toMatchObject({ seq: 3, prev: second });
      expect(await readFile(file)).toEqual(Buffer.concat([complete, Buffer.from(`${canonicalJson(record)}\n`)]));
    }
    expect(await verifyHistory(file)).toMatchObject({ ok: true, records: 3 });
  });

  it('a newline-terminated garbage last line (e.g. zeros after a crash) is torn too', async () => {
    await appendN(2);
    await writeFile(file, Buffer.concat([await readFile(file), Buffer.alloc(40), Buffer.from('\n')]));
    expect(await verifyHistory(file)).toMatchObject({ ok: false, firstBad: { line: 3, reason: 'torn' } });
    // Readers skip it with the one warning: readRecords, and the audit report's pass (same rule).
    const readerWarnings: string[] = [];
    expect((await readAll({ warn: (m) => readerWarnings.push(m) })).map((r) => r.record.seq)).toEqual([1, 2]);
    const streamed: number[] = [];
    await streamHistory(file, statSync(file).size, (line) => streamed.push(line), (m) => readerWarnings.push(m));
    expect(streamed).toEqual([1, 2]);
    expect(readerWarnings).toEqual([`skipped 1 incomplete trailing record in ${file}`, `skipped 1 incomplete trailing record in ${file}`]);
    const warnings: string[] = [];
    expect((await appendRecord(file, event('3'), { warn: (m) => warnings.push(m) })).seq).toBe(3);
    expect(warnings).toHaveLength(1);
    expect(await verifyHistory(file)).toMatchObject({ ok: true, records: 3 });
  });

  it('a torn first and only record leaves an empty history that starts again from genesis', async () => {
    await writeFile(file, '{"v":1,"seq":1,"ts":"20');
    const record = await appendRecord(file, event('1'), { warn: () => {} });
    expect(record).toMatchObject({ seq: 1, prev: GENESIS_PREV });
    expect(await lines()).toHaveLength(1);
  });
});

describe('interior corruption', () => {
  it('invalid JSON before the last line: readers and verify name the line; nothing is skipped or rewritten', async () => {
    await appendN(4);
    const original = await lines();
    const corrupt = [original[0], original[1]?.slice(0, 30), original[2], original[3]].join('\n') + '\n';
    await writeFile(file, corrupt);
    await expect(readAll()).rejects.toThrow(/history\.jsonl:2: invalid JSON/);
    await expect(readAll()).rejects.toBeInstanceOf(HistoryIntegrityError);
    expect(await verifyHistory(file)).toMatchObject({ ok: false, records: 1, firstBad: { line: 2, reason: 'invalid JSON' } });
    expect(await readFile(file, 'utf8')).toBe(corrupt);
  });

  it('a torn tail on top of a corrupt line is not an interrupted append: append fails, file unchanged', async () => {
    await appendN(3);
    const original = await lines();
    const corrupt = `${original[0]}\n${original[1]}\nnot json\n${original[2]?.slice(0, 10)}`;
    await writeFile(file, corrupt);
    const err = await appendRecord(file, event('4'), { warn: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HistoryIntegrityError);
    expect((err as Error).message).toMatch(/history\.jsonl:3: invalid JSON/);
    expect(await readFile(file, 'utf8')).toBe(corrupt);
  });

  it('a missing history is a clear error, not an empty one', async () => {
    await expect(verifyHistory(file)).rejects.toBeInstanceOf(OperationFailed);
    await expect(readAll()).rejects.toThrow(/no history/);
  });
});

describe('lock', () => {
  it('waits for a live holder, then fails with exit 5 naming it; the history is untouched', async () => {
    await appendN(1);
    const before = await readFile(file, 'utf8');
    const holder = { pid: process.pid, host: (await import('node:os')).hostname(), boot_id: null, proc_start: null, since: '2026-01-01T00:00:00.000Z', nonce: 'n', purpose: 'promote canary' };
    await writeFile(lockPathFor(file), JSON.stringify(holder));
    const started = Date.now();
    const err = await appendRecord(file, event('2'), { lockTimeoutMs: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockHeld);
    expect((err as Error).message).toBe(`${lockPathFor(file)} is held by pid ${process.pid} on ${holder.host} since 2026-01-01T00:00:00.000Z: promote canary`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(await readFile(file, 'utf8')).toBe(before);
  });

  it('breaks a lock whose holder process is dead', async () => {
    const child = spawnSync(process.execPath, ['-e', '0']);
    const deadPid = child.pid as number;
    const holder = { pid: deadPid, host: (await import('node:os')).hostname(), boot_id: null, proc_start: null, since: '2026-01-01T00:00:00.000Z', nonce: 'dead', purpose: 'append' };
    await writeFile(lockPathFor(file), JSON.stringify(holder));
    const record = await appendRecord(file, event('1'), { lockTimeoutMs: 1_000 });
    expect(record.seq).toBe(1);
    await expect(stat(lockPathFor(file))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('createRecorder and readRecords', () => {
  it('records through the Recorder interface and streams them back in order', async () => {
    const recorder = createRecorder(file);
    for (let i = 1; i <= 5; i++) await recorder.append(event(`r${i}`));
    const items = await readAll();
    expect(items.map((r) => [r.line, r.record.seq, r.legacy])).toEqual([1, 2, 3, 4, 5].map((n) => [n, n, false]));
    expect(items.map((r) => (r.record.payload as { detail: string }).detail)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    // Each item carries its line's exact bytes, which is what recordIntact hashes.
    expect(items.map((r) => r.bytes.toString('utf8'))).toEqual(await lines());
    expect(items.every((r) => recordIntact(r.bytes, r.record))).toBe(true);
    const edited = items[2] as (typeof items)[number];
    expect(recordIntact(Buffer.from(edited.bytes.toString().replace('r3', 'r9')), { ...edited.record, payload: { ...edited.record.payload, detail: 'r9' } })).toBe(false);
  });
});

describe('old history without hashes', () => {
  const legacyLines = ['{"ts":"2025-01-01T00:00:00Z","event":"deploy","mode":"stable"}', '{"ts":"2025-01-02T00:00:00Z","event":"promote","mode":"canary"}'];

  it('is unverifiable, not corrupt; the chain continues from the bytes of its last line', async () => {
    await writeFile(file, `${legacyLines.join('\n')}\n`);
    expect(await verifyHistory(file)).toEqual({ ok: true, records: 2, head: null, unverifiable: true, legacy_records: 2 });
    const record = await appendRecord(file, event('first hashed'));
    expect(record.seq).toBe(3);
    expect(record.prev).toBe(createHash('sha256').update(legacyLines[1] as string).digest('hex'));
    expect(await verifyHistory(file)).toEqual({ ok: true, records: 3, head: record.hash, unverifiable: true, legacy_records: 2 });
    expect((await readAll()).map((r) => r.legacy)).toEqual([true, true, false]);
  });

  it('an edit to the last legacy line breaks the first hashed record', async () => {
    await writeFile(file, `${legacyLines.join('\n')}\n`);
    await appendRecord(file, event('first hashed'));
    await appendRecord(file, event('second hashed'));
    await writeFile(file, (await readFile(file, 'utf8')).replace('"canary"', '"stable"'));
    // The two hashed records agree with each other and with the original of line 2: line 2 was edited.
    expect(await verifyHistory(file)).toMatchObject({ ok: false, records: 1, firstBad: { line: 2, reason: 'edited' } });
  });

  it('with one hashed record after it, the break is named at that record, and both candidates in the detail', async () => {
    await writeFile(file, `${legacyLines.join('\n')}\n`);
    await appendRecord(file, event('first hashed'));
    await writeFile(file, (await readFile(file, 'utf8')).replace('"canary"', '"stable"'));
    expect(await verifyHistory(file)).toMatchObject({
      ok: false,
      records: 2,
      firstBad: { line: 3, reason: 'edited', detail: expect.stringMatching(/this line was replaced, or line 2 edited/) as unknown },
    });
  });
});
