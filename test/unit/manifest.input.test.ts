import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_LISTED_PROBLEMS, ManifestError, type ManifestProblem } from '../../src/errors.js';
import { loadManifest, parseManifest } from '../../src/manifest/load.js';
import { MAX_MANIFEST_BYTES, decodeManifest } from '../../src/manifest/source.js';
import { describeChar, printable, quote } from '../../src/util/printable.js';

/**
 * Manifest input outside what YAML-for-a-manifest means (issue #11, class 8), through the load
 * functions: the exact message and position of each refusal. The CLI side (exit code, stderr, time
 * and memory) is test/integration/manifest.input.test.ts.
 */
const DEFAULT = readFileSync(fileURLToPath(new URL('../../manifest.yaml', import.meta.url)), 'utf8');
const FILE = '/p/manifest.yaml';

/** 1-based line of the first line of DEFAULT that is exactly `text`. */
function lineOf(text: string): number {
  const i = DEFAULT.split('\n').indexOf(text);
  expect(i, `"${text}" is a line of manifest.yaml`).toBeGreaterThanOrEqual(0);
  return i + 1;
}
/** The line where text appended to DEFAULT (which ends with a newline) starts. */
const APPENDED = DEFAULT.split('\n').length;

function edited(from: string, to: string, text = DEFAULT): string {
  expect(text.split(from).length - 1, `"${from}" should occur exactly once`).toBe(1);
  return text.replace(from, to);
}

function caught(fn: () => unknown): ManifestError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    expect((err as ManifestError).exitCode).toBe(2);
    return err as ManifestError;
  }
  throw new Error('expected a ManifestError, but it passed');
}

function only(text: string): ManifestProblem {
  const problems = caught(() => parseManifest(text, FILE)).problems;
  expect(problems, JSON.stringify(problems, null, 2)).toHaveLength(1);
  return problems[0]!;
}

const temps: string[] = [];
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

describe('quoting input in messages', () => {
  it('quotes a short value as JSON, whole', () => {
    expect(quote('nginx:1.27')).toBe('"nginx:1.27"');
    expect(quote('a"b\\c\n')).toBe('"a\\"b\\\\c\\n"');
  });

  it('cuts a long value at 80 characters and says how many bytes it had', () => {
    expect(quote('x'.repeat(81))).toBe(`"${'x'.repeat(80)}"…(81 bytes)`);
    expect(quote('x'.repeat(80))).toBe(`"${'x'.repeat(80)}"`);
    expect(quote('é'.repeat(100))).toBe(`"${'é'.repeat(80)}"…(200 bytes)`);
  });

  it('never cuts a surrogate pair in half', () => {
    const q = quote(`${'x'.repeat(79)}😀tail`);
    expect(q).toBe(`"${'x'.repeat(79)}"…(87 bytes)`);
  });

  it('shows invisible and direction-changing characters as escapes', () => {
    for (const ch of ['\u202e', '\u2066', '\u200b', '\ufeff', '\u0085', '\u2028', '\u00a0', '\u007f', '\u001b', '\ud800', '\ue000']) {
      const q = quote(`a${ch}b`);
      expect(q, `U+${ch.charCodeAt(0).toString(16)}`).not.toContain(ch);
      expect(q).toMatch(/^"a\\u[0-9a-f]{4}b"$/);
    }
    expect(quote('bücher ü 日本')).toBe('"bücher ü 日本"'); // visible text stays as it is
    expect(printable('services.\u202eport', 120)).toBe('services.\\u202eport');
  });

  it('names the character it refuses', () => {
    expect(describeChar('\u202e')).toBe('U+202E (a bidirectional-text control)');
    expect(describeChar('\u0007')).toBe('U+0007 (a control character)');
    expect(describeChar('\u200b')).toBe('U+200B (an invisible formatting character)');
    expect(describeChar('\u2028')).toBe('U+2028 (a line separator)');
  });
});

