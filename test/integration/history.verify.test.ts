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
/** Another history of the same length: its lines are self-consistent records of a different chain. */
let foreign: string[];

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
  const other = join(dir, 'other.jsonl');
  for (let i = 1; i <= 6; i++) {
    await appendRecord(other, {
      kind: 'event',
      actor: 'mallory@example.com',
      policy_version: 'pv-1',
      manifest_sha256: null,
      payload: { action: 'promote', stage: 'confirmed', detail: `other ${i}` },
    });
  }
  foreign = (await readFile(other, 'utf8')).trimEnd().split('\n');
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

  it('an empty file is an empty, valid history', async () => {
    const file = join(dir, 'empty.jsonl');
    await writeFile(file, '');
    expect(await verifyHistory(file)).toEqual({ ok: true, records: 0, head: null });
  });
});

describe('verifyHistory accepts only lines that are exactly the canonical JSON of their record', () => {
  it('a forged value before the original under the same name (duplicate member) -> not canonical at that line', async () => {
    // A first-wins reader sees the forged actor; JSON.parse (last wins) sees the original, which matches the hash.
    const lines = [...pristine];
    lines[2] = at(2).replace('{"actor":', '{"actor":"forged@example.com","actor":');
    expect(JSON.parse(lines[2] as string)).toEqual(parsed(2));
    expect(await verifyLines('duplicate-actor', lines)).toMatchObject({
      ok: false,
      records: 2,
      head: parsed(1).hash,
      firstBad: { line: 3, reason: 'not canonical', detail: expect.stringMatching(/member "actor" appears twice/) as unknown },
    });
  });

  it('a duplicate member deep in the payload, on the last line -> not canonical there', async () => {
    const lines = [...pristine];
    lines[5] = at(5).replace('"payload":{"action":"deploy"', '"payload":{"action":"rollback","action":"deploy"');
    expect(await verifyLines('duplicate-payload', lines)).toMatchObject({ ok: false, records: 5, firstBad: { line: 6, reason: 'not canonical' } });
  });

  it('a line re-serialised with the same content but not canonically -> not canonical, naming the place', async () => {
    const respaced = [...pristine];
    respaced[2] = JSON.stringify(parsed(2), null, 1).replace(/\n */g, ' ');
    expect(await verifyLines('respaced', respaced)).toMatchObject({
      ok: false,
      records: 2,
      firstBad: { line: 3, reason: 'not canonical', detail: expect.stringMatching(/^at byte 1: whitespace\b/) as unknown },
    });
    const reordered = [...pristine];
    const { hash, ...rest } = parsed(2);
    reordered[2] = JSON.stringify({ hash, ...rest });
    expect(await verifyLines('keys-reordered', reordered)).toMatchObject({
      firstBad: { line: 3, reason: 'not canonical', detail: expect.stringMatching(/member "actor" is out of order/) as unknown },
    });
    const number = [...pristine];
    number[2] = at(2).replace('"error_rate":0.03', '"error_rate":3e-2');
    expect(await verifyLines('number-form', number)).toMatchObject({
      firstBad: { line: 3, reason: 'not canonical', detail: expect.stringMatching(/number 3e-2 \(canonical JSON writes 0.03\)/) as unknown },
    });
  });

  it('the canonical line still verifies when its hash is checked by re-serialising (not only over its bytes)', async () => {
    expect(await verifyLines('canonical-again', pristine.map((l) => canonicalJson(JSON.parse(l))))).toMatchObject({ ok: true, records: 6 });
  });
});

describe('verifyHistory blames the line whose content does not fit', () => {
  it('a line replaced by a self-consistent record of another chain -> that line, not the intact one before it', async () => {
    const lines = [...pristine];
    lines[2] = foreign[2] as string;
    expect(await verifyLines('foreign-3', lines)).toMatchObject({
      ok: false,
      records: 2,
      head: parsed(1).hash,
      firstBad: { line: 3, reason: 'edited', detail: expect.stringMatching(/replaced/) as unknown },
    });
  });

  it('two consecutive lines replaced from another chain -> the first of them', async () => {
    const lines = [...pristine];
    lines[2] = foreign[2] as string;
    lines[3] = foreign[3] as string;
    expect(await verifyLines('foreign-3-4', lines)).toMatchObject({ ok: false, records: 2, firstBad: { line: 3, reason: 'edited', detail: expect.stringMatching(/lines 3-4 .*replaced/) as unknown } });
  });

  it('the last line replaced from another chain -> the last line (nothing after it vouches for it)', async () => {
    const lines = [...pristine];
    lines[5] = foreign[5] as string;
    expect(await verifyLines('foreign-last', lines)).toMatchObject({ ok: false, records: 5, head: parsed(4).hash, firstBad: { line: 6, reason: 'edited' } });
  });

  it('a line replaced by one of another chain with another seq -> that line', async () => {
    const lines = [...pristine];
    lines[2] = foreign[4] as string;
    expect(await verifyLines('foreign-seq', lines)).toMatchObject({ ok: false, records: 2, firstBad: { line: 3, reason: 'edited', detail: expect.stringMatching(/replaced.*seq 5.*where seq 3 belongs/) as unknown } });
  });

  it('a first line that does not start from genesis -> line 1 (there is no line before it to blame)', async () => {
    const lines = [...pristine];
    const first = { ...parsed(0), prev: 'a'.repeat(64) };
    lines[0] = canonicalJson({ ...first, hash: recordHash(first) });
    expect(await verifyLines('no-genesis', lines)).toMatchObject({ ok: false, records: 0, head: null, firstBad: { line: 1, reason: 'edited', detail: expect.stringMatching(/genesis/) as unknown } });
  });

  it('a line rewritten and rehashed is still named itself: the rest of the chain vouches for the original', async () => {
    const rec = { ...parsed(3), actor: 'mallory@example.com' };
    const lines = [...pristine];
    lines[3] = canonicalJson({ ...rec, hash: recordHash(rec) });
    expect(await verifyLines('rehash-4', lines)).toMatchObject({ ok: false, records: 3, firstBad: { line: 4, reason: 'edited', detail: expect.stringMatching(/rewritten and rehashed/) as unknown } });
  });
});
