import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GENESIS_PREV, canonicalJsonFast, recordHash, recordHashFromLine, recordShapeProblem } from '../../src/history/chain.js';
import { canonicalJson } from '../../src/util/canonical-json.js';

const unsigned = {
  v: 1,
  seq: 1,
  ts: '2026-01-02T03:04:05.000Z',
  kind: 'event' as const,
  actor: 'alice@example.com',
  policy_version: 'pv1',
  manifest_sha256: null,
  payload: { action: 'deploy' as const, stage: 'requested' as const, detail: 'ünïcode "quoted"' },
  prev: GENESIS_PREV,
};

describe('record hash', () => {
  it('is sha256 hex of prev followed by the canonical JSON of the record without hash', () => {
    // Written out by hand: keys sorted, no whitespace.
    const canonical =
      '{"actor":"alice@example.com","kind":"event","manifest_sha256":null,' +
      '"payload":{"action":"deploy","detail":"ünïcode \\"quoted\\"","stage":"requested"},' +
      `"policy_version":"pv1","prev":"${GENESIS_PREV}","seq":1,"ts":"2026-01-02T03:04:05.000Z","v":1}`;
    const expected = createHash('sha256').update(GENESIS_PREV + canonical, 'utf8').digest('hex');
    expect(recordHash(unsigned)).toBe(expected);
  });

  it('ignores a hash field already present and changes with any value', () => {
    const h = recordHash(unsigned);
    expect(recordHash({ ...unsigned, hash: 'f'.repeat(64) })).toBe(h);
    expect(recordHash({ ...unsigned, actor: 'mallory@example.com' })).not.toBe(h);
    expect(recordHash({ ...unsigned, prev: 'a'.repeat(64) })).not.toBe(h);
  });

  it('genesis is 64 zeros', () => {
    expect(GENESIS_PREV).toMatch(/^0{64}$/);
  });
});

describe('recordShapeProblem', () => {
  const good = { ...unsigned, hash: 'a'.repeat(64) };
  it('accepts a well-formed record', () => {
    expect(recordShapeProblem(good)).toBeNull();
  });
  it.each([
    [{ seq: 0 }, /seq/],
    [{ seq: '2' }, /seq/],
    [{ v: 1.5 }, /v is not/],
    [{ prev: 'xyz' }, /prev/],
    [{ hash: 'A'.repeat(64) }, /hash/],
    [{ ts: 5 }, /ts/],
  ])('names what is wrong in %j', (patch, message) => {
    expect(recordShapeProblem({ ...good, ...patch })).toMatch(message);
  });
});

describe('canonicalJsonFast', () => {
  // A small deterministic generator: keys chosen to hit integer-like keys, code-unit order and escapes.
  let seed = 12345;
  // mulberry32: integer-exact, unlike a float LCG.
  const rand = (n: number) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
  const KEYS = ['a', 'B', 'b', '10', '9', '0', 'é', 'Z', 'hash', 'a b', '"q"', '__proto_'];
  const gen = (depth: number): unknown => {
    switch (rand(depth > 2 ? 4 : 6)) {
      case 0: return rand(2) === 0 ? null : rand(2) === 0;
      case 1: return rand(1000) / 7 - 50;
      case 2: return ['', 'x', 'line\nbreak', 'ünï', '\u0000'][rand(5)];
      case 3: return rand(10);
      case 4: return Array.from({ length: rand(4) }, () => gen(depth + 1));
      default: {
        const o: Record<string, unknown> = {};
        for (let i = rand(5); i > 0; i--) o[KEYS[rand(KEYS.length)] as string] = gen(depth + 1);
        return o;
      }
    }
  };

  it('equals canonicalJson for 2,000 generated values, both as built and as parsed back', () => {
    for (let i = 0; i < 2_000; i++) {
      const value = gen(0);
      const reference = canonicalJson(value);
      expect(canonicalJsonFast(value)).toBe(reference);
      expect(canonicalJsonFast(JSON.parse(reference))).toBe(reference);
    }
  });

  it('takes the reference path for values JSON.stringify would serialise differently', () => {
    expect(canonicalJsonFast({ b: 1, a: undefined })).toBe('{"b":1}');
    expect(() => canonicalJsonFast({ a: Number.POSITIVE_INFINITY })).toThrow(/non-finite/);
    expect(canonicalJsonFast({ 9: 'x', 10: 'y' })).toBe('{"10":"y","9":"x"}');
  });
});

describe('recordHashFromLine', () => {
  const line = (value: unknown) => Buffer.from(canonicalJson(value), 'utf8');

  it('equals recordHash on the canonical line the writer writes, wherever `hash` sits', () => {
    const record = { ...unsigned, hash: recordHash(unsigned) };
    expect(recordHashFromLine(line(record), record)).toBe(record.hash);
    // Without `actor`, `hash` is the first key.
    const { actor: _a, ...noActor } = unsigned;
    const first = { ...noActor, hash: recordHash(noActor as typeof unsigned) };
    expect(canonicalJson(first).startsWith('{"hash":')).toBe(true);
    expect(recordHashFromLine(line(first), first)).toBe(first.hash);
  });

  it('does not match when any byte outside the hash changed, and is null when `hash` is not a member', () => {
    const record = { ...unsigned, hash: recordHash(unsigned) };
    const edited = Buffer.from(line(record).toString().replace('alice', 'alicf'));
    expect(recordHashFromLine(edited, record)).not.toBe(record.hash);
    expect(recordHashFromLine(line({ ...record, hash: undefined, other: 1 }), record)).toBeNull();
  });
});