describe('ManifestError output is bounded', () => {
  it(`lists at most ${MAX_LISTED_PROBLEMS} problems and counts the rest`, () => {
    const keys = Array.from({ length: 25 }, (_, i) => `bogus_${i}: 1`).join('\n');
    const err = caught(() => parseManifest(`${DEFAULT}${keys}\n`, FILE));
    expect(err.problems).toHaveLength(20);
    expect(err.omitted).toBe(5);
    expect(err.message.split('\n')[0]).toBe(`${FILE}: 25 problems (the first 20 are listed)`);
    expect(err.message.split('\n').at(-1)).toBe('  … and 5 more problems');
    expect(err.problems[0]).toMatchObject({ path: 'bogus_0', line: APPENDED, col: 1 });
  });

  it('a huge or invisible key is cut and escaped in the path, and gets no did-you-mean', () => {
    const key = `servic\u202ees${'x'.repeat(10_000)}`;
    // An explicit key (`? `): YAML limits an implicit one to 1024 characters.
    const p = only(`${DEFAULT}? "${key}"\n: 1\n`);
    expect(p.path).toBe(`servic\\u202ees${'x'.repeat(111)}…(10011 bytes)`); // 120 characters shown
    expect(p.message).toBe('unknown key (allowed here: project, runtime, services, nginx, network, opa, policy, canary, notifications, approvals, guard, swarm, observability)');
  });

  it('a number written with 30,000 digits is quoted short', () => {
    const p = only(edited('version: "1.0.0"', `version: 1.${'0'.repeat(30_000)}1`));
    expect(p.message).toMatch(/got 1\.0{78}…\(30003 bytes\), which YAML reads as the number 1; quote it/);
  });
});

describe('the manifest file: size and encoding', () => {
  const bytes = (s: string) => Buffer.from(s, 'utf8');

  it('a UTF-8 byte-order mark is kept (sha256 stays the file\'s) and the manifest loads with positions intact', () => {
    const text = decodeManifest(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes(DEFAULT)]), FILE);
    expect(text.charCodeAt(0)).toBe(0xfeff);
    expect(parseManifest(text, FILE).services.port).toBe(3000);
    expect(only(edited('port: 3000', 'port: x', text))).toMatchObject({ path: 'services.port', line: 8, col: 9 });
  });

  for (const [name, data] of [
    ['UTF-32 LE', Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), Buffer.from('a\0\0\0')])],
    ['UTF-32 BE', Buffer.concat([Buffer.from([0, 0, 0xfe, 0xff]), Buffer.from('\0\0\0a')])],
    ['UTF-32 LE', Buffer.from('a\0\0\0:\0\0\0')],
    ['UTF-32 BE', Buffer.from('\0\0\0a\0\0\0:')],
    ['UTF-16 LE', Buffer.from('a: 1', 'utf16le')],
    ['UTF-16 BE', Buffer.from('a: 1', 'utf16le').swap16()],
  ] as const) {
    it(`recognises ${name} (${data.subarray(0, 4).toString('hex')})`, () => {
      const p = caught(() => decodeManifest(data, FILE)).problems[0]!;
      expect(p).toMatchObject({ path: '', line: 1, col: 1 });
      expect(p.message).toMatch(new RegExp(`^not UTF-8 \\(looks like ${name}: .*\\); save it as UTF-8$`));
    });
  }

  for (const [what, data, offset, line, col, byte] of [
    ['a Latin-1 é', Buffer.from('a: 1\nb: caf\xe9\n', 'latin1'), 11, 2, 7, 'E9'],
    ['a lone continuation byte', Buffer.from([0x61, 0x3a, 0x20, 0x80]), 3, 1, 4, '80'],
    ['an overlong "/" (C0 AF)', Buffer.from([0x61, 0x3a, 0x20, 0xc0, 0xaf]), 3, 1, 4, 'C0'],
    ['a sequence cut off at the end', Buffer.from([0x61, 0x3a, 0x20, 0xe2, 0x82]), 3, 1, 4, 'E2'],
    ['a bad byte after a real U+FFFD and an emoji', Buffer.concat([bytes('a: \ufffd😀\nb: '), Buffer.from([0xff])]), 14, 2, 4, 'FF'],
  ] as const) {
    it(`names the first invalid UTF-8 byte: ${what}`, () => {
      const p = caught(() => decodeManifest(data, FILE)).problems[0]!;
      expect(p).toMatchObject({ path: '', line, col });
      expect(p.message).toContain(`not valid UTF-8: byte 0x${byte} at offset ${offset} (line ${line}, column ${col})`);
    });
  }

  it(`accepts ${MAX_MANIFEST_BYTES} bytes and refuses one more`, () => {
    const pad = (n: number) => Buffer.concat([bytes(DEFAULT), Buffer.alloc(n - Buffer.byteLength(DEFAULT), '#')]);
    expect(() => decodeManifest(pad(MAX_MANIFEST_BYTES), FILE)).not.toThrow();
    expect(caught(() => decodeManifest(pad(MAX_MANIFEST_BYTES + 1), FILE)).problems[0]!.message).toMatch(/^expected a manifest of at most 65536 bytes/);
  });

  it('reads at most the limit from an endless file (/dev/zero) and refuses it', async () => {
    const err = await loadManifest('/dev/zero').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ManifestError);
    expect((err as ManifestError).problems[0]!.message).toMatch(/^expected a manifest of at most 65536 bytes .*got more;/);
  });

  it('loadManifest refuses UTF-16 on disk, and loads a UTF-8 file with a BOM, sha256 of the bytes', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'swiftdeploy-input-unit-'));
    temps.push(dir);
    const file = path.join(dir, 'manifest.yaml');
    await writeFile(file, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(DEFAULT, 'utf16le')]));
    await expect(loadManifest(file)).rejects.toThrow(/not UTF-8 \(looks like UTF-16 LE/);
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes(DEFAULT)]);
    await writeFile(file, withBom);
    const loaded = await loadManifest(file);
    const { createHash } = await import('node:crypto');
    expect(loaded.sha256).toBe(createHash('sha256').update(withBom).digest('hex'));
  });
});

