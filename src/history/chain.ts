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
