/**
 * Whole-file passes read in large batches (iterateLineBatches) and verify mostly on the fast path.
 * These prove the batching changes nothing: the same lines as the line-at-a-time reader for every
 * read size, and tamper cases caught the same way when the history spans many reads.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENESIS_PREV, recordHash } from '../../src/history/chain.js';
import { verifyHistory } from '../../src/history/ledger.js';
import { iterateLineBatches, iterateLines, type RawLine } from '../../src/history/lines.js';
import type { HistoryRecord } from '../../src/history/types.js';
import { canonicalJson } from '../../src/util/canonical-json.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swiftdeploy-batches-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A chain of `n` status records as the writer lays them out (about 700 bytes each). */
function chainLines(n: number, actor: (seq: number) => string = () => 'status'): string[] {
  const out: string[] = [];
  let prev = GENESIS_PREV;
  for (let seq = 1; seq <= n; seq++) {
    const unsigned = {
      v: 1,
      seq,
      ts: new Date(Date.UTC(2026, 0, 1) + seq * 5_000).toISOString(),
      kind: 'status' as const,
      actor: actor(seq),
      policy_version: 'c0ffee',
      manifest_sha256: 'd'.repeat(64),
      // A payload carrying its own "hash" key and text that looks like the member: the fast path must not care.
      payload: { mode: 'canary', chaos: null, uptime_seconds: seq, window: { error_rate: seq / 1e4, note: `","hash":"${prev}"` }, decisions: {}, hash: prev, pad: 'x'.repeat(300) },
      prev,
    } as unknown as Omit<HistoryRecord, 'hash'>;
    const hash = recordHash(unsigned);
    out.push(canonicalJson({ ...unsigned, hash }));
    prev = hash;
  }
  return out;
}

async function write(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

async function collect(gen: AsyncGenerator<RawLine[]> | AsyncGenerator<RawLine>): Promise<Array<[number, number, string, boolean]>> {
  const out: Array<[number, number, string, boolean]> = [];
  for await (const item of gen) {
    for (const l of Array.isArray(item) ? item : [item]) out.push([l.line, l.start, l.bytes.toString('latin1'), l.terminated]);
  }
  return out;
}

describe('iterateLineBatches', () => {
  it('yields exactly the lines iterateLines yields, for every read size, recycled buffers or not', async () => {
    const text = `${chainLines(5).join('\n')}\n\n{"torn":`;
    const file = await write('mixed.jsonl', text);
    const size = statSync(file).size;
    const expected = await collect(iterateLines(file, size));
    expect(expected.at(-1)?.[3]).toBe(false);
    for (const readBytes of [5, 7, 64, 699, 700, 701, 4096, 1 << 20]) {
      for (const recycle of [false, true]) {
        // Copy each batch's lines as it arrives: recycled buffers are reused later.
        expect(await collect(iterateLineBatches(file, size, { readBytes, recycle })), `readBytes ${readBytes}, recycle ${recycle}`).toEqual(expected);
      }
    }
  });

  it('reads only [0, size): bytes appended after the size was taken are not seen', async () => {
    const lines = chainLines(3);
    const file = await write('grown.jsonl', `${lines.join('\n')}\n`);
    const size = Buffer.byteLength(`${lines.slice(0, 2).join('\n')}\n`);
    const got = await collect(iterateLineBatches(file, size, { readBytes: 100 }));
    expect(got.map(([line]) => line)).toEqual([1, 2]);
  });
});

describe('verifyHistory across many reads (about 3 MB, several 1 MiB batches)', () => {
  const N = 4_000;
  let pristine: string[];
  beforeAll(() => {
    pristine = chainLines(N);
  });
  const verify = async (name: string, lines: string[]) => verifyHistory(await write(`${name}.jsonl`, `${lines.join('\n')}\n`));
  const hashOf = (i: number): string => (JSON.parse(pristine[i] as string) as HistoryRecord).hash;

  it('an untouched history verifies, head and count exact', async () => {
    expect(await verify('ok', pristine)).toEqual({ ok: true, records: N, head: hashOf(N - 1) });
  });

  it('an edit deep in the file, in the payload\'s decoy "hash", is caught at its line', async () => {
    const lines = [...pristine];
    const i = 3_001;
    lines[i] = (lines[i] as string).replace(`"hash":"${hashOf(i - 1)}"`, `"hash":"${'0'.repeat(64)}"`);
    expect(lines[i]).not.toBe(pristine[i]);
    expect(await verify('decoy', lines)).toMatchObject({ ok: false, records: i, head: hashOf(i - 1), firstBad: { line: i + 1, reason: 'edited' } });
  });

  it('a line deleted, two swapped, one inserted: each named at its line', async () => {
    expect(await verify('del', pristine.filter((_, i) => i !== 2_500))).toMatchObject({ ok: false, records: 2_500, firstBad: { line: 2_501, reason: 'deleted' } });
    const swapped = [...pristine];
    [swapped[1_800], swapped[1_801]] = [swapped[1_801] as string, swapped[1_800] as string];
    expect(await verify('swap', swapped)).toMatchObject({ ok: false, records: 1_800, firstBad: { line: 1_801, reason: 'reordered' } });
    const inserted = [...pristine];
    inserted.splice(3_900, 0, pristine[10] as string);
    expect(await verify('ins', inserted)).toMatchObject({ ok: false, records: 3_900, firstBad: { line: 3_901, reason: 'inserted' } });
  });

  it('lines off the fast path (an escaped actor) verify on the full path and the walk continues', async () => {
    const lines = [...pristine];
    const i = 2_000;
    const rec = JSON.parse(lines[i] as string) as HistoryRecord;
    const other = { ...rec, actor: 'eve "quoted"' };
    const { hash: _h, ...unsigned } = other;
    lines[i] = canonicalJson({ ...unsigned, hash: recordHash(unsigned) });
    // Rehashed with the escaped actor: its successor remembers the original hash.
    expect(await verify('escaped', lines)).toMatchObject({ ok: false, firstBad: { line: i + 1, reason: 'edited' } });
    // Written that way by the writer (its successors chain to it): the full path accepts it and the walk goes on.
    const escaped = chainLines(N, (seq) => (seq === i + 1 ? 'eve "quoted"' : 'status'));
    const last = JSON.parse(escaped[N - 1] as string) as HistoryRecord;
    expect(await verify('escaped-written', escaped)).toEqual({ ok: true, records: N, head: last.hash });
    // The same record as written, with one member moved: unaltered content, but not its canonical JSON.
    const moved = [...pristine];
    moved[i] = (moved[i] as string).replace(`"hash":"${rec.hash}",`, '').replace(/}$/, `,"hash":"${rec.hash}"}`);
    expect(await verify('moved', moved)).toMatchObject({ ok: false, records: i, head: hashOf(i - 1), firstBad: { line: i + 1, reason: 'not canonical' } });
  });
});
