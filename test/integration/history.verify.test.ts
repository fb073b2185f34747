import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordHash } from '../../src/history/chain.js';
import { appendRecord, verifyHistory } from '../../src/history/ledger.js';
import type { HistoryRecord } from '../../src/history/types.js';
import { canonicalJson } from '../../src/util/canonical-json.js';

let dir: string;
let pristine: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swiftdeploy-verify-'));
  const file = join(dir, 'pristine.jsonl');
  for (let i = 1; i <= 6; i++) {
    await appendRecord(file, {
      kind: i % 2 ? 'status' : 'event',
      actor: 'alice@example.com',
      policy_version: 'pv-1',
      manifest_sha256: null,
      payload: { action: 'deploy', stage: 'executed', detail: `step ${i}`, error_rate: i / 100 },
    });
  }
  pristine = (await readFile(file, 'utf8')).trimEnd().split('\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function verifyLines(name: string, lines: string[]) {
  const file = join(dir, `${name}.jsonl`);
  await writeFile(file, `${lines.join('\n')}\n`);
  return verifyHistory(file);
}

const at = (i: number) => pristine[i] as string;
const parsed = (i: number) => JSON.parse(at(i)) as HistoryRecord;

describe('verifyHistory names what was done to the file', () => {
  it('an untouched history verifies, with the record count and head hash', async () => {
    expect(await verifyLines('ok', pristine)).toEqual({ ok: true, records: 6, head: parsed(5).hash });
  });

  it('edit a value -> edited at that line', async () => {
    const lines = [...pristine];
    lines[2] = at(2).replace('"error_rate":0.03', '"error_rate":0.01');
    expect(await verifyLines('edit', lines)).toMatchObject({ ok: false, records: 2, head: parsed(1).hash, firstBad: { line: 3, reason: 'edited' } });
  });

  it('edit a value and recompute that record\'s hash -> edited at that line (the next one remembers the old hash)', async () => {
    const rec = { ...parsed(2), actor: 'mallory@example.com' };
    const lines = [...pristine];
    lines[2] = canonicalJson({ ...rec, hash: recordHash(rec) });
    expect(await verifyLines('rehash', lines)).toMatchObject({ ok: false, records: 2, head: parsed(1).hash, firstBad: { line: 3, reason: 'edited' } });
  });

  it('delete a line -> deleted where the gap shows', async () => {
    const lines = pristine.filter((_, i) => i !== 2);
    expect(await verifyLines('delete', lines)).toMatchObject({ ok: false, records: 2, firstBad: { line: 3, reason: 'deleted', detail: 'seq 3 is missing before this line' } });
  });

  it('delete the first line -> deleted at line 1', async () => {
    expect(await verifyLines('delete-first', pristine.slice(1))).toMatchObject({ ok: false, records: 0, head: null, firstBad: { line: 1, reason: 'deleted' } });
  });

  it('delete two lines -> deleted, naming the range', async () => {
    const lines = pristine.filter((_, i) => i !== 2 && i !== 3);
    expect(await verifyLines('delete-two', lines)).toMatchObject({ firstBad: { line: 3, reason: 'deleted', detail: 'seq 3..4 are missing before this line' } });
  });

  it('swap two lines -> reordered', async () => {
    const lines = [...pristine];
    [lines[2], lines[3]] = [at(3), at(2)];
    expect(await verifyLines('swap', lines)).toMatchObject({ ok: false, records: 2, firstBad: { line: 3, reason: 'reordered' } });
  });

  it('swap the last two lines -> reordered', async () => {
    const lines = [...pristine];
    [lines[4], lines[5]] = [at(5), at(4)];
    expect(await verifyLines('swap-last', lines)).toMatchObject({ ok: false, firstBad: { line: 5, reason: 'reordered' } });
  });

  it('insert a copy of an earlier line -> inserted', async () => {
    const lines = [...pristine.slice(0, 4), at(1), ...pristine.slice(4)];
    expect(await verifyLines('insert-copy', lines)).toMatchObject({ ok: false, records: 4, firstBad: { line: 5, reason: 'inserted' } });
  });

  it('insert a forged, self-consistent record -> inserted (the next record skips it)', async () => {
    const forged = { ...parsed(2), actor: 'mallory@example.com', ts: '2030-01-01T00:00:00.000Z' };
    const lines = [...pristine.slice(0, 2), canonicalJson({ ...forged, hash: recordHash(forged) }), ...pristine.slice(2)];
    expect(await verifyLines('insert-forged', lines)).toMatchObject({ ok: false, records: 2, firstBad: { line: 3, reason: 'inserted' } });
  });

  it('insert a hand-written line with a made-up hash -> inserted, not edited', async () => {
    const fake = canonicalJson({ ...parsed(2), hash: 'f'.repeat(64) }).replace('step 3', 'step 2.5');
    const lines = [...pristine.slice(0, 2), fake, ...pristine.slice(2)];
    expect(await verifyLines('insert-fake', lines)).toMatchObject({ firstBad: { line: 3, reason: 'inserted' } });
  });

  it('insert a copy at the very end -> inserted', async () => {
    expect(await verifyLines('append-copy', [...pristine, at(0)])).toMatchObject({ firstBad: { line: 7, reason: 'inserted' } });
  });

  it('a non-record JSON line -> invalid record', async () => {
    const lines = [...pristine.slice(0, 3), '[1,2,3]', ...pristine.slice(3)];
    expect(await verifyLines('array', lines)).toMatchObject({ firstBad: { line: 4, reason: 'invalid record' } });
    const noSeq = canonicalJson({ ...parsed(3), seq: 'four' });
    expect(await verifyLines('bad-seq', [...pristine.slice(0, 3), noSeq, ...pristine.slice(4)])).toMatchObject({
      firstBad: { line: 4, reason: 'invalid record', detail: 'seq is not a positive integer' },
    });
  });

  it('a legacy (hash-less) line inside the chain -> inserted', async () => {
    const lines = [...pristine.slice(0, 3), '{"event":"deploy"}', ...pristine.slice(3)];
    expect(await verifyLines('legacy-inside', lines)).toMatchObject({ firstBad: { line: 4, reason: 'inserted' } });
  });

  it('a line re-serialised non-canonically but with the same content still verifies', async () => {
    const lines = [...pristine];
    const { hash, ...rest } = parsed(2);
    lines[2] = JSON.stringify({ hash, ...rest }, null, 0).replace('{', '{ ');
    expect(await verifyLines('reserialised', lines)).toMatchObject({ ok: true, records: 6 });
  });

  it('an empty file is an empty, valid history', async () => {
    const file = join(dir, 'empty.jsonl');
    await writeFile(file, '');
    expect(await verifyHistory(file)).toEqual({ ok: true, records: 0, head: null });
  });
});
