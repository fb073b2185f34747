/**
 * The ledger's one reading of a whole history for a consumer (src/history/read-verified.ts): the
 * records and the chain's verdict from the same reads. The chain walk on the way (ChainRun) is
 * verifyHistoryRange's fast path and must give its result or none; anything off the fast path goes to
 * the full check. A torn last line is a warning; a corrupt line inside the file is a loud failure.
 */
import { statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HistoryIntegrityError } from '../../src/errors.js';
import { ChainRun, recordHash } from '../../src/history/chain.js';
import { tornWarning } from '../../src/history/ledger.js';
import { iterateLineChunks } from '../../src/history/lines.js';
import { streamTrustedParallel } from '../../src/history/parallel-read.js';
import { readVerified, type RecordSink } from '../../src/history/read-verified.js';
import { streamTrustedVerified } from '../../src/history/record-stream.js';
import type { HistoryRecord } from '../../src/history/types.js';
import { verifyHistoryRange } from '../../src/history/verify.js';
import { canonicalJson } from '../../src/util/canonical-json.js';
import { fixtureHistoryText } from '../fixtures/audit/fixture-history.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'swiftdeploy-read-verified-'));
  file = path.join(dir, 'history.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A sink that keeps what it is given. */
function keeper(): RecordSink & { lines: number[]; actors: unknown[]; ambiguousLines: number[] } {
  const lines: number[] = [];
  const actors: unknown[] = [];
  const ambiguousLines: number[] = [];
  return {
    lines,
    actors,
    ambiguousLines,
    add: (line, record) => {
      lines.push(line);
      actors.push(record.actor);
    },
    ambiguous: (line) => ambiguousLines.push(line),
  };
}

const fixtureLines = (): string[] => fixtureHistoryText().trimEnd().split('\n');

/** Line `index` (0-based) replaced by a record with `change` applied, rehashed so that it is self-consistent. */
function rehashed(lines: string[], index: number, change: (r: Record<string, unknown>) => void): string {
  const { hash: _hash, ...rest } = JSON.parse(lines[index]!) as Record<string, unknown>;
  change(rest);
  const unsigned = rest as unknown as Omit<HistoryRecord, 'hash'>;
  return canonicalJson({ ...unsigned, hash: recordHash(unsigned) });
}

describe('ChainRun: the verifier\'s fast path as a walk over chunks', () => {
  it('gives verifyHistoryRange\'s records and head for every read size, lines straddling reads included', async () => {
    await writeFile(file, fixtureHistoryText());
    const size = statSync(file).size;
    const expected = await verifyHistoryRange(file, size);
    expect(expected.ok).toBe(true);
    // Read sizes below, around and above a line's length put the chunk boundaries everywhere.
    for (const readBytes of [97, 512, 1000, 1023, 4096, 65_536]) {
      const chain = new ChainRun();
      let onPath = true;
      for await (const chunk of iterateLineChunks(file, size, { readBytes })) if (onPath) onPath = chain.acceptChunk(chunk);
      expect(onPath, `readBytes ${readBytes}`).toBe(true);
      expect({ records: chain.records, head: chain.head }, `readBytes ${readBytes}`).toEqual({ records: expected.records, head: expected.head });
    }
  });

  it('stops at a broken link, at the line before it, for every read size', async () => {
    const lines = fixtureLines();
    // Self-consistent, but chained to another prev: the link from line 10 to line 11 is broken.
    lines[10] = rehashed(lines, 10, (r) => (r.prev = 'e'.repeat(64)));
    await writeFile(file, `${lines.join('\n')}\n`);
    const size = statSync(file).size;
    for (const readBytes of [97, 1000, 4096, 1024 * 1024]) {
      const chain = new ChainRun();
      let onPath = true;
      for await (const chunk of iterateLineChunks(file, size, { readBytes })) if (onPath) onPath = chain.acceptChunk(chunk);
      expect(onPath).toBe(false);
      expect(chain.records, `readBytes ${readBytes}`).toBe(10);
    }
    expect(await verifyHistoryRange(file, size)).toMatchObject({ ok: false, records: 10, firstBad: { line: 11, reason: 'edited' } });
  });
});

describe('readVerified', () => {
  it('an intact history: every record once, in order, and the full check\'s verdict', async () => {
    await writeFile(file, fixtureHistoryText());
    const size = statSync(file).size;
    const opened: number[] = [];
    const { sink, verify } = await readVerified(file, size, () => {
      opened.push(1);
      return keeper();
    });
    expect(opened).toHaveLength(1); // the fast pass stood: no second reading
    expect(verify).toEqual(await verifyHistoryRange(file, size));
    expect(sink.lines).toEqual(fixtureLines().map((_, i) => i + 1));
  });

  it('a broken link: the verdict names the line, and the records are read again exactly', async () => {
    const lines = fixtureLines();
    lines[20] = rehashed(lines, 20, (r) => (r.actor = 'mallory@example.com'));
    await writeFile(file, `${lines.join('\n')}\n`);
    let opened = 0;
    const { sink, verify } = await readVerified(file, statSync(file).size, () => {
      opened++;
      return keeper();
    });
    expect(opened).toBe(2);
    expect(verify).toMatchObject({ ok: false, records: 20, firstBad: { line: 21 } });
    expect(sink.lines).toHaveLength(lines.length);
    expect(sink.actors[20]).toBe('mallory@example.com');
  });

  it('a torn last line: a warning, the complete records read, the verdict says torn', async () => {
    const text = fixtureHistoryText();
    const complete = fixtureLines().length;
    await writeFile(file, `${text}{"actor":"status","hash":"ab`);
    const warnings: string[] = [];
    const { sink, verify } = await readVerified(file, statSync(file).size, keeper, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([tornWarning(file)]);
    expect(sink.lines).toHaveLength(complete);
    expect(verify).toMatchObject({ ok: false, records: complete, firstBad: { line: complete + 1, reason: 'torn' } });
  });

  it('a line that is not JSON inside the file: refused loudly, naming the line', async () => {
    const lines = fixtureLines();
    lines[5] = lines[5]!.slice(0, 40);
    await writeFile(file, `${lines.join('\n')}\n`);
    const err = await readVerified(file, statSync(file).size, keeper).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HistoryIntegrityError);
    expect((err as Error).message).toMatch(/history\.jsonl:6: invalid JSON/);
  });
});

describe('the two-thread read where no worker can load its module', () => {
  // Under this runner src/history/parallel-read.ts is TypeScript, which a worker thread cannot load:
  // the read falls back to one thread (no test-runner detection), or says so when told to.
  it('falls back to this thread with the same records and verdict', async () => {
    await writeFile(file, fixtureHistoryText());
    const size = statSync(file).size;
    const one = keeper();
    const alone = await streamTrustedVerified(file, size, one.add);
    const two = keeper();
    expect(await streamTrustedParallel(file, size, two.add, { parallelFromBytes: 0 })).toEqual(alone);
    expect(alone).toEqual(await verifyHistoryRange(file, size));
    expect(two.lines).toEqual(one.lines);
    await expect(streamTrustedParallel(file, size, keeper().add, { parallelFromBytes: 0, noWorker: 'throw' })).rejects.toThrow(/no worker could start/);
  });
});
