import { createHash, hash } from 'node:crypto';
import { canonicalJson, canonicalJsonProblem } from '../util/canonical-json.js';
import { canonicalLayout } from './layout.js';
import type { LineChunk } from './lines.js';
import type { HistoryRecord } from './types.js';

/**
 * `prev` of the first record: 64 zeros, the width of a sha256 hex digest, so the first record is
 * hashed exactly like every other one.
 */
export const GENESIS_PREV = '0'.repeat(64);

/** Longest line the ledger writes or reads; a status record is about 1-2 KB. */
export const MAX_RECORD_BYTES = 1024 * 1024;

const HEX64 = /^[0-9a-f]{64}$/;

export { canonicalLayout, type CanonicalLayout } from './layout.js';

/** sha256 hex of (prev + canonical JSON of the record without `hash`). */
export function recordHash(record: Omit<HistoryRecord, 'hash'> & { hash?: string }): string {
  const { hash: _hash, ...rest } = record;
  return createHash('sha256').update(rest.prev).update(canonicalJsonFast(rest)).digest('hex');
}

/**
 * canonicalJson, fast for values already in canonical key order. Every record parsed back from the
 * ledger is (the writer wrote canonical JSON), and for such a value JSON.stringify (native, about 5x
 * faster) emits exactly the canonical bytes: JSON.stringify follows own-key order, and canonical JSON
 * is that same serialisation with keys sorted by code unit. Anything else, including integer-like keys
 * (which JavaScript enumerates numerically) and non-finite numbers, takes the reference path.
 * Verifying a million records depends on this.
 */
export function canonicalJsonFast(value: unknown): string {
  return inCanonicalOrder(value) ? JSON.stringify(value) : canonicalJson(value);
}

function inCanonicalOrder(value: unknown): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (Array.isArray(value)) {
        for (const item of value) if (item === undefined || !inCanonicalOrder(item)) return false;
        return true;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype || typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
      const obj = value as Record<string, unknown>;
      let previous: string | null = null;
      for (const key in obj) {
        if (previous !== null && !(previous < key)) return false;
        const v = obj[key];
        if (v === undefined || !inCanonicalOrder(v)) return false;
        previous = key;
      }
      return true;
    }
    default:
      return false;
  }
}

/**
 * The record hash computed over the line's own bytes with the top-level `hash` member cut out, or
 * null when that member cannot be located. For a line that is the canonical JSON of its record
 * (the only lines verify accepts; see recordIntact), these bytes ARE the canonical JSON of the record
 * without `hash`, so this equals recordHash while skipping both re-serialisation and a UTF-8 round
 * trip: it is what lets verify walk a million records in seconds.
 */
export function recordHashFromLine(line: Buffer, record: Pick<HistoryRecord, 'prev' | 'hash'>): string | null {
  const member = `"hash":"${record.hash}"`;
  const at = line.indexOf(member);
  if (at < 1) return null;
  const end = at + member.length;
  const before = line[at - 1];
  const after = line[end];
  let cutFrom: number;
  let cutTo: number;
  if (before === 0x2c /* , */ && (after === 0x2c || after === 0x7d /* } */)) {
    cutFrom = at - 1;
    cutTo = end;
  } else if (before === 0x7b /* { */ && after === 0x2c) {
    cutFrom = at;
    cutTo = end + 1;
  } else {
    return null;
  }
  return createHash('sha256').update(record.prev).update(line.subarray(0, cutFrom)).update(line.subarray(cutTo)).digest('hex');
}

/**
 * Whether the record read from `line` matches its hash: over the line's bytes, else (when the
 * `hash` member is not where the fast way looks for it) by canonical re-serialisation. Content
 * canonical JSON cannot express (1e999 parses to Infinity) does not match. Says nothing about the
 * line's form: recordIntact is the whole check.
 */
export function recordHashMatches(line: Buffer, record: HistoryRecord): boolean {
  if (recordHashFromLine(line, record) === record.hash) return true;
  try {
    return recordHash(record) === record.hash;
  } catch {
    return false;
  }
}

/**
 * Whether `line` is exactly the canonical JSON of `record` (parsed from it) and that record matches
 * its hash. The first half matters as much as the second: a line with a member given twice, e.g.
 * `{"actor":"forged","actor":"<original>",…}`, parses (last wins) to the original record, whose hash
 * matches, while a first-wins reader sees the forged value. Only canonical bytes mean one thing to
 * every reader.
 */
export function recordIntact(line: Buffer, record: HistoryRecord): boolean {
  return canonicalJsonProblem(line) === null && recordHashMatches(line, record);
}

/** Anchor for the first hashed record after records written before hashing existed. */
export function legacyAnchor(lineBytes: Buffer): string {
  return createHash('sha256').update(lineBytes).digest('hex');
}

/** A record written before the chain existed: a JSON object without a string `hash`. */
export function isLegacyRecord(value: Record<string, unknown>): boolean {
  return typeof value.hash !== 'string';
}

