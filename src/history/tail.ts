import { open } from 'node:fs/promises';
import { lineStartBefore, readRange } from './lines.js';
import { settledSize } from './settled.js';
import type { HistoryRecord } from './types.js';
import { isPlainObject } from '../util/is-plain-object.js';

/**
 * The newest complete record, read backwards from the end (cost independent of the file's length),
 * or undefined when there is none. A torn last line is passed over, as readers do; nothing is
 * verified here (verifyHistory does that).
 */
export async function readLastRecord(file: string): Promise<HistoryRecord | undefined> {
  const size = await settledSize(file);
  const fh = await open(file, 'r');
  try {
    let end = size;
    // At most two lines back: the last complete one, after perhaps one torn tail.
    for (let tries = 0; tries < 2 && end > 0; tries++) {
      const last = (await readRange(fh, end - 1, end))[0];
      const terminated = last === 0x0a;
      const lineEnd = terminated ? end - 1 : end;
      const start = await lineStartBefore(fh, lineEnd);
      if (start < 0) return undefined;
      if (terminated) {
        try {
          const value: unknown = JSON.parse((await readRange(fh, start, lineEnd)).toString('utf8'));
          if (isPlainObject(value)) return value as unknown as HistoryRecord;
        } catch {
          // not JSON: a torn tail; look one line further back
        }
      }
      end = start;
    }
    return undefined;
  } finally {
    await fh.close();
  }
}

const BACKWARD_BLOCK = 1024 * 1024;

/**
 * Visits the complete lines of bytes [0, size) whose text contains `marker`, newest first, parsed,
 * until `visit` returns false. Reads backwards in large blocks and parses only the lines that carry
 * the marker, so finding the last few write-ahead records of a long history costs one read of the
 * region after them. A last line without its newline (an append in flight or torn) is skipped; a
 * marked line that is not JSON is skipped too (verify is the integrity check, not this).
 */
export async function scanBackwards(
  file: string,
  size: number,
  marker: string,
  visit: (record: HistoryRecord) => boolean,
  blockBytes = BACKWARD_BLOCK,
): Promise<void> {
  if (size <= 0) return;
  const needle = Buffer.from(marker, 'utf8');
  const fh = await open(file, 'r');
  try {
    let end = size;
    // The unvisited start of the region already read: the newest part of a line that starts earlier.
    let carry: Buffer = Buffer.alloc(0);
    let lastLinePending = true;
    for (;;) {
      const start = Math.max(0, end - blockBytes);
      const block = carry.length === 0 ? readRange(fh, start, end) : Buffer.concat([readRange(fh, start, end), carry]);
      end = start;
      let lineEnd = block.length;
      if (lastLinePending) {
        // Bytes after the last newline are an append in flight or torn: not a record yet.
        const nl = block.lastIndexOf(0x0a);
        if (nl === -1) {
          if (start === 0) return;
          carry = block;
          continue;
        }
        lastLinePending = false;
        lineEnd = nl;
      }
      // Search for the marker, not for lines: most lines do not carry it, and memchr-style search
      // over the block is far cheaper than visiting every line (a 500 MB history without any: 3 s
      // line by line).
      let searchEnd = lineEnd;
      for (;;) {
        const hit = searchEnd >= needle.length ? block.lastIndexOf(needle, searchEnd - needle.length) : -1;
        const lineStart = hit === -1 ? -1 : block.lastIndexOf(0x0a, hit) + 1;
        if (hit === -1 || (lineStart === 0 && start > 0)) {
          if (start === 0) return;
          // The line the block starts in begins in an earlier block: keep its bytes for the next read.
          const nl = block.indexOf(0x0a);
          carry = nl === -1 || nl >= searchEnd ? block.subarray(0, searchEnd) : block.subarray(0, nl);
          break;
        }
        const nl = block.indexOf(0x0a, hit);
        const line = block.subarray(lineStart, nl === -1 || nl > searchEnd ? searchEnd : nl);
        let value: unknown;
        try {
          value = JSON.parse(line.toString('utf8'));
        } catch {
          value = undefined;
        }
        if (isPlainObject(value) && !visit(value as unknown as HistoryRecord)) return;
        if (lineStart === 0) return;
        searchEnd = lineStart - 1;
      }
    }
  } finally {
    await fh.close();
  }
}
