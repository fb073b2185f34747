import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scanBackwards } from '../../src/history/tail.js';
import type { HistoryRecord } from '../../src/history/types.js';

/**
 * scanBackwards against the obvious reading (split on newlines, keep the terminated lines that carry
 * the marker, newest first), over random files and block sizes down to one byte, so every way a line
 * or the marker itself can straddle two reads is met.
 */
let dir: string;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MARKER = '"intent_id":"';

function expected(text: string): number[] {
  const lines = text.split('\n');
  lines.pop(); // the part after the last newline is not a complete line
  return lines
    .filter((l) => l.includes(MARKER))
    .map((l) => {
      try {
        return (JSON.parse(l) as { seq: number }).seq;
      } catch {
        return -1;
      }
    })
    .filter((s) => s !== -1)
    .reverse();
}

describe('scanBackwards', () => {
  it('finds exactly the marked complete lines, newest first, for any block size', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'swiftdeploy-scan-'));
    const file = path.join(dir, 'h.jsonl');
    const random = rng(42);
    for (let round = 0; round < 60; round++) {
      const lines: string[] = [];
      const n = Math.floor(random() * 12);
      for (let seq = 1; seq <= n; seq++) {
        const marked = random() < 0.4;
        const pad = 'x'.repeat(Math.floor(random() * 30));
        if (random() < 0.05) lines.push(`not json ${MARKER}`);
        else lines.push(JSON.stringify({ seq, pad, ...(marked ? { payload: { intent_id: `i${seq}` } } : {}) }));
      }
      let text = lines.map((l) => `${l}\n`).join('');
      // Sometimes an append in flight (or torn) at the end, sometimes carrying the marker.
      if (random() < 0.3) text += random() < 0.5 ? `{"seq":99,"payload":{${MARKER}x` : '{"seq":98';
      await writeFile(file, text);
      const size = Buffer.byteLength(text);
      for (const block of [1, 2, 3, 7, 13, 64, 1024 * 1024]) {
        const seen: number[] = [];
        await scanBackwards(file, size, MARKER, (r: HistoryRecord) => (seen.push(r.seq), true), block);
        expect(seen, `round ${round}, block ${block}: ${JSON.stringify(text)}`).toEqual(expected(text));
      }
    }
  });

  it('stops when the visitor says so', async () => {
    const file = path.join(dir, 'stop.jsonl');
    const text = [1, 2, 3, 4].map((seq) => `${JSON.stringify({ seq, payload: { intent_id: 'x' } })}\n`).join('');
    await writeFile(file, text);
    const seen: number[] = [];
    await scanBackwards(file, Buffer.byteLength(text), MARKER, (r) => (seen.push(r.seq), r.seq > 3), 5);
    expect(seen).toEqual([4, 3]);
  });
});