describe('YAML structure a manifest cannot mean', () => {
  it('honest anchors and aliases load', () => {
    const m = parseManifest(edited('  health_timeout_seconds: 60\n', '  health_timeout_seconds: &t 60\n').replace('  proxy_timeout: 30\n', '  proxy_timeout: *t\n'), FILE);
    expect(m.nginx.proxy_timeout).toBe(60);
  });

  it('an alias before its anchor names no anchor (the anchor must come first)', () => {
    const p = only(edited('  health_timeout_seconds: 60\n', '  health_timeout_seconds: *t\n').replace('  proxy_timeout: 30\n', '  proxy_timeout: &t 30\n'));
    expect(p).toMatchObject({ path: 'services.health_timeout_seconds', line: 13, col: 27 });
    expect(p.message).toBe('alias *t names no anchor: expected &t on a value earlier in the file (an anchor must come before its alias)');
  });

  it('an alias inside the value it names is refused, not turned into a circular object', () => {
    const p = only(edited('  build:\n', '  build: &b\n    self: *b\n'));
    expect(p).toMatchObject({ path: 'services.build.self', line: 15, col: 11 });
    expect(p.message).toBe('alias *b is inside the value &b it names, which would make it endless');
  });

  it('billion laughs stops at the first alias past the limit', () => {
    const laughs = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]']
      .concat('bcdefghi'.split('').map((x, i) => `${x}: &${x} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]`))
      .join('\n');
    const p = only(laughs);
    expect(p).toMatchObject({ path: 'e.0', line: 5, col: 8 });
    expect(p.message).toMatch(/^alias \*d takes the manifest past 10000 values once aliases are expanded/);
  });

  it('many small aliases add up: 2,000 aliases of a 10-value list are refused', () => {
    const lines = ['big: &big [1, 2, 3, 4, 5, 6, 7, 8, 9]', ...Array.from({ length: 2000 }, (_, i) => `r${i}: *big`)];
    const p = only(lines.join('\n'));
    expect(p.path).toBe('r1000');
  });

  for (const [what, yaml, line, col, got] of [
    ['a flow list', '? [a, b]\n: c\n', APPENDED, 3, 'a list as a key ([a, b])'],
    ['a block list', '? - a\n  - b\n: c\n', APPENDED, 3, 'a list as a key (- a\n  - b)'],
    ['a flow mapping', '{a: 1}: x\n', APPENDED, 1, 'a mapping as a key ({a: 1})'],
    ['an alias to a list', 'k: &k [a]\n? *k\n: y\n', APPENDED + 1, 3, 'a list as a key (*k)'],
  ] as const) {
    it(`a key that is ${what} is refused at the key`, () => {
      const p = only(`${DEFAULT}${yaml}`);
      expect(p).toMatchObject({ path: '', line, col });
      expect(p.message).toBe(`expected a key name, got ${printable(got, 40)}; a manifest key is a plain word such as "port"`);
    });
  }

  it('a complex key inside a section names the section', () => {
    const p = only(edited('  port: 3000\n', '  port: 3000\n  ? [a]\n  : 1\n'));
    expect(p).toMatchObject({ path: 'services', line: 9, col: 5 });
  });

  it('a missing key is refused where it is', () => {
    expect(only(edited('  port: 3000\n', '  port: 3000\n  : 1\n'))).toMatchObject({
      path: 'services',
      message: 'expected a key name before ":", got none',
      line: 9,
      col: 3,
    });
  });

  it('duplicate keys are refused at the second, also when YAML types differ (1 and "1")', () => {
    expect(only(edited('  port: 3000\n', '  port: 3000\n  port: 3001\n'))).toMatchObject({
      path: 'services.port',
      message: 'invalid YAML: map keys must be unique; this key is already given on line 8',
      line: 9,
      col: 3,
    });
    expect(only(`${DEFAULT}1: a\n"1": b\n`)).toMatchObject({ path: '1', line: APPENDED + 1, col: 1 });
  });
});

