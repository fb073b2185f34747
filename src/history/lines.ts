/**
 * Byte-level line access to history.jsonl: a streaming reader that knows whether the last line was
 * terminated (readline cannot say), and backwards reads for the tail so an append never reads the
 * whole file. The tail reads are synchronous: they run inside the append's critical section (see
 * lock.ts for why).
 */
import { createReadStream, readSync } from 'node:fs';
import { HistoryIntegrityError } from '../errors.js';
import { MAX_RECORD_BYTES } from './chain.js';

const NL = 0x0a;
const FIRST_BACKWARD_CHUNK = 4 * 1024;
const MAX_BACKWARD_CHUNK = 64 * 1024;

export interface RawLine {
  /** 1-based line number. */
  line: number;
  /** Byte offset of the line's first byte. */
  start: number;
  /** The line without its newline. */
  bytes: Buffer;
  /** false only for a last line with no trailing newline. */
  terminated: boolean;
}

/** Streams the lines of bytes [0, size) of a file in constant memory (bounded by MAX_RECORD_BYTES). */
export async function* iterateLines(file: string, size: number): AsyncGenerator<RawLine> {
  if (size <= 0) return;
  const stream = createReadStream(file, { start: 0, end: size - 1, highWaterMark: 256 * 1024 });
  let carry: Buffer[] = [];
  let carryLength = 0;
  let line = 1;
  let offset = 0;
  let lineStart = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let from = 0;
      for (;;) {
        const nl = chunk.indexOf(NL, from);
        if (nl === -1) break;
        const piece = chunk.subarray(from, nl);
        const bytes = carryLength === 0 ? piece : Buffer.concat([...carry, piece]);
        carry = [];
        carryLength = 0;
        yield { line, start: lineStart, bytes, terminated: true };
        line++;
        lineStart = offset + nl + 1;
        from = nl + 1;
      }
      if (from < chunk.length) {
        carryLength += chunk.length - from;
        if (carryLength > MAX_RECORD_BYTES) {
          throw new HistoryIntegrityError(`${file}:${line}: line longer than ${MAX_RECORD_BYTES} bytes`);
        }
        // Copy: the stream may reuse nothing, but a subarray would pin the whole 256 KiB chunk.
        carry.push(Buffer.from(chunk.subarray(from)));
      }
      offset += chunk.length;
    }
  } finally {
    stream.destroy();
  }
  if (carryLength > 0) yield { line, start: lineStart, bytes: Buffer.concat(carry), terminated: false };
}

/**
 * Offset just after the last newline strictly before `end`, or 0: where the line containing end-1
 * starts; -1 past MAX_RECORD_BYTES. `file` is a descriptor or a FileHandle (src/history/tail.ts).
 */
export function lineStartBefore(file: number | { fd: number }, end: number): number {
  const fd = typeof file === 'number' ? file : file.fd;
  let pos = end;
  // Start small: a record is about 1 KB, and copying 64 KiB per append showed up in its CPU time.
  let chunk = FIRST_BACKWARD_CHUNK;
  let buf = Buffer.allocUnsafe(chunk);
  while (pos > 0) {
    const from = Math.max(0, pos - chunk);
    const bytesRead = readSync(fd, buf, 0, pos - from, from);
    const idx = buf.subarray(0, bytesRead).lastIndexOf(NL);
    if (idx !== -1) return from + idx + 1;
    pos = from;
    // A line this long was not written by the ledger; stop reading backwards through it.
    if (end - pos > MAX_RECORD_BYTES) return -1;
    if (chunk < MAX_BACKWARD_CHUNK) buf = Buffer.allocUnsafe((chunk *= 4));
  }
  return 0;
}

export function readRange(file: number | { fd: number }, start: number, end: number): Buffer {
  const fd = typeof file === 'number' ? file : file.fd;
  const buf = Buffer.alloc(end - start);
  let done = 0;
  while (done < buf.length) {
    const bytesRead = readSync(fd, buf, done, buf.length - done, start + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}

/** 1-based number of the line starting at byte `offset` (streams [0, offset); error paths only). */
export async function lineNumberAt(file: string, offset: number): Promise<number> {
  if (offset <= 0) return 1;
  let count = 1;
  const stream = createReadStream(file, { start: 0, end: offset - 1 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(NL); i !== -1; i = chunk.indexOf(NL, i + 1)) count++;
  }
  return count;
}
