/**
 * The writer's line layout: where the members of a line the ledger wrote are. The ledger writes each
 * record as its canonical JSON (RFC 8785), so keys sort as actor, hash, kind, manifest_sha256,
 * payload, policy_version, prev, seq, ts, v: `hash` is always the second member and prev/seq/ts/v
 * always the last four. Two readings of that one layout, each where its caller already is: over the
 * line's bytes for the chain walk (canonicalLayout, chain.ts), and over decoded text for the reader
 * that parses only the payload (locateLayout, record-stream.ts). Whatever either cannot be sure of
 * is null, and the caller parses the line whole.
 */

// Fixed parts of the layout, as bytes.
const HEAD_BYTES = Buffer.from('{"actor":"');
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
  if (!bytesAt(line, 0, HEAD_BYTES)) return null;
  const actorEnd = plainStringEnd(line, HEAD_BYTES.length);
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

// The same layout over decoded text, for a reader that takes a line's parts without parsing it
// whole (record-stream.ts): keys sorted, no whitespace, hashes as 64 lowercase hex digits.
// Strings the reader takes from their place must be plain (no escapes, no control characters), so
// the characters between the quotes are the value.
const HEAD = /\{"actor":"([^"\\\x00-\x1f]*)","hash":"([0-9a-f]{64})","kind":"([^"\\\x00-\x1f]*)","manifest_sha256":(?:null|"[^"\\\x00-\x1f]*"),"payload":/y;
const TAIL_KEY = ',"policy_version":';
const TAIL = /,"policy_version":(?:null|"([^"\\\x00-\x1f]*)"),"prev":"[0-9a-f]{64}","seq":[1-9][0-9]{0,14},"ts":"([^"\\\x00-\x1f]*)","v":-?[0-9]+\}/y;

/** Where a canonical line's parts are: the strings a reader takes (actor, kind, policy_version, ts, hash), and the payload's span. */
export interface Layout {
  actor: string;
  kind: string;
  policyVersion: string | null;
  ts: string;
  payloadAt: number;
  payloadEnd: number;
  hash: string;
}

/**
 * The parts of the line text[from, to) when it is in the canonical layout, or null (then it is
 * parsed whole). The head must match from the line's start and the tail must end exactly at the
 * line's end; between them is the payload. When the payload parses to an object, the line is exactly
 * `{` these members `}`, and they are what a full parse gives.
 */
export function locateLayout(text: string, from: number, to: number): Layout | null {
  HEAD.lastIndex = from;
  const head = HEAD.exec(text);
  if (head === null) return null;
  const payloadAt = HEAD.lastIndex;
  // The last one on the line is the record's own: nothing after the payload can contain the key.
  const tailAt = text.lastIndexOf(TAIL_KEY, to);
  if (tailAt <= payloadAt) return null;
  TAIL.lastIndex = tailAt;
  const tail = TAIL.exec(text);
  if (tail === null || TAIL.lastIndex !== to) return null;
  return {
    actor: head[1] as string,
    kind: head[3] as string,
    policyVersion: tail[1] ?? null,
    ts: tail[2] as string,
    payloadAt,
    payloadEnd: tailAt,
    hash: head[2] as string,
  };
}
