import { createHash, hash } from 'node:crypto';
import { canonicalJson, canonicalJsonProblem } from '../util/canonical-json.js';
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

// Fixed parts of the writer's canonical layout. Keys sort as actor, hash, kind, manifest_sha256,
// payload, policy_version, prev, seq, ts, v: `hash` is always the second member and
// prev/seq/ts/v always the last four.
const HEAD = Buffer.from('{"actor":"');
const HASH_KEY = Buffer.from('","hash":"');
const KIND_KEY = Buffer.from('","kind":"');
const PREV_KEY = Buffer.from(',"prev":"');
const SEQ_KEY = Buffer.from('","seq":');
const TS_KEY = Buffer.from(',"ts":"');
const V_KEY = Buffer.from('","v":');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

// Plain loops, not Buffer.compare/indexOf/subarray: each native call costs more than the few bytes
// it would look at, and this runs a million times per verify.
export function bytesAt(line: Buffer, at: number, expected: Buffer): boolean {
  if (at < 0 || at + expected.length > line.length) return false;
  for (let i = 0; i < expected.length; i++) if (line[at + i] !== expected[i]) return false;
  return true;
}

function isHex64(line: Buffer, at: number): boolean {
  if (at < 0 || at + 64 > line.length) return false;
  for (let i = at; i < at + 64; i++) {
    const c = line[i] as number;
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;

/** Index of the first `"` at or after `from`, or -1 when a backslash (an escape) or the end comes first. */
function plainStringEnd(line: Buffer, from: number): number {
  for (let i = from; i < line.length; i++) {
    const c = line[i];
    if (c === QUOTE) return i;
    if (c === BACKSLASH) return -1;
  }
  return -1;
}

/** Where the fixed members of a line in the writer's canonical layout are (byte offsets). */
export interface CanonicalLayout {
  /** The actor string's closing quote; the string starts at 10. */
  actorEnd: number;
  /** First hex digit of `hash`. */
  hashAt: number;
  /** The kind string: [kindAt, kindEnd), kindEnd its closing quote. */
  kindAt: number;
  kindEnd: number;
  /** First hex digit of `prev`. */
  prevAt: number;
  /** The seq value (plain digits, no leading zero, at most 15 digits). */
  seq: number;
  /** The ts string: [tsAt, tsEnd), tsEnd its closing quote. */
  tsAt: number;
  tsEnd: number;
}

/**
 * The positions of actor, hash, kind, prev, seq and ts when `line` has the writer's canonical layout
 * exactly: `{"actor":"…","hash":"<64 hex>","kind":"…",` … `,"prev":"<64 hex>","seq":<digits>,"ts":"…","v":<digits>}`
 * with actor, kind and ts free of quotes and backslashes (no escapes to decode). null otherwise,
 * including for any line this cannot be sure of; callers then parse the line.
 */
export function canonicalLayout(line: Buffer): CanonicalLayout | null {
  const len = line.length;
  if (!bytesAt(line, 0, HEAD)) return null;
  const actorEnd = plainStringEnd(line, HEAD.length);
  if (actorEnd === -1 || !bytesAt(line, actorEnd, HASH_KEY)) return null;
  const hashAt = actorEnd + HASH_KEY.length;
  if (!isHex64(line, hashAt) || !bytesAt(line, hashAt + 64, KIND_KEY)) return null;
  const kindAt = hashAt + 64 + KIND_KEY.length;
  const kindEnd = plainStringEnd(line, kindAt);
  if (kindEnd === -1) return null;
  // The tail, read backwards.
  let at = len - 1;
  if (line[at] !== 0x7d /* } */) return null;
  const vEnd = at;
  while (isDigit(line[at - 1])) at--;
  if (at === vEnd) return null;
  if (line[at - 1] === 0x2d /* - */) at--;
  if (!bytesAt(line, at - V_KEY.length, V_KEY)) return null;
  const tsEnd = at - V_KEY.length;
  let tsOpen = tsEnd - 1;
  while (tsOpen > kindEnd && line[tsOpen] !== QUOTE) {
    if (line[tsOpen] === BACKSLASH) return null;
    tsOpen--;
  }
  if (tsOpen <= kindEnd || !bytesAt(line, tsOpen + 1 - TS_KEY.length, TS_KEY)) return null;
  const seqEnd = tsOpen + 1 - TS_KEY.length;
  let seqAt = seqEnd;
  let seq = 0;
  let scale = 1;
  while (isDigit(line[seqAt - 1]) && seqEnd - seqAt < 15) {
    seqAt--;
    seq += ((line[seqAt] as number) - 0x30) * scale;
    scale *= 10;
  }
  // Plain digits, no leading zero, none left unread: then `seq` is exact.
  if (seqAt === seqEnd || line[seqAt] === 0x30 || !bytesAt(line, seqAt - SEQ_KEY.length, SEQ_KEY)) return null;
  const prevAt = seqAt - SEQ_KEY.length - 64;
  if (prevAt - PREV_KEY.length <= kindEnd || !bytesAt(line, prevAt - PREV_KEY.length, PREV_KEY) || !isHex64(line, prevAt)) return null;
  return { actorEnd, hashAt, kindAt, kindEnd, prevAt, seq, tsAt: tsOpen + 1, tsEnd };
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
