/**
 * Canonical JSON, as the ledger hashes and writes it: the JSON Canonicalization Scheme, RFC 8785
 * (JCS), for the data the ledger holds.
 *
 * - object members sorted by their names' UTF-16 code units (JavaScript's default string order),
 *   no insignificant whitespace, no member name twice;
 * - numbers as ECMAScript's Number.prototype.toString writes them (shortest round-trip form,
 *   `1e+21`, `1e-7`, `-0` as `0`); NaN and Infinity have no form and are refused;
 * - strings as JSON.stringify writes them: `"` and `\` escaped, U+0000..U+001F as `\b \t \n \f \r` or
 *   `\u00xx` (lowercase hex), everything else literal UTF-8; a string with an unpaired surrogate is
 *   refused (RFC 8785 requires I-JSON, RFC 7493, which forbids them);
 * - `undefined` members dropped (JavaScript has them, JSON does not).
 *
 * Checked against `canonicalize` (the JavaScript implementation by one of the RFC's authors, listed in it) in
 * test/unit/canonical-json.test.ts. Hand-written because the two things hashed with it (history
 * records and policy thresholds) are plain JSON data, and a dependency for twenty lines would be a
 * liability in the one function whose output must never change between releases.
 */
import { isUtf8 } from 'node:buffer';

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new TypeError(`canonicalJson: non-finite number ${value} has no JSON form`);
    }
    if (typeof value === 'string') assertWellFormed(value);
    const s = JSON.stringify(value);
    if (s === undefined) throw new TypeError(`canonicalJson: ${typeof value} has no JSON form`);
    return s;
  }
  if (Array.isArray(value)) {
    return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${canonicalJson(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

// With the u flag a string is read by code points, so a surrogate code point is an unpaired one.
const LONE_SURROGATE = /\p{Cs}/u;

/** Throws for a string with an unpaired surrogate: it has no UTF-8 form and RFC 8785 refuses it. */
export function assertWellFormed(s: string): void {
  if (LONE_SURROGATE.test(s)) throw new TypeError('canonicalJson: a string with an unpaired surrogate has no canonical form');
}


/** Why bytes are not canonical JSON: where (byte offset from the start of the range) and what. */
export interface CanonicalProblem {
  at: number;
  why: string;
  /** Set when the problem is a member name that appears twice in one object. */
  duplicate?: string;
}

/**
 * Whether `bytes` (the whole view) are exactly the canonical JSON (above) of one JSON value: null when they
 * are, else the first place they are not (`duplicate` set when a member name appears twice).
 *
 * Canonical JSON has one serialisation per value, so bytes that pass are read the same way by every
 * conforming JSON reader (no member twice, nothing a reader could normalise differently), and
 * re-serialising what any reader parses from them gives back the same bytes.
 *
 * It reads the bytes once, without building the value, in one loop (a recursive-descent version
 * cost five times as much); numbers that are not short integers are checked together at the end
 * with one JSON.parse and one JSON.stringify.
 */
export function canonicalJsonProblem(bytes: Uint8Array): CanonicalProblem | null {
  return scan(bytes, STRICT);
}

/**
 * The first member name that appears twice in one object of the JSON text `bytes`, or null when
 * none does (or the text is not JSON: JSON.parse says so). A name given twice makes readers disagree
 * on the value: JSON.parse keeps the last, other readers keep the first or refuse the text. For any
 * JSON, canonical or not; a canonical line (checked first, cheaply) has none.
 */
export function duplicateMember(bytes: Uint8Array): CanonicalProblem | null {
  const strict = scan(bytes, STRUCTURE);
  if (strict === null || strict.duplicate !== undefined) return strict;
  const lenient = scan(bytes, LENIENT);
  return lenient?.duplicate !== undefined ? lenient : null;
}

/** Canonical form exactly. */
const STRICT = 0;
/** Canonical form, except that numbers are not checked for their shortest form. */
const STRUCTURE = 1;
/** Any JSON; only duplicate member names are looked for. */
const LENIENT = 2;

// The scan reads b[i] past the end only as `undefined` (the whole view is the text), which no test matches.
function scan(bytes: Uint8Array, mode: number): CanonicalProblem | null {
  const from = 0;
  const to = bytes.length;
  const lenient = mode === LENIENT;
  problem = null;
  sawNonAscii = false;
  numbers = 0;
  const b = bytes;
  let i = from;
  let depth = 0;
  outer: for (;;) {
    // A value starts at i.
    if (lenient) i = skipSpace(b, i, to);
    if (i >= to) return fail(i, 'the value ends early');
    const c = b[i] as number;
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth >= MAX_DEPTH) return fail(i, 'nested too deeply');
      i++;
      if (lenient) i = skipSpace(b, i, to);
      const close = c + 2; // } and ] are { and [ plus 2
      if (b[i] === close) {
        i++;
        depth--;
      } else {
        kinds[depth] = c;
        if (c === 0x7b) {
          prevNameAt[depth] = -1;
          if (lenient) (names[depth] ??= new Set()).clear();
          i = member(b, i, to, depth, lenient);
          if (i < 0) return problem;
        }
        continue outer;
      }
    } else if (c === QUOTE) {
      i = string(b, i, to, lenient);
      if (i < 0) return problem;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      i = number(b, i, to, lenient);
      if (i < 0) return problem;
    } else if (c === 0x74 && word(b, i, to, TRUE)) i += 4;
    else if (c === 0x66 && word(b, i, to, FALSE)) i += 5;
    else if (c === 0x6e && word(b, i, to, NULL)) i += 4;
    else return fail(i, isSpace(c) ? 'whitespace' : 'not a JSON value');
    // After a value: close containers until one continues.
    for (;;) {
      if (depth === 0) break outer;
      if (lenient) i = skipSpace(b, i, to);
      const d = b[i];
      const kind = kinds[depth] as number;
      if (d === 0x2c /* , */) {
        i++;
        if (kind === 0x7b) {
          i = member(b, i, to, depth, lenient);
          if (i < 0) return problem;
        }
        continue outer;
      }
      if (d !== kind + 2) return fail(i, isSpace(d) ? 'whitespace' : kind === 0x7b ? 'expected "," or "}"' : 'expected "," or "]"');
      i++;
      depth--;
    }
  }
  if (lenient) i = skipSpace(b, i, to);
  if (i !== to) return fail(i, isSpace(b[i]) ? 'whitespace' : 'bytes after the value');
  if (numbers > 0 && mode === STRICT && !numbersCanonical(b)) return problem;
  if (sawNonAscii && !isUtf8(b.subarray(from, to))) return fail(from, 'invalid UTF-8');
  return null;
}

/** Deeper than any record; bounds the state kept per level. */
const MAX_DEPTH = 256;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');

// The scan's state, kept here so a scan allocates nothing for a canonical line.
let problem: CanonicalProblem | null = null;
let sawNonAscii = false;
/** Per depth: `{` or `[`; for an object the previous member name's token [prevNameAt, prevNameEnd). */
const kinds = new Uint8Array(MAX_DEPTH);
const prevNameAt = new Int32Array(MAX_DEPTH);
const prevNameEnd = new Int32Array(MAX_DEPTH);
/** Lenient scans: the names seen per depth. */
const names: Array<Set<string> | undefined> = [];
/** Number tokens whose canonical form needs a round trip, checked together at the end. */
let numbers = 0;
let numberAt = new Int32Array(64);
let numberEnd = new Int32Array(64);
let scratch = Buffer.allocUnsafe(4096);

function fail(at: number, why: string, duplicate?: string): CanonicalProblem {
  problem ??= { at, why, ...(duplicate !== undefined ? { duplicate } : {}) };
  return problem;
}

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipSpace(b: Uint8Array, i: number, to: number): number {
  while (i < to && isSpace(b[i])) i++;
  return i;
}

function word(b: Uint8Array, i: number, to: number, w: Uint8Array): boolean {
  if (i + w.length > to) return false;
  for (let k = 1; k < w.length; k++) if (b[i + k] !== w[k]) return false;
  return true;
}

/** A member name and its colon at i; returns where the value starts, or -1. */
function member(b: Uint8Array, i: number, to: number, depth: number, lenient: boolean): number {
  if (lenient) i = skipSpace(b, i, to);
  if (b[i] !== QUOTE) {
    fail(i, isSpace(b[i]) ? 'whitespace' : 'expected a member name');
    return -1;
  }
  const at = i;
  i = string(b, i, to, lenient);
  if (i < 0) return -1;
  if (lenient) {
    const set = names[depth] as Set<string>;
    const name = decodeName(b, at, i);
    if (set.has(name)) {
      fail(at, `member "${name}" appears twice`, name);
      return -1;
    }
    set.add(name);
    i = skipSpace(b, i, to);
  } else {
    const prevAt = prevNameAt[depth] as number;
    if (prevAt !== -1) {
      const order = compareNames(b, prevAt, prevNameEnd[depth] as number, at, i);
      if (order >= 0) {
        const name = decodeName(b, at, i);
        fail(at, order === 0 ? `member "${name}" appears twice` : `member "${name}" is out of order (members are sorted by name)`, order === 0 ? name : undefined);
        return -1;
      }
    }
    prevNameAt[depth] = at;
    prevNameEnd[depth] = i;
  }
  if (b[i] !== 0x3a /* : */) {
    fail(i, isSpace(b[i]) ? 'whitespace' : 'expected ":"');
    return -1;
  }
  return i + 1;
}

/** A member name's value, from its string token [at, tokenEnd). */
function decodeName(b: Uint8Array, at: number, tokenEnd: number): string {
  const token = Buffer.from(b.buffer, b.byteOffset + at, tokenEnd - at);
  for (let k = at + 1; k < tokenEnd - 1; k++) {
    if ((b[k] as number) >= 0x80 || b[k] === BACKSLASH) return JSON.parse(token.toString('utf8')) as string;
  }
  return token.toString('latin1', 1, token.length - 1);
}

/** Two name tokens in UTF-16 code unit order (the order canonical JSON sorts by). */
function compareNames(b: Uint8Array, a: number, aEnd: number, c: number, cEnd: number): number {
  const la = aEnd - a;
  const lc = cEnd - c;
  const n = Math.min(la, lc);
  for (let k = 1; k < n; k++) {
    const x = b[a + k] as number;
    const y = b[c + k] as number;
    // Escapes and non-ASCII: compare the names themselves (UTF-8 byte order is code point order,
    // not UTF-16 order, above U+FFFF).
    if (x >= 0x80 || y >= 0x80 || x === BACKSLASH || y === BACKSLASH) {
      const p = decodeName(b, a, aEnd);
      const q = decodeName(b, c, cEnd);
      return p < q ? -1 : p > q ? 1 : 0;
    }
    if (x !== y) return x - y;
  }
  return la - lc;
}

function hexDigit(c: number | undefined, upperToo: boolean): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (upperToo && c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** The string token at i; returns the index after its closing quote, or -1. */
function string(b: Uint8Array, i: number, to: number, lenient: boolean): number {
  const open = i;
  i++;
  for (;;) {
    if (i >= to) {
      fail(open, 'a string that does not end');
      return -1;
    }
    const c = b[i] as number;
    if (c === QUOTE) return i + 1;
    if (c >= 0x20 && c !== BACKSLASH) {
      if (c >= 0x80) sawNonAscii = true;
      i++;
      continue;
    }
    if (c < 0x20) {
      fail(i, 'a control character not escaped in a string');
      return -1;
    }
    const e = b[i + 1];
    // \" \\ \b \t \n \f \r
    if (e === QUOTE || e === BACKSLASH || e === 0x62 || e === 0x74 || e === 0x6e || e === 0x66 || e === 0x72 || (lenient && e === 0x2f)) {
      i += 2;
      continue;
    }
    if (e !== 0x75 /* u */) {
      fail(i, e === 0x2f ? 'an escaped "/" (canonical JSON writes "/")' : 'an invalid escape');
      return -1;
    }
    let code = 0;
    for (let k = 2; k < 6; k++) {
      const d = hexDigit(b[i + k], lenient);
      if (d === -1) {
        fail(i, lenient ? 'an invalid \\u escape' : 'a \\u escape not in lowercase hex');
        return -1;
      }
      code = code * 16 + d;
    }
    if (!lenient) {
      if (code >= 0xd800 && code <= 0xdfff) {
        fail(i, 'an escaped surrogate (canonical JSON holds well-formed Unicode only)');
        return -1;
      }
      if (code >= 0x20 || code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d) {
        fail(i, 'a \\u escape where canonical JSON writes the character itself or a short escape');
        return -1;
      }
    }
    i += 6;
  }
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;

/** The number token at i; returns where it ends, or -1. Canonical form is checked at the end of the scan. */
function number(b: Uint8Array, i: number, to: number, lenient: boolean): number {
  const at = i;
  if (b[i] === 0x2d) i++;
  if (b[i] === 0x30) i++;
  else if (isDigit(b[i])) while (i < to && isDigit(b[i])) i++;
  else {
    fail(at, 'not a JSON number');
    return -1;
  }
  let integer = true;
  if (b[i] === 0x2e /* . */) {
    integer = false;
    i++;
    if (!isDigit(b[i])) {
      fail(at, 'not a JSON number');
      return -1;
    }
    while (i < to && isDigit(b[i])) i++;
  }
  if (b[i] === 0x65 || b[i] === 0x45 /* e E */) {
    integer = false;
    i++;
    if (b[i] === 0x2b || b[i] === 0x2d) i++;
    if (!isDigit(b[i])) {
      fail(at, 'not a JSON number');
      return -1;
    }
    while (i < to && isDigit(b[i])) i++;
  }
  if (lenient) return i;
  const negative = b[at] === 0x2d;
  // Up to 15 digits an integer is exact and is its own canonical form, except -0.
  if (integer && i - at - (negative ? 1 : 0) <= 15) {
    if (negative && b[at + 1] === 0x30) {
      fail(at, 'number -0 (canonical JSON writes 0)');
      return -1;
    }
    return i;
  }
  if (numbers === numberAt.length) {
    const grow = (a: Int32Array): Int32Array<ArrayBuffer> => {
      const bigger = new Int32Array(a.length * 2);
      bigger.set(a);
      return bigger;
    };
    numberAt = grow(numberAt);
    numberEnd = grow(numberEnd);
  }
  numberAt[numbers] = at;
  numberEnd[numbers] = i;
  numbers++;
  return i;
}

/**
 * Whether every collected number token is in ECMAScript's shortest round-trip form: all of them in
 * one JSON.parse and one JSON.stringify of an array (native, and what canonicalJson writes), instead
 * of a conversion per number.
 */
function numbersCanonical(b: Uint8Array): boolean {
  let length = 1;
  for (let k = 0; k < numbers; k++) length += (numberEnd[k] as number) - (numberAt[k] as number) + 1;
  if (scratch.length < length + 1) scratch = Buffer.allocUnsafe(Math.max(length + 1, scratch.length * 2));
  let w = 0;
  scratch[w++] = 0x5b;
  for (let k = 0; k < numbers; k++) {
    if (k > 0) scratch[w++] = 0x2c;
    for (let p = numberAt[k] as number; p < (numberEnd[k] as number); p++) scratch[w++] = b[p] as number;
  }
  scratch[w++] = 0x5d;
  const text = scratch.toString('latin1', 0, w);
  if (JSON.stringify(JSON.parse(text)) === text) return true;
  // Name the first one that is not.
  for (let k = 0; k < numbers; k++) {
    const at = numberAt[k] as number;
    const token = Buffer.from(b.buffer, b.byteOffset + at, (numberEnd[k] as number) - at).toString('latin1');
    const n = Number(token);
    if (!Number.isFinite(n)) {
      fail(at, `number ${token} is out of the range of IEEE 754 double precision`);
      return false;
    }
    if (String(n) !== token) {
      fail(at, `number ${token} (canonical JSON writes ${String(n)})`);
      return false;
    }
  }
  return true;
}
