import { createHash } from 'node:crypto';
import { canonicalJson } from '../util/canonical-json.js';
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
 * null when that member cannot be located. The writer writes canonical JSON, so for every line it
 * wrote these bytes ARE the canonical JSON of the record without `hash`, and this equals recordHash
 * while skipping both re-serialisation and a UTF-8 round trip: it is what lets verify walk a
 * million records in seconds. Callers fall back to recordHash when this does not match, so a line
 * re-serialised non-canonically (keys reordered, spaces) still verifies on its content. The one
 * line this accepts that recordHash alone would not is a forged line whose hash was computed over
 * non-canonical bytes; a forger able to do that can as easily write canonical bytes, so the chain's
 * evidence is the same either way.
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
 * Whether a record read from `line` matches its hash: the fast path over the line's bytes, then the
 * canonical re-serialisation. Content canonical JSON cannot express (1e999 parses to Infinity) is not
 * intact.
 */
export function recordIntact(line: Buffer, record: HistoryRecord): boolean {
  if (recordHashFromLine(line, record) === record.hash) return true;
  try {
    return recordHash(record) === record.hash;
  } catch {
    return false;
  }
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

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
