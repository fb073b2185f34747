import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

/**
 * Manifest input outside what YAML-for-a-manifest means (issue #11, class 8), through the real CLI:
 * each is exit 2 with `file:line:col`, a bounded message, nothing on stderr but the error, and
 * nothing written. Details of each message are in test/unit/manifest.input.test.ts.
 * Assumes dist/ is fresh (`npm run build`).
 */
const BIN = fileURLToPath(new URL('../../bin/swiftdeploy', import.meta.url));
const PROBE = fileURLToPath(new URL('../helpers/rusage-probe.mjs', import.meta.url));
const REPO_MANIFEST = fileURLToPath(new URL('../../manifest.yaml', import.meta.url));
const DEFAULT = await readFile(REPO_MANIFEST, 'utf8');
/** 1-based line of the first line of DEFAULT that is exactly `text` (positions follow manifest.yaml). */
const lineOf = (text: string): number => DEFAULT.split('\n').indexOf(text) + 1;
/** The line where text appended to DEFAULT (which ends with a newline) starts. */
const APPENDED = DEFAULT.split('\n').length;

function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('SWIFTDEPLOY_') && k !== 'NO_COLOR' && k !== 'FORCE_COLOR' && k !== 'NODE_OPTIONS') env[k] = v;
  }
  return { ...env, ...extra };
}

const temps: string[] = [];
afterEach(async () => {
  await Promise.all(temps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function projectWith(manifest: string | Buffer): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'swiftdeploy-input-'));
  temps.push(dir);
  const file = path.join(dir, 'manifest.yaml');
  await writeFile(file, manifest);
  return { dir, file };
}

/** Every file under dir with its sha256: to prove a refusal wrote nothing at all. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const abs = path.join(e.parentPath, e.name);
    out[path.relative(dir, abs)] = e.isFile() ? createHash('sha256').update(await readFile(abs)).digest('hex') : 'dir';
  }
  return out;
}

/** `swiftdeploy init` on the manifest; the run's wall time, and its own peak RSS and CPU time. */
async function init(manifest: string | Buffer, args: string[] = []) {
  const { dir, file } = await projectWith(manifest);
  const probeOut = path.join(os.tmpdir(), `swiftdeploy-rusage-${process.pid}-${temps.length}.json`);
  temps.push(probeOut);
  const before = await snapshot(dir);
  const started = performance.now();
  const r = await execa(process.execPath, ['--import', PROBE, BIN, ...args, 'init'], {
    cwd: dir,
    reject: false,
    env: cleanEnv({ RUSAGE_PROBE_OUT: probeOut }),
    extendEnv: false,
    stdin: 'ignore',
  });
  const wallMs = performance.now() - started;
  const usage = JSON.parse(await readFile(probeOut, 'utf8')) as { maxRssKb: number; cpuMs: number };
  expect(await snapshot(dir), 'a refused manifest must leave the directory as it was').toEqual(before);
  return { ...r, file, wallMs, ...usage };
}

/** The refusal every case here must be: exit 2, the error and nothing else on stderr, bounded. */
function expectRefusal(r: Awaited<ReturnType<typeof init>>, line: number, col: number): string {
  expect(r.exitCode, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^error: /);
  expect(r.stderr, 'no Node warning or other noise on stderr').not.toMatch(/Warning|trace-warnings|\n\S/);
  expect(r.stderr).toContain(`${r.file}:${line}:${col}: `);
  expect(r.stderr.length).toBeLessThan(2000);
  return r.stderr;
}

const LAUGHS = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
  .concat('bcdefghi'.split('').map((x, i) => `${x}: &${x} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]`))
  .join('\n');

beforeAll(() => {
  if (!existsSync(fileURLToPath(new URL('../../dist/bundle/main.js', import.meta.url)))) {
    throw new Error('dist/ is missing: run `npm run build`');
  }
});

