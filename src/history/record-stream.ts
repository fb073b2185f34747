/**
 * Whole-file passes over history.jsonl that hand each record to a consumer (the audit report), in
 * large batches with no await per record. What it accepts and refuses is the ledger's rule for
 * readers, shared with `readRecords` (RecordLines: a torn last line is skipped with the ledger's
 * warning; invalid JSON before the last line, or a line that is not an object, throws
 * HistoryIntegrityError naming the line; a line giving a member name twice is skipped and named,
 * as `audit verify` refuses it).
 *
 * `trustLayout` is the fast mode, for a pass that stands only if the chain is intact and is redone
 * without it otherwise (read-verified.ts). Reads are decoded in pieces of whole lines,
 * and a line in the writer's canonical layout is not parsed whole: actor, kind, policy_version and
 * ts (all a reader of the fast pass gets besides the payload) are taken from their fixed places, and only the
 * payload is parsed. Anything it is unsure of is parsed whole; anything it cannot read (invalid
 * JSON, a torn tail) makes it throw NotTrusted, and the caller takes the exact pass. streamTrustedVerified
 * walks the chain on the way (ChainRun, the verifier's fast path); the same pass on two threads is
 * in parallel-read.ts.
 */
import { ChainRun } from './chain.js';
import { locateLayout, type Layout } from './layout.js';
import { RecordLines } from './ledger.js';
import { iterateLineBatches, iterateLineChunks, type LineChunk } from './lines.js';
import type { VerifyResult } from './types.js';
import { duplicateMember } from '../util/canonical-json.js';
import { isPlainObject } from '../util/is-plain-object.js';

/** Where a pass hands records: in file order, `line` 1-based. */
export type OnRecord = (line: number, record: Record<string, unknown>) => void;

export interface StreamOptions {
  trustLayout?: boolean;
  /**
   * Exact pass: a line skipped because it gives a member name twice (RecordLines), so the report can
   * say so. Default: the `warn` callback.
   */
  onAmbiguous?: (line: number, why: string) => void;
}

/** Streams bytes [0, size) of `file` into `onRecord`, in file order. */
export async function streamHistory(
  file: string,
  size: number,
  onRecord: OnRecord,
  warn: (message: string) => void,
  opts: StreamOptions = {},
): Promise<void> {
  if (opts.trustLayout === true) return streamTrusted(file, size, onRecord);
  const lines = new RecordLines(file, warn, opts.onAmbiguous);
  // Lines are used before the next read: the recycled buffers are safe here.
  for await (const batch of iterateLineBatches(file, size, { recycle: true })) {
    for (const raw of batch) {
      const value = lines.parse(raw);
      if (value !== undefined) onRecord(raw.line, value);
    }
  }
  lines.end();
}

/** Whether the JSON text[from, to) gives a member name twice in one object (see duplicateMember). */
export function hasDuplicateMember(text: string, from: number, to: number): boolean {
  return duplicateMember(Buffer.from(text.slice(from, to), 'utf8')) !== null;
}

const NL = 0x0a;
const DECODE_BYTES = 48 * 1024;

/** Thrown by the fast pass for anything the exact pass must look at. */
export class NotTrusted extends Error {}

async function streamTrusted(file: string, size: number, onRecord: OnRecord): Promise<void> {
  // Each chunk is decoded before the next read: the recycled buffers are safe here.
  for await (const chunk of iterateLineChunks(file, size, { recycle: true })) forEachTrustedRecord(file, chunk, onRecord);
}

/**
 * The fast pass (`trustLayout`) over bytes [0, size), walking the chain on the same reads. Returns
 * what verifyHistoryRange(file, size) returns when every line is on the chain's fast path (then that
 * is exactly its result), else null: the caller must run the full check. Throws NotTrusted where
 * the fast pass does.
 */
