import { open } from 'node:fs/promises';
import { isPlainObject } from './chain.js';
import { lineStartBefore, readRange } from './lines.js';
import { settledSize } from './settled.js';
import type { HistoryRecord } from './types.js';

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