/** Why a parsed object with a `hash` is not a well-formed chained record, or null when it is. */
export function recordShapeProblem(value: Record<string, unknown>): string | null {
  if (!Number.isInteger(value.v)) return 'v is not an integer';
  if (!Number.isInteger(value.seq) || (value.seq as number) < 1) return 'seq is not a positive integer';
  if (typeof value.ts !== 'string') return 'ts is not a string';
  if (typeof value.kind !== 'string') return 'kind is not a string';
  if (typeof value.prev !== 'string' || !HEX64.test(value.prev)) return 'prev is not a sha256 hex digest';
  if (typeof value.hash !== 'string' || !HEX64.test(value.hash)) return 'hash is not a sha256 hex digest';
  return null;
}

/** Reused by chainedLineHash: prev and the line without its hash member, hashed in one call. */
let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * The hash of a line the writer wrote, if it continues the chain: the verify fast path, with no
 * JSON.parse. It returns the record's hash only when the line has the canonical layout exactly
 * (canonicalLayout), seq equals `expectSeq`, prev equals `expectPrev`, and
 * sha256(prev + the line without its `hash` member) equals the hash, i.e. what recordHashFromLine
 * computes after a full parse. Anything else returns null and the caller takes the full path
 * (parse, shape check, canonical re-serialisation), which names the problem.
 *
 * What this does not do is check the rest of the line (that it is JSON, and canonical JSON). It need
 * not: a line passes only if its bytes hash to the value the next record chains to (or, for the last
 * line, the head the caller reports), so a line passing here has exactly the bytes its hash was
 * computed over, and the writer computes hashes over canonical JSON only. Bytes of any other form can
 * pass only where someone computed the hashes themselves, from that line to the end of the file: a
 * rewritten suffix, which no check of the file alone can tell from the original and which changes
 * the head (compare it with a copy kept elsewhere). Checking the form here as well would cost more
 * than the hash (canonicalJsonProblem: two to three times this function's time on the bench's status records) for no evidence the hash does
 * not already give. Every line that does not pass here is checked in full, form included.
 */
export function chainedLineHash(line: Buffer, expectSeq: number, expectPrev: string): string | null {
  const layout = canonicalLayout(line);
  if (layout === null || layout.seq !== expectSeq) return null;
  const { actorEnd, hashAt, prevAt } = layout;
  for (let i = 0; i < 64; i++) if (line[prevAt + i] !== expectPrev.charCodeAt(i)) return null;
  // Cut `,"hash":"<64 hex>"` exactly as recordHashFromLine does for the canonical layout.
  const cutFrom = actorEnd + 1;
  const cutTo = hashAt + 65;
  const total = 64 + line.length - (cutTo - cutFrom);
  if (scratch.length < total) scratch = Buffer.allocUnsafe(Math.max(total, scratch.length * 2));
  if (scratch.write(expectPrev, 0, 64, 'latin1') !== 64) return null;
  line.copy(scratch, 64, 0, cutFrom);
  line.copy(scratch, 64 + cutFrom, cutTo, line.length);
  const digest = hash('sha256', scratch.subarray(0, total), 'hex');
  for (let i = 0; i < 64; i++) if (line[hashAt + i] !== digest.charCodeAt(i)) return null;
  return digest;
}

/**
 * The chain walked line by line on the fast path (chainedLineHash): the walk verifyHistoryRange
 * makes, and the one a pass that reads the ledger for other reasons makes on the way (record-stream.ts,
 * parallel-read.ts). A line it does not accept leaves it unchanged; only verifyHistoryRange's full
 * path may then say why.
 */
export class ChainRun {
  /** Records counted as verified (the full path also counts those it accepts). */
  records = 0;
  /** Hash of the last accepted record. */
  head: string | null = null;
  /** What the next record must carry. */
  expectSeq = 1;
  expectPrev = GENESIS_PREV;

  /** Takes `line` (without its newline) when it continues the chain on the fast path. */
  accept(line: Buffer): boolean {
    const digest = chainedLineHash(line, this.expectSeq, this.expectPrev);
    if (digest === null) return false;
    this.advance(digest);
    return true;
  }

  /** The record with hash `digest` was found to continue the chain. */
  advance(digest: string): void {
    this.records++;
    this.head = digest;
    this.expectSeq++;
    this.expectPrev = digest;
  }

  /**
   * Every line of a chunk in order, while each is accepted. false at the first that is not (or a
   * torn last line, or a line longer than the ledger writes, which verifyHistoryRange refuses).
   */
  acceptChunk(chunk: LineChunk): boolean {
    if (chunk.unterminated !== null) return false;
    for (const part of chunk.parts) {
      let from = 0;
      for (let nl = part.indexOf(0x0a); nl !== -1; nl = part.indexOf(0x0a, nl + 1)) {
        if (nl - from > MAX_RECORD_BYTES || !this.accept(part.subarray(from, nl))) return false;
        from = nl + 1;
      }
    }
    return true;
  }
}
