/**
 * Byte-level line access to history.jsonl: a streaming reader that knows whether the last line was
 * terminated (readline cannot say), and backwards reads for the tail so an append never reads the
 * whole file. The tail reads are synchronous: they run inside the append's critical section (see
 * lock.ts for why).
 */
import { createReadStream, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
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

/** Bytes per read for whole-file passes: large reads cut the per-call cost on a 1.5 GB history. */
const BATCH_READ_BYTES = 1024 * 1024;
/** Buffers a recycling reader cycles through: one being read ahead, the rest held by the consumer. */
const RING = 4;

export interface BatchOptions {
  readBytes?: number;
  /**
   * Read into a ring of RING buffers instead of a fresh one per read. A batch's lines are then valid
   * only until two further batches have been yielded (the reader reads one ahead): for consumers
   * that finish with (or copy) each line's bytes by then. Without it, a 1.5 GB pass leaves a GB of
   * dead read buffers for the garbage collector, which frees them late: peak RSS went from about 70
   * to 130 MB.
   */
  recycle?: boolean;
}

/** One read's worth of whole lines (see iterateLineChunks). */
export interface LineChunk {
  /** 1-based number of the first line in `parts`. */
  firstLine: number;
  /** Byte offset of that line. */
  start: number;
  /**
   * Newline-terminated lines, in file order: the line that straddled the previous read (a copy),
   * then the whole lines of this read (a view into the read buffer). Empty parts are left out.
   */
  parts: Buffer[];
  /** Last chunk only: the file's last line when it has no newline (an interrupted append). */
  unterminated: Buffer | null;
}

/**
 * Bytes [0, size) cut into whole lines, one chunk per large read, for whole-file passes that split
 * lines themselves (iterateLineBatches; the audit report decodes a chunk as one string). The next
 * read is issued before a chunk is handed out, so reading overlaps the consumer's work. Memory stays
 * bounded by a few read buffers plus MAX_RECORD_BYTES: a line still growing past that across reads
 * is refused. Lines inside one read are not measured here (iterateLineBatches measures each).
 */
export async function* iterateLineChunks(file: string, size: number, opts: BatchOptions = {}): AsyncGenerator<LineChunk> {
  if (size <= 0) return;
  const readBytes = opts.readBytes ?? BATCH_READ_BYTES;
  const ring: Buffer[] = [];
  let turn = 0;
  const handle = await open(file, 'r');
  const readAt = async (pos: number): Promise<{ chunk: Buffer; short: boolean }> => {
    const want = Math.min(readBytes, size - pos);
    let buf: Buffer;
    if (opts.recycle === true) {
      const slot = turn++ % RING;
      buf = ring[slot] ??= Buffer.allocUnsafe(readBytes);
    } else buf = Buffer.allocUnsafe(want);
    let filled = 0;
    while (filled < want) {
      const { bytesRead } = await handle.read(buf, filled, want - filled, pos + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return { chunk: buf.subarray(0, filled), short: filled < want };
  };
  let next: Promise<{ chunk: Buffer; short: boolean }> | null = readAt(0);
  let pos = 0;
  let line = 1;
  let lineStart = 0;
  // The start of a line that straddles reads, copied.
  let carry: Buffer | null = null;
  try {
    while (next !== null) {
      const { chunk, short }: { chunk: Buffer; short: boolean } = await next;
      const chunkStart = pos;
      pos += chunk.length;
      // Read ahead while this chunk is consumed; a short read means the file shrank: stop there.
      next = !short && pos < size ? readAt(pos) : null;
      const firstNl = chunk.indexOf(NL);
      if (firstNl === -1) {
        carry = carry === null ? Buffer.from(chunk) : Buffer.concat([carry, chunk]);
        if (carry.length > MAX_RECORD_BYTES) throw tooLong(file, line);
        continue;
      }
      const lastNl = chunk.lastIndexOf(NL);
      const parts: Buffer[] = [];
      let from = 0;
      if (carry !== null) {
        parts.push(Buffer.concat([carry, chunk.subarray(0, firstNl + 1)]));
        from = firstNl + 1;
        carry = null;
      }
      if (from <= lastNl) parts.push(chunk.subarray(from, lastNl + 1));
      let lines = 0;
      for (const part of parts) for (let nl = part.indexOf(NL); nl !== -1; nl = part.indexOf(NL, nl + 1)) lines++;
      yield { firstLine: line, start: lineStart, parts, unterminated: null };
      line += lines;
      lineStart = chunkStart + lastNl + 1;
      if (lastNl + 1 < chunk.length) {
        carry = Buffer.from(chunk.subarray(lastNl + 1));
        if (carry.length > MAX_RECORD_BYTES) throw tooLong(file, line);
      }
    }
  } finally {
    // A read still in flight must finish before its descriptor is closed.
    await next?.catch(() => undefined);
    await handle.close();
  }
  if (carry !== null) yield { firstLine: line, start: lineStart, parts: [], unterminated: carry };
}

/**
 * The lines of bytes [0, size) in batches, one batch per large read: what whole-file passes (verify,
 * audit) use, so a million lines cost a few thousand awaits instead of a million. Lines are views
 * into the read buffer (no copy) except one straddling two reads, which is copied. Same lines,
 * numbers and `terminated` as iterateLines; any line longer than MAX_RECORD_BYTES is refused
 * (iterateLines notices one only where a chunk boundary falls inside it).
 */
export async function* iterateLineBatches(file: string, size: number, opts: BatchOptions = {}): AsyncGenerator<RawLine[]> {
  for await (const chunk of iterateLineChunks(file, size, opts)) {
    let line = chunk.firstLine;
    let start = chunk.start;
    if (chunk.unterminated !== null) {
      if (chunk.unterminated.length > MAX_RECORD_BYTES) throw tooLong(file, line);
      yield [{ line, start, bytes: chunk.unterminated, terminated: false }];
      continue;
    }
    const batch: RawLine[] = [];
    for (const part of chunk.parts) {
      let from = 0;
      for (let nl = part.indexOf(NL); nl !== -1; nl = part.indexOf(NL, nl + 1)) {
        if (nl - from > MAX_RECORD_BYTES) throw tooLong(file, line);
        batch.push({ line, start, bytes: part.subarray(from, nl), terminated: true });
        line++;
        start += nl + 1 - from;
        from = nl + 1;
      }
    }
    if (batch.length > 0) yield batch;
  }
}

function tooLong(file: string, line: number): HistoryIntegrityError {
  return new HistoryIntegrityError(`${file}:${line}: line longer than ${MAX_RECORD_BYTES} bytes`);
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