describe('invisible characters in string values', () => {
  // [key, the line's text before the value, the value as it is now, the value to try]
  const fields: Array<[string, string, string, string]> = [
    ['nginx.error_contact', 'error_contact: ', 'oncall@example.com', 'on\u202ecall@example.com'],
    ['nginx.error_contact', 'error_contact: ', 'oncall@example.com', 'oncall@exa\u200bmple.com'],
    ['project.name', '  name: ', 'swiftdeploy ', 'swift\u2066deploy'],
    ['services.image', '  image: ', 'swiftdeploy-app:1.0.0', 'swiftdeploy-app:1.0.0\u200e'],
    ['network.name', '  name: ', 'swiftdeploy-net', 'swiftdeploy\u0007-net'],
    ['services.version', '  version: ', '"1.0.0"', '1.0.0\u0085'],
  ];
  for (const [key, before, from, to] of fields) {
    it(`${key} = ${quote(to)} is refused, naming the character`, () => {
      // Double-quoted with JSON escapes, which YAML reads the same: the character reaches the schema.
      const p = only(edited(`${before}${from}`, `${before}${JSON.stringify(to)}${from.endsWith(' ') ? ' ' : ''}`));
      expect(p.path).toBe(key);
      const ch = [...to].find((c) => !/[\x20-\x7e]/.test(c))!;
      expect(p.message).toContain(`contains ${describeChar(ch)}`);
      expect(p.message).not.toContain(ch);
    });
  }

  const url = (u: string) => edited('  timeout_ms: 2000\n', `  timeout_ms: 2000\n  url: ${JSON.stringify(u)}\n`);
  for (const bad of [
    'http://opa.internal:8181/\u202etxt',
    'http://opa\u202e.internal:8181',
    'http://opa.internal:8181/\u200b',
    'http://opa.internal:8181/\u0085',
    'http://opa.internal:8181/\u2028',
    'http://opa.internal:8181/\u00a0',
    'http://opa.internal:8181/\ufeff',
  ]) {
    it(`opa.url ${quote(bad)} is refused, naming the character`, () => {
      const p = only(url(bad));
      expect(p).toMatchObject({ path: 'opa.url', line: lineOf('  timeout_ms: 2000') + 1, col: 8 });
      expect(p.message).toMatch(/^expected an http\(s\) URL such as "http:\/\/opa.internal:8181" \(no credentials in the URL\); the value contains U\+[0-9A-F]{4} \(/);
      expect(p.message, 'the message itself is printable ASCII').not.toMatch(/[^\x20-\x7e…]/);
    });
  }

  it('opa.url accepts an internationalised host name (visible letters are not invisible)', () => {
    expect(parseManifest(url('http://bücher.example:8181'), FILE).opa.url).toBe('http://bücher.example:8181');
  });
});

describe('published host ports', () => {
  it('opa.port equal to nginx.port is refused, naming both keys and places', () => {
    const p = only(edited('  port: 8181\n', '  port: 8080\n'));
    expect(p).toMatchObject({ path: 'opa.port', line: lineOf('  port: 8181'), col: 9 });
    expect(p.message).toBe(
      `expected a host port other than nginx.port (8080, at ${FILE}:20:9): both are published on this host, so the stack could never start; change one of them`,
    );
  });

  it('with opa.url set, opa.port is published nowhere and may equal nginx.port', () => {
    const text = edited('  port: 8181\n  timeout_ms: 2000\n', '  port: 8080\n  timeout_ms: 2000\n  url: "http://opa.internal:8080"\n');
    expect(parseManifest(text, FILE).opa.port).toBe(8080);
  });

  for (const u of ['http://127.0.0.1:8080', 'http://localhost:8080/', 'http://127.0.0.2:8080', 'http://[::1]:8080', 'http://0.0.0.0:8080', 'http://LOCALHOST:8080']) {
    it(`opa.url ${u} is this host's nginx.port: refused`, () => {
      const p = only(edited('  timeout_ms: 2000\n', `  timeout_ms: 2000\n  url: "${u}"\n`));
      expect(p).toMatchObject({ path: 'opa.url', line: lineOf('  timeout_ms: 2000') + 1, col: 8 });
      expect(p.message).toContain(`points at nginx.port (8080, at ${FILE}:20:9) on this host`);
    });
  }

  it('the default port of the scheme counts: http://localhost with nginx.port 80', () => {
    const text = edited('  port: 8080\n', '  port: 80\n').replace('  timeout_ms: 2000\n', '  timeout_ms: 2000\n  url: "http://localhost"\n');
    expect(only(text).path).toBe('opa.url');
  });

  for (const u of ['http://127.0.0.1:8181', 'http://opa.internal:8080', 'https://localhost:8443']) {
    it(`opa.url ${u} is not nginx's port on this host: accepted`, () => {
      expect(parseManifest(edited('  timeout_ms: 2000\n', `  timeout_ms: 2000\n  url: "${u}"\n`), FILE).opa.url).toBe(u);
    });
  }
});

describe('YAML that would read as something other than it says', () => {
  it('a %YAML 1.1 directive is refused (it would make `no` false and `.` NaN); %YAML 1.2 is fine', () => {
    const p = only(`%YAML 1.1\n---\n${edited('unless-stopped', 'no')}`);
    expect(p).toMatchObject({ path: '', line: 1, col: 1 });
    expect(p.message).toBe('expected YAML 1.2 (the manifest is read as YAML 1.2), got a %YAML 1.1 directive; remove it');
    expect(parseManifest(`%YAML 1.2\n---\n${DEFAULT}`, FILE).services.port).toBe(3000);
  });

  it('an unknown tag is refused, not dropped (the library only warned and kept "1.0.0")', () => {
    expect(only(edited('"1.0.0"', '!foo 1.0.0'))).toMatchObject({ path: '', message: 'invalid YAML: Unresolved tag: !foo', line: 10, col: 12 });
    expect(parseManifest(edited('"1.0.0"', '!!str 1.10'), FILE).services.version).toBe('1.10'); // a core tag is fine
  });

  it('a !!binary value is described as binary data, not as a mapping', () => {
    expect(only(edited('"1.0.0"', '!!binary MS4wLjA=')).message).toMatch(/got binary data \(a !!binary value\)$/);
  });
});
