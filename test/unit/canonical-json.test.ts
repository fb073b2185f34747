/**
 * The ledger's canonical JSON is RFC 8785 (JCS): checked against `canonicalize` (the JavaScript
 * implementation by one of the RFC's authors, listed in the RFC) and the RFC's own examples; and the byte scanner that `audit verify`
 * uses accepts exactly those bytes.
 */
import canonicalize from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalJsonProblem, duplicateMember } from '../../src/util/canonical-json.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');
const problem = (s: string) => canonicalJsonProblem(bytes(s));

/** A double from its IEEE 754 bit pattern, as RFC 8785 appendix B lists them. */
function double(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

// A small deterministic generator of JSON values with awkward numbers, strings and member names.
let seed = 20261130;
function rand(n: number): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
}
const NUMBERS = [0, -0, 1, -1, 0.1, 0.2 + 0.1, 1e21, 1e-7, 1e-6, 123456789012345680000, 5e-324, -5e-324, 1.7976931348623157e308, 2 ** 53, 2 ** 53 + 2, -1e-300, 333333333.3333333, 4.5e15, 1e15 + 0.5];
const STRINGS = ['', 'a', '"', '\\', '/', '\u0000', '\u0008', '\t', '\n', '\u000b', '\f', '\r', '\u001f', '\u007f', 'é', '\u2028', '€', '😀', '\ufb33', 'ünïcode "quoted"'];
function randomValue(depth: number): unknown {
  const pick = rand(depth > 3 ? 4 : 7);
  switch (pick) {
    case 0:
      return NUMBERS[rand(NUMBERS.length)] ?? 0;
    case 1:
      return Math.random() * 10 ** (rand(40) - 20) * (rand(2) ? 1 : -1);
    case 2:
      return STRINGS[rand(STRINGS.length)] ?? '';
    case 3:
      return [true, false, null][rand(3)];
    case 4:
    case 5: {
      const obj: Record<string, unknown> = {};
      const n = rand(6);
      for (let i = 0; i < n; i++) obj[`${STRINGS[rand(STRINGS.length)] ?? ''}${rand(3) === 0 ? String(rand(20)) : ''}`] = randomValue(depth + 1);
      return obj;
    }
    default:
      return Array.from({ length: rand(4) }, () => randomValue(depth + 1));
  }
}

describe('canonicalJson is RFC 8785 (JCS)', () => {
  it('agrees with an RFC 8785 implementation by one of its authors on 2,000 generated values', () => {
    for (let i = 0; i < 2000; i++) {
      const value = randomValue(0);
      expect(canonicalJson(value)).toBe(canonicalize(value));
    }
  });

  it('writes numbers as the RFC lists them (appendix B)', () => {
    const cases: Array<[string, string]> = [
      ['0000000000000000', '0'],
      ['8000000000000000', '0'],
      ['0000000000000001', '5e-324'],
      ['8000000000000001', '-5e-324'],
      ['7fefffffffffffff', '1.7976931348623157e+308'],
      ['ffefffffffffffff', '-1.7976931348623157e+308'],
      ['4340000000000000', '9007199254740992'],
      ['c340000000000000', '-9007199254740992'],
      ['4430000000000000', '295147905179352830000'],
      ['44b52d02c7e14af5', '9.999999999999997e+22'],
      ['44b52d02c7e14af6', '1e+23'],
      ['44b52d02c7e14af7', '1.0000000000000001e+23'],
      ['444b1ae4d6e2ef4e', '999999999999999700000'],
      ['444b1ae4d6e2ef4f', '999999999999999900000'],
      ['444b1ae4d6e2ef50', '1e+21'],
      ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
      ['3eb0c6f7a0b5ed8d', '0.000001'],
      ['41b3de4355555553', '333333333.3333332'],
      ['41b3de4355555554', '333333333.33333325'],
      ['41b3de4355555555', '333333333.3333333'],
      ['41b3de4355555556', '333333333.3333334'],
      ['41b3de4355555557', '333333333.33333343'],
      ['becbf647612f3696', '-0.0000033333333333333333'],
      ['43143ff3c1cb0959', '1424953923781206.2'],
    ];
    for (const [hex, text] of cases) {
      expect(canonicalJson(double(hex)), hex).toBe(text);
      expect(problem(text), text).toBeNull();
    }
  });

  it('sorts member names by UTF-16 code units, as the RFC\'s example does (3.2.3)', () => {
    const value = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
    const text = canonicalJson(value);
    const names = [...text.matchAll(/"([^"]*)":"([^"]*)"/g)].map((m) => m[2]);
    expect(names).toEqual(['Carriage Return', 'One', 'Control', 'Latin Small Letter O With Diaeresis', 'Euro Sign', 'Emoji: Grinning Face', 'Hebrew Letter Dalet With Dagesh']);
    expect(text).toBe(canonicalize(value));
    expect(problem(text)).toBeNull();
  });

  it('refuses what has no canonical form: NaN, Infinity, an unpaired surrogate', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(/non-finite/);
    expect(() => canonicalJson({ a: Infinity })).toThrow(/non-finite/);
    expect(() => canonicalJson({ a: 'x\ud800y' })).toThrow(/unpaired surrogate/);
    expect(() => canonicalJson({ ['\udc00']: 1 })).toThrow(/unpaired surrogate/);
    expect(canonicalJson('\ud83d\ude00')).toBe('"😀"');
  });
});