export async function streamTrustedVerified(file: string, size: number, onRecord: OnRecord): Promise<VerifyResult | null> {
  const chain = new ChainRun();
  let onPath = true;
  for await (const chunk of iterateLineChunks(file, size, { recycle: true })) {
    if (onPath) onPath = chain.acceptChunk(chunk);
    forEachTrustedRecord(file, chunk, onRecord);
  }
  return onPath ? { ok: true, records: chain.records, head: chain.head } : null;
}

/**
 * The records of one chunk for the fast pass, in order: lines in the writer's layout read as far as
 * the report reads them, others parsed whole. Throws NotTrusted for a torn tail or a line that is
 * not a JSON object (the exact pass then names it).
 */
export function forEachTrustedRecord(file: string, chunk: LineChunk, onRecord: OnRecord): void {
  forEachLine(file, chunk, (text, from, to, line) => {
    let value: unknown = fromLayout(text, from, to);
    if (value === null) {
      try {
        value = JSON.parse(text.slice(from, to));
      } catch {
        throw new NotTrusted(`${file}:${line}: invalid JSON`);
      }
      if (!isPlainObject(value)) throw new NotTrusted(`${file}:${line}: not a history record`);
      // Not in the writer's layout, so nothing vouches for its bytes: the exact pass decides about a member given twice.
      if (hasDuplicateMember(text, from, to)) throw new NotTrusted(`${file}:${line}: a member name given twice`);
    }
    onRecord(line, value as Record<string, unknown>);
  });
}

/**
 * Each line of a chunk as text[from, to) with its number, decoded in pieces of whole lines (each
 * piece ends with `onPiece`). Cutting at newlines never splits a UTF-8 sequence, so this decodes
 * each line as a per-line decode would. Throws NotTrusted for a torn tail.
 */
export function forEachLine(
  file: string,
  chunk: LineChunk,
  onLine: (text: string, from: number, to: number, line: number) => void,
  onPiece?: () => void,
): void {
  if (chunk.unterminated !== null) throw new NotTrusted(`${file}:${chunk.firstLine}: torn last line`);
  let line = chunk.firstLine;
  for (const part of chunk.parts) {
    for (let piece = 0; piece < part.length; ) {
      // Pieces below V8's large-object size: strings that size die young, while 1 MiB strings live
      // in large-object space until a full collection (peak RSS went from about 120 to 600 MB, and
      // time up, when each read was decoded whole).
      let end = part.length;
      if (end - piece > DECODE_BYTES) {
        const nl = part.lastIndexOf(NL, piece + DECODE_BYTES);
        end = nl >= piece ? nl + 1 : part.indexOf(NL, piece) + 1;
      }
      const text = part.toString('utf8', piece, end);
      piece = end;
      let from = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', nl + 1)) {
        onLine(text, from, nl, line);
        line++;
        from = nl + 1;
      }
      onPiece?.();
    }
  }
}

/** The record of a canonical line, as a full parse gives it (the members asRecord keeps), or null. */
function fromLayout(text: string, from: number, to: number): Record<string, unknown> | null {
  const layout = locateLayout(text, from, to);
  if (layout === null) return null;
  let payload: unknown;
  try {
    payload = JSON.parse(text.slice(layout.payloadAt, layout.payloadEnd));
  } catch {
    return null;
  }
  if (!isPlainObject(payload)) return null;
  return asRecord(layout, payload);
}

/**
 * What the fast pass hands on of a line in the writer's layout: actor, kind, payload, policy_version
 * and ts as a full parse gives them (what the audit report reads; a record's other members are the
 * chain's, checked on the way). `hash` only says the record is chained (not legacy): the two-thread
 * pass does not send it, and passes HASH_NOT_SENT.
 */
export function asRecord(layout: Pick<Layout, 'actor' | 'kind' | 'policyVersion' | 'ts' | 'hash'>, payload: Record<string, unknown>): Record<string, unknown> {
  return { actor: layout.actor, hash: layout.hash, kind: layout.kind, payload, policy_version: layout.policyVersion, ts: layout.ts };
}

/** Stands for the hash of a line in the writer's layout (which always has one) where it is not sent. */
export const HASH_NOT_SENT = 'not sent (the line is in the writer\'s layout)';
