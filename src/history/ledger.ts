/**
 * history.jsonl: the append-only, hash-chained ledger every command records through. This module is
 * its only writer.
 *
 * Format: one record per line, each line the canonical JSON of the record (keys sorted), `\n`-ended.
 * Chain: `hash = sha256hex(prev + canonicalJson(record without hash))`; `prev` is the previous
 * record's hash, GENESIS_PREV (64 zeros) for the first. A history that starts with records written
 * before hashing existed continues with `prev = sha256hex(bytes of the last such line)` and seq = its
 * line number + 1.
 */
import { closeSync, constants as fsc, fstatSync, fsync, ftruncateSync, openSync, readlinkSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { dirname } from 'node:path';
import { HistoryIntegrityError, HistoryUnwritable, UsageError } from '../errors.js';
import { canonicalJson, duplicateMember } from '../util/canonical-json.js';
import { fsyncDirectorySync } from '../util/fsync-directory.js';
import { isPlainObject } from '../util/is-plain-object.js';
import {
  GENESIS_PREV,
  MAX_RECORD_BYTES,
  isLegacyRecord,
  legacyAnchor,
  recordHash,
  recordIntact,
  recordShapeProblem,
} from './chain.js';
import { iterateLines, lineNumberAt, lineStartBefore, readRange, type RawLine } from './lines.js';
import { withFileLock } from './lock.js';
import { lockPathFor, settledSize } from './settled.js';
import { HISTORY_VERSION, type HistoryRecord, type RecordInput, type Recorder } from './types.js';

export { GENESIS_PREV } from './chain.js';
export { verifyHistory } from './verify.js';
export { lockPathFor } from './settled.js';

export type Warn = (message: string) => void;

export interface LedgerOptions {
  /** Where warnings go; default stderr, each distinct message once per process. */
  warn?: Warn;
  /** Clock for `ts`; injectable for tests. */
  now?: () => Date;
  /** How long an append waits for another writer. Default 10 s, then LockHeld (exit 5). */
  lockTimeoutMs?: number;
}

const printed = new Set<string>();
const stderrOnce: Warn = (message) => {
  if (printed.has(message)) return;
  printed.add(message);
  process.stderr.write(`warning: ${message}\n`);
};

export const tornWarning = (file: string): string => `skipped 1 incomplete trailing record in ${file}`;

/**
 * Appends one record and returns it as written.
 *
 * What an append verifies: the last complete line parses, is a record, and its hash matches its
 * content (so the new record never chains onto an edited head). It does not re-walk the chain: that
 * would read the whole file on every status tick. `verifyHistory` is the full check.
 */
export async function appendRecord(file: string, input: RecordInput, opts: LedgerOptions = {}): Promise<HistoryRecord> {
  validateInput(input);
  try {
    return await appendValidated(file, input, opts);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && UNWRITABLE_CODES.has(code)) {
      throw new HistoryUnwritable(`cannot append to ${file}: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
}

/** errno codes that mean "the host will not let us write here", as opposed to a bug or a corrupt file. */
const UNWRITABLE_CODES = new Set(['EROFS', 'ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EIO', 'EFBIG', 'ENOENT', 'ENOTDIR']);

async function appendValidated(file: string, input: RecordInput, opts: LedgerOptions): Promise<HistoryRecord> {
  const warn = opts.warn ?? stderrOnce;
  const now = opts.now ?? (() => new Date());
  const lockOpts = { purpose: `append ${input.kind} record`, ...(opts.lockTimeoutMs !== undefined ? { timeoutMs: opts.lockTimeoutMs } : {}) };
  return withFileLock(
    lockPathFor(file),
    async () => {
      const { fd, created } = openForAppend(file);
      try {
        const tail = await readTail(fd, file);
        const base = tail.last ? await continuation(file, tail.last) : { seq: 1, prev: GENESIS_PREV };
        const unsigned: Omit<HistoryRecord, 'hash'> = {
          v: HISTORY_VERSION,
          seq: base.seq,
          ts: now().toISOString(),
          kind: input.kind,
          actor: input.actor,
          policy_version: input.policy_version,
          manifest_sha256: input.manifest_sha256,
          payload: input.payload,
          prev: base.prev,
        };
        const record: HistoryRecord = { ...unsigned, hash: recordHash(unsigned) };
        const bytes = Buffer.from(`${canonicalJson(record)}\n`, 'utf8');
        if (bytes.length > MAX_RECORD_BYTES) {
          throw new RangeError(`history record of ${bytes.length} bytes exceeds ${MAX_RECORD_BYTES}`);
        }
        if (tail.truncateTo !== null) {
          // Only an unacknowledged append can leave a torn tail: its writer never returned success.
          warn(tornWarning(file));
          ftruncateSync(fd, tail.truncateTo);
        }
        await writeDurably(fd, bytes, tail.truncateTo ?? tail.size);
        // A new file's directory entry is metadata of the directory, not of the file.
        if (created) fsyncDirectorySync(dirname(file));
        return record;
      } finally {
        closeSync(fd);
      }
    },
    lockOpts,
  );
}

/**
 * DURABILITY: the record is one write(2) of the whole line on an O_APPEND descriptor, followed by
 * fsync(2) before this returns (and, for a new file, fsync of its directory). A caller that got a
 * record back has it on stable storage: it survives a process crash, a kernel panic and a power cut
 * on a disk that honours flush. A crash before fsync returns may leave the line missing or torn (no
 * newline, or garbage); the next append truncates exactly that torn line and says so, and readers
 * skip it. Concurrent writers are serialised by the lock, so lines never interleave.
 */
const fsyncAsync = promisify(fsync);

async function writeDurably(fd: number, bytes: Buffer, sizeBefore: number): Promise<void> {
  try {
    const written = writeSync(fd, bytes, 0, bytes.length);
    if (written !== bytes.length) throw new Error(`short write: ${written} of ${bytes.length} bytes`);
    // The one slow call stays off the event loop so a dashboard keeps drawing meanwhile.
    await fsyncAsync(fd);
  } catch (err) {
    // Leave no partial line behind (e.g. ENOSPC mid-write); the record was not appended.
    try {
      ftruncateSync(fd, sizeBefore);
    } catch {
      // The original error is the one to report.
    }
    throw err;
  }
}

/**
 * Metadata calls inside the critical section are synchronous: see lock.ts.
 *
 * The ledger is written in place, so the descriptor must be the ledger and nothing else: callers pass
 * the path resolved by resolveProjectPath (no symlink left), O_NOFOLLOW keeps a symlink swapped in
 * since from redirecting the append, and a file with a second name (hard link) is refused, since the
 * append would change that name's contents too.
 */
function openForAppend(file: string): { fd: number; created: boolean } {
  const flags = fsc.O_RDWR | fsc.O_APPEND | fsc.O_NOFOLLOW;
  let opened: { fd: number; created: boolean };
  try {
    try {
      opened = { fd: openSync(file, flags | fsc.O_CREAT | fsc.O_EXCL, 0o644), created: true };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      opened = { fd: openSync(file, flags), created: false };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new UsageError(`${file} is a symlink (to ${readlinkQuietly(file)}); refusing to append history through it`);
    }
    throw err;
  }
  const { nlink } = fstatSync(opened.fd);
  if (nlink > 1) {
    closeSync(opened.fd);
    throw new UsageError(`${file} has ${nlink} names (hard links); an append would change every one of them, so it is refused`);
  }
  return opened;
}

function readlinkQuietly(file: string): string {
  try {
    return readlinkSync(file);
  } catch {
    return 'somewhere unreadable';
  }
}

interface LastLine {
  start: number;
  bytes: Buffer;
  value: Record<string, unknown>;
}

interface Tail {
  size: number;
  last: LastLine | null;
  /** Where to cut a torn last line off, or null when the file ends cleanly. */
  truncateTo: number | null;
}

/**
 * Finds the last complete record by reading backwards from the end. At most one torn line (no
 * newline, or not JSON) is accepted as an interrupted append; a second bad line is corruption.
 */
async function readTail(fd: number, file: string): Promise<Tail> {
  const { size } = fstatSync(fd);
  if (size === 0) return { size, last: null, truncateTo: null };
  const lastByte = readRange(fd, size - 1, size);
  let torn = false;
  let end = size;
  if (lastByte[0] !== 0x0a) {
    end = lineStartBefore(fd, size);
    if (end < 0) throw new HistoryIntegrityError(`${file}: last line is longer than ${MAX_RECORD_BYTES} bytes`);
    torn = true;
  }
  while (end > 0) {
    const start = lineStartBefore(fd, end - 1);
    if (start < 0) throw new HistoryIntegrityError(`${file}: a line near the end is longer than ${MAX_RECORD_BYTES} bytes`);
    const bytes = readRange(fd, start, end - 1);
    let value: unknown;
    let parsed = true;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch {
      parsed = false;
    }
    if (parsed) {
      if (!isPlainObject(value)) {
        throw new HistoryIntegrityError(`${file}:${await lineNumberAt(file, start)}: not a history record (invalid record)`);
      }
      return { size, last: { start, bytes, value }, truncateTo: torn ? end : null };
    }
    if (torn) {
      throw new HistoryIntegrityError(`${file}:${await lineNumberAt(file, start)}: invalid JSON before the last line`);
    }
    torn = true;
    end = start;
  }
  return { size, last: null, truncateTo: 0 };
}

/** seq and prev for the record after `last`, refusing to chain onto a record that is not intact. */
async function continuation(file: string, last: LastLine): Promise<{ seq: number; prev: string }> {
  if (isLegacyRecord(last.value)) {
    // Legacy lines count as seq 1..n, so the chain's seq keeps matching line numbers.
    return { seq: (await lineNumberAt(file, last.start)) + 1, prev: legacyAnchor(last.bytes) };
  }
  const problem = recordShapeProblem(last.value);
  if (problem !== null) {
    throw new HistoryIntegrityError(`${file}:${await lineNumberAt(file, last.start)}: invalid record: ${problem}`);
  }
  const record = last.value as unknown as HistoryRecord;
  // Its bytes too: a member given twice can hide an edit from the hash (see recordIntact).
  if (!recordIntact(last.bytes, record)) {
    throw new HistoryIntegrityError(
      `${file}:${await lineNumberAt(file, last.start)}: the last record is not exactly as written (edited, or not its canonical JSON); run \`swiftdeploy audit verify\``,
    );
  }
  return { seq: record.seq + 1, prev: record.hash };
}

function validateInput(input: RecordInput): void {
  if (input.kind !== 'status' && input.kind !== 'event') throw new TypeError(`history: kind must be "status" or "event", got ${String(input.kind)}`);
  if (typeof input.actor !== 'string' || input.actor === '') throw new TypeError('history: actor must be a non-empty string');
  for (const key of ['policy_version', 'manifest_sha256'] as const) {
    const v = input[key];
    if (v !== null && typeof v !== 'string') throw new TypeError(`history: ${key} must be a string or null`);
  }
  if (!isPlainObject(input.payload)) throw new TypeError('history: payload must be an object');
  // Fails now, before the lock and the file are touched, on values JSON cannot carry (NaN, Infinity)
  // and on records too large to write (seq, ts, prev and hash add under 300 bytes).
  const size = Buffer.byteLength(canonicalJson(input), 'utf8') + 300;
  if (size > MAX_RECORD_BYTES) throw new RangeError(`history record of about ${size} bytes exceeds ${MAX_RECORD_BYTES}`);
}

export interface ReadOptions {
  warn?: Warn;
}

export interface ReadItem {
  line: number;
  record: HistoryRecord;
  /** true for a record written before hashing existed: it has no seq/prev/hash to trust. */
  legacy: boolean;
  /** The line's bytes without its newline: `recordIntact(bytes, record)` checks the hash without re-serialising. */
  bytes: Buffer;
}

/**
 * The readers' rule, one line at a time, for every whole-file reader (readRecords, the audit
 * report's exact pass): a torn last line is skipped with the same warning an append gives; invalid
 * JSON or a non-record before the last line throws HistoryIntegrityError naming the line. A line
 * that gives a member name twice in one object is skipped, and `onAmbiguous` (default: a warning)
 * names it: JSON readers disagree on such a record (JSON.parse keeps the last value, others the
 * first), so no reader here picks one. `audit verify` refuses the same lines.
 */
export class RecordLines {
  // A line that is not JSON: corruption if another line follows, a torn append if it is the last.
  private pendingBad: number | null = null;
  private readonly onAmbiguous: (line: number, why: string) => void;
  constructor(
    private readonly file: string,
    private readonly warn: (message: string) => void,
    onAmbiguous?: (line: number, why: string) => void,
  ) {
    this.onAmbiguous = onAmbiguous ?? ((line, why) => warn(`${file}:${line}: ${why}: skipped (JSON readers disagree on this record)`));
  }

  /** The record on this line, or undefined when it has none (a torn last line, one that is bad unless it is the last, an ambiguous one). */
  parse(raw: RawLine): Record<string, unknown> | undefined {
    if (this.pendingBad !== null) throw new HistoryIntegrityError(`${this.file}:${this.pendingBad}: invalid JSON`);
    if (!raw.terminated) {
      // Only the last line can lack its newline.
      this.warn(tornWarning(this.file));
      return undefined;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw.bytes.toString('utf8'));
    } catch {
      this.pendingBad = raw.line;
      return undefined;
    }
    if (!isPlainObject(value)) throw new HistoryIntegrityError(`${this.file}:${raw.line}: not a history record`);
    const twice = duplicateMember(raw.bytes);
    if (twice !== null) {
      this.onAmbiguous(raw.line, twice.why);
      return undefined;
    }
    return value;
  }

  /** After the last line. */
  end(): void {
    if (this.pendingBad !== null) this.warn(tornWarning(this.file));
  }
}

/**
 * Streams the records in constant memory. It never modifies the file: lines are judged by
 * RecordLines (so a line with a member name given twice is skipped with a warning). It does not
 * check hashes (verifyHistory does).
 */
export async function* readRecords(file: string, opts: ReadOptions = {}): AsyncGenerator<ReadItem> {
  const size = await settledSize(file);
  const lines = new RecordLines(file, opts.warn ?? stderrOnce);
  for await (const raw of iterateLines(file, size)) {
    const value = lines.parse(raw);
    if (value !== undefined) yield { line: raw.line, record: value as unknown as HistoryRecord, legacy: isLegacyRecord(value), bytes: raw.bytes };
  }
  lines.end();
}

/** The Recorder every command writes history through. */
export function createRecorder(file: string, opts: LedgerOptions = {}): Recorder {
  return { append: (input) => appendRecord(file, input, opts) };
}