describe('manifest input outside the exit-2 contract (issue #11, class 8)', { timeout: 60_000 }, () => {
  it('the control: the default manifest inits (else the refusals below prove nothing)', async () => {
    const { dir } = await projectWith(DEFAULT);
    const r = await execa(BIN, ['init'], { cwd: dir, reject: false, env: cleanEnv(), extendEnv: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('billion laughs (9^9 values from 500 bytes): exit 2 at the alias, fast and in bounded memory', async () => {
    const r = await init(`${LAUGHS}\n`);
    // Line 5 is `e: &e [*d, ...`: the first alias that takes the expansion past the limit.
    expect(expectRefusal(r, 5, 8)).toContain('e.0: alias *d takes the manifest past 10000 values');
    expect(r.cpuMs, 'CPU time of the refusing process').toBeLessThan(2000);
    expect(r.wallMs).toBeLessThan(10_000); // wall time is shared with other test runs: loose
    expect(r.maxRssKb, 'peak RSS of the refusing process').toBeLessThan(200 * 1024);
  });

  it('alias doubling (2^40 values), under a valid-looking key: exit 2, fast and bounded', async () => {
    const lines = ['x0: &x0 [1, 1]'];
    for (let i = 1; i <= 40; i++) lines.push(`x${i}: &x${i} [*x${i - 1}, *x${i - 1}]`);
    const r = await init(DEFAULT.replace('  port: 3000\n', `  port: 3000\n  extra:\n${lines.map((l) => `    ${l}`).join('\n')}\n`));
    // x_i expands to 2^(i+2)-1 values; the aliases through x10 add 8,172, the first in x11 another 4,095.
    expect(expectRefusal(r, 21, 16)).toContain('services.extra.x11.0: alias *x10 takes the manifest past 10000 values');
    expect(r.cpuMs).toBeLessThan(2000);
    expect(r.maxRssKb).toBeLessThan(200 * 1024);
  });

  it('an alias to an undefined anchor: exit 2 at the alias', async () => {
    const r = await init(DEFAULT.replace('  port: 3000\n', '  port: *port\n'));
    expect(expectRefusal(r, 8, 9)).toContain('services.port: alias *port names no anchor');
  });

  it('a 20 MB value: exit 2 at once, the message bounded; a 40 KB value is quoted to 80 characters', async () => {
    const huge = await init(DEFAULT.replace('version: "1.0.0"', `version: "${'x'.repeat(20_000_000)}"`));
    expect(huge.exitCode, huge.stderr.slice(0, 500)).toBe(2);
    expect(huge.stderr).toContain(`expected a manifest of at most 65536 bytes (64 KiB; a manifest is a few KB), got ${Buffer.byteLength(DEFAULT) - '1.0.0'.length + 20_000_000} bytes; is this the right file?`);
    expect(huge.stderr.length).toBeLessThan(500);
    expect(huge.cpuMs).toBeLessThan(2000);
    expect(huge.maxRssKb).toBeLessThan(200 * 1024);

    const r = await init(DEFAULT.replace('version: "1.0.0"', `version: "${'x'.repeat(40_000)}"`));
    expect(expectRefusal(r, 10, 12)).toMatch(/services\.version: expected a version string .*, got "x{80}"…\(40000 bytes\)$/);
  });

  it('hundreds of problems: twenty listed, the rest counted', async () => {
    const keys = Array.from({ length: 500 }, (_, i) => `bogus_${i}: 1`).join('\n');
    const r = await init(`${DEFAULT}${keys}\n`, []);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('500 problems (the first 20 are listed)');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(22);
    expect(r.stderr).toContain(`${r.file}:${APPENDED}:1: bogus_0: unknown key`);
    expect(r.stderr.trimEnd()).toMatch(/\n {2}… and 480 more problems$/);
  });

  it('--json carries the listed problems and how many were left out', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `bogus_${i}: 1`).join('\n');
    const r = await init(`${DEFAULT}${keys}\n`, ['--json']);
    expect(r.exitCode).toBe(2);
    const doc = JSON.parse(r.stdout) as { error: { problems: unknown[]; omitted: number } };
    expect(doc.error.problems).toHaveLength(20);
    expect(doc.error.omitted).toBe(10);
  });

  for (const [name, encode, bom] of [
    ['UTF-16 LE', (s: string) => Buffer.from(s, 'utf16le'), [0xff, 0xfe]],
    ['UTF-16 BE', (s: string) => Buffer.from(s, 'utf16le').swap16(), [0xfe, 0xff]],
  ] as const) {
    for (const withBom of [true, false]) {
      it(`a ${name} file${withBom ? '' : ' without a byte-order mark'}: one line saying so, not kilobytes of NULs`, async () => {
        const body = encode(DEFAULT);
        const r = await init(withBom ? Buffer.concat([Buffer.from(bom), body]) : body);
        const stderr = expectRefusal(r, 1, 1);
        expect(stderr).toContain(`not UTF-8 (looks like ${name}`);
        expect(stderr).toContain('save it as UTF-8');
        expect(stderr).not.toContain('\\u0000');
      });
    }
  }

  it('a UTF-8 byte-order mark is fine: the file loads and inits', async () => {
    const { dir } = await projectWith(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(DEFAULT)]));
    const r = await execa(BIN, ['init'], { cwd: dir, reject: false, env: cleanEnv(), extendEnv: false });
    expect(r.exitCode, r.stderr).toBe(0);
  });

  it('a Latin-1 byte in an otherwise UTF-8 file: named with its offset, line and column', async () => {
    const bytes = Buffer.from(DEFAULT.replace('oncall@', 'onc\u00e9ll@'), 'latin1');
    const r = await init(bytes);
    const offset = Buffer.from(DEFAULT).indexOf('oncall@') + 3;
    expect(expectRefusal(r, 22, 21)).toContain(`not valid UTF-8: byte 0xE9 at offset ${offset} (line 22, column 21)`);
  });

  for (const [what, yaml, line, col] of [
    ['? [a, b]\\n: c', '? [a, b]\n: c\n', APPENDED, 3],
    ['{a: 1}: x', '{a: 1}: x\n', APPENDED, 1],
  ] as const) {
    it(`a complex mapping key (${what}): refused at the key, and no Node warning on stderr`, async () => {
      const r = await init(`${DEFAULT}${yaml}`);
      expect(expectRefusal(r, line, col)).toContain('expected a key name, got a ');
    });
  }

  it('opa.url with U+202E (right-to-left override): refused, the character shown escaped', async () => {
    const r = await init(DEFAULT.replace('  timeout_ms: 2000\n', '  timeout_ms: 2000\n  url: "http://opa.internal:8181/\u202etxt.exe"\n'));
    const stderr = expectRefusal(r, lineOf('  timeout_ms: 2000') + 1, 8);
    expect(stderr).toContain('opa.url: expected an http(s) URL');
    expect(stderr).toContain('contains U+202E (a bidirectional-text control)');
    expect(stderr).toContain('\\u202e');
    expect(stderr).not.toContain('\u202e');
  });

  it('opa.port equal to nginx.port: refused, naming both keys and places', async () => {
    const r = await init(DEFAULT.replace('  port: 8181\n', '  port: 8080\n'));
    expect(expectRefusal(r, lineOf('  port: 8181'), 9)).toContain(`opa.port: expected a host port other than nginx.port (8080, at ${r.file}:${lineOf('  port: 8080')}:9)`);
  });
});