describe('canonicalJsonProblem: exactly the canonical bytes', () => {
  it('accepts the canonical JSON of every generated value', () => {
    for (let i = 0; i < 2000; i++) {
      const text = canonicalJson(randomValue(0));
      expect(problem(text), text).toBeNull();
    }
  });

  it.each([
    ['{"b":1,"a":2}', 7, /member "a" is out of order/],
    ['{"a":1,"a":2}', 7, /member "a" appears twice/],
    ['{"a":{"x":1,"x":1}}', 12, /member "x" appears twice/],
    ['{"a": 1}', 5, /whitespace/],
    [' {"a":1}', 0, /whitespace/],
    ['{"a":1} ', 7, /whitespace/],
    ['{"a":1}\r', 7, /whitespace/],
    ['{"a":1.0}', 5, /number 1.0 \(canonical JSON writes 1\)/],
    ['{"a":1e3}', 5, /number 1e3 \(canonical JSON writes 1000\)/],
    ['{"a":1E+21}', 5, /canonical JSON writes 1e\+21/],
    ['{"a":0.10}', 5, /writes 0.1\)/],
    ['{"a":-0}', 5, /-0/],
    ['{"a":0.1000000000000000055511151231257827}', 5, /writes 0.1\)/],
    ['{"a":1e999}', 5, /out of the range/],
    ['{"a":01}', 6, /expected "," or "}"/],
    ['{"a":"\\/"}', 6, /escaped "\/"/],
    ['{"a":"\\u0041"}', 6, /writes the character itself/],
    ['{"a":"\\u000A"}', 6, /lowercase hex/],
    ['{"a":"\\u000a"}', 6, /short escape/],
    ['{"a":"\\ud800"}', 6, /surrogate/],
    ['{"a":"tab\there"}', 9, /control character/],
    ['{"a":1,}', 7, /expected a member name/],
    ['{"a":tru}', 5, /not a JSON value/],
    ['{"a":"x}', 5, /does not end/],
  ])('%s is refused at byte %i: %s', (text, at, why) => {
    const p = problem(text);
    expect(p?.at).toBe(at);
    expect(p?.why).toMatch(why);
  });

  it('names the member given twice', () => {
    expect(problem('{"actor":"forged@example.com","actor":"alice@example.com"}')).toMatchObject({ at: 30, duplicate: 'actor' });
    // Two spellings of one name are one name.
    expect(problem('{"a":1,"\\u0061":2}')?.why).toMatch(/\\u escape|twice/);
  });

  it('accepts the short escapes and lowercase \\u00xx for the other control characters, and literal UTF-8', () => {
    expect(problem(canonicalJson({ s: '\b\t\n\f\r\u0000\u001f"\\é😀\u2028' }))).toBeNull();
    expect(problem('{"s":"\\u001f"}')).toBeNull();
  });

  it('refuses bytes that are not UTF-8', () => {
    const line = Buffer.concat([bytes('{"a":"'), Buffer.from([0xc3, 0x28]), bytes('"}')]);
    expect(canonicalJsonProblem(line)?.why).toMatch(/UTF-8/);
    // A surrogate encoded in UTF-8 (CESU-style) is not UTF-8 either.
    const cesu = Buffer.concat([bytes('{"a":"'), Buffer.from([0xed, 0xa0, 0x80]), bytes('"}')]);
    expect(canonicalJsonProblem(cesu)?.why).toMatch(/UTF-8/);
  });

  it('orders names above U+FFFF by UTF-16 code units, not by code point', () => {
    // U+1F600 is D83D DE00 in UTF-16, which sorts before U+FB33; in code points (and UTF-8 bytes) it sorts after.
    expect(problem('{"😀":1,"דּ":2}')).toBeNull();
    expect(problem('{"דּ":2,"😀":1}')?.why).toMatch(/out of order/);
  });
});

describe('duplicateMember: any JSON, canonical or not', () => {
  it('finds a name given twice, at any depth, in any spacing or spelling', () => {
    expect(duplicateMember(bytes('{"a": 1, "b": {"c": 1,\n "c": 2}}'))?.duplicate).toBe('c');
    expect(duplicateMember(bytes('{"b": 1, "a": 2, "b": 3}'))?.duplicate).toBe('b');
    expect(duplicateMember(bytes('{"a": 1, "\\u0061": 2}'))?.duplicate).toBe('a');
    expect(duplicateMember(bytes('[{"a": 1}, {"a": 2}]'))).toBeNull();
    expect(duplicateMember(bytes('{"time": "2025-03-03T09:58:02+00:00", "timestamp": 1741, "x": [1.50, 2E3]}'))).toBeNull();
    expect(duplicateMember(bytes('{"a":1,"b":2}'))).toBeNull();
  });
});
