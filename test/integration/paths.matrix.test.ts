/**
 * Path safety, driven through the built CLI in real processes: every file swiftdeploy owns (the
 * manifest, the ledger, the report, the generated files, the lock, the chaos token), spelled every
 * way a path can name it (directly, `./`, a trailing `/`, `.`, `..` inside, through a symlinked file
 * or directory, as a hard link), must never be overwritten by a write meant for another, and no
 * write may leave the project through a symlink. Each refusal is exit 2, names the path, and
 * changes nothing (a byte-and-inode snapshot of the project and of a directory outside it).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testManifest } from '../helpers/manifest.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/swiftdeploy');

function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('SWIFTDEPLOY_')) env[k] = v;
  return { ...env, NO_COLOR: '1', SWIFTDEPLOY_ACTOR: 'matrix@test' };
}
const cli = (args: string[], cwd: string) => execa(BIN, args, { cwd, reject: false, env: cleanEnv(), extendEnv: false, stdin: 'ignore' });

/** Every entry under `dir` (symlinks not followed): file bytes hash, inode and link count; link targets. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const abs = path.join(entry.parentPath, entry.name);
    const st = await lstat(abs);
    const rel = path.relative(dir, abs);
    if (st.isSymbolicLink()) out[rel] = `-> ${await readlink(abs)}`;
    else if (st.isFile()) out[rel] = `${createHash('sha256').update(await readFile(abs)).digest('hex')} ino ${st.ino} nlink ${st.nlink}`;
    else out[rel] = 'dir';
  }
  return out;
}

const temps: string[] = [];
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}
afterAll(() => Promise.all(temps.map((d) => rm(d, { recursive: true, force: true }))));

/** A project after `init`, with a (stale) lock and a chaos token planted so every owned file exists. */
async function initialisedProject(manifest = testManifest()): Promise<string> {
  const dir = await tempDir('sd-paths-');
  await writeFile(path.join(dir, 'manifest.yaml'), manifest);
  const init = await cli(['init'], dir);
  expect(init.exitCode, init.stderr).toBe(0);
  return dir;
}

async function plantState(dir: string): Promise<void> {
  await writeFile(path.join(dir, '.swiftdeploy/lock'), `${JSON.stringify({ version: 1, id: 'x', actor: 'a', host: 'elsewhere', pid: 1, command: 'deploy', startedAt: '2026-01-01T00:00:00Z' })}\n`);
  await writeFile(path.join(dir, '.swiftdeploy/chaos-token'), `${'t'.repeat(43)}\n`, { mode: 0o600 });
}

beforeAll(() => {
  if (!existsSync(path.join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build`');
});

const OWNED = ['manifest.yaml', 'history.jsonl', 'nginx/nginx.conf', 'docker-compose.yml', '.swiftdeploy/lock', '.swiftdeploy/chaos-token'] as const;
const slug = (rel: string) => rel.replace(/[/.]/g, '_');

/** The spellings of one owned file (links are created in the fixture under these names). */
function spellings(rel: string): Array<[string, string]> {
  const [top, ...rest] = rel.split('/');
  return [
    ['direct', rel],
    ['./', `./${rel}`],
    ['trailing /', `${rel}/`],
    ['.. inside', `nginx/../${rel}`],
    ['. inside', rest.length > 0 ? `${top}/./${rest.join('/')}` : `./././${rel}`],
    ['symlinked file', `sl-${slug(rel)}.md`],
    ['symlinked directory', `alias/${rel}`],
    ['hard link', `hl-${slug(rel)}.md`],
  ];
}

describe('audit --out never replaces a file swiftdeploy owns', { timeout: 180_000 }, () => {
  let dir: string;
  let before: Record<string, string>;
  beforeAll(async () => {
    dir = await initialisedProject();
    await plantState(dir);
    await symlink('.', path.join(dir, 'alias'));
    await symlink('.swiftdeploy', path.join(dir, 'state-alias'));
    for (const rel of OWNED) {
      await symlink(rel, path.join(dir, `sl-${slug(rel)}.md`));
      await link(path.join(dir, rel), path.join(dir, `hl-${slug(rel)}.md`));
    }
    before = await snapshot(dir);
  });

  const cases: Array<[string, string, string]> = [];
  for (const rel of OWNED) for (const [how, spelled] of spellings(rel)) cases.push([rel, how, spelled]);
  cases.push(['.swiftdeploy/lock', 'symlinked state directory', 'state-alias/lock']);
  for (const dirSpelling of ['.', './', 'alias', 'alias/', 'nginx', 'nginx/', 'nginx/.', '.swiftdeploy', '.swiftdeploy/', 'nginx/new.md', '.swiftdeploy/new.md']) {
    cases.push(['(a directory)', 'directory', dirSpelling]);
  }

  it.each(cases)('%s spelled %s (%s): exit 2, nothing changed', async (_rel, _how, spelled) => {
    const r = await cli(['audit', '--out', spelled], dir);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(2);
    expect(r.stderr).toContain(`--out ${JSON.stringify(spelled)}`);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('a report path of its own is still written, and the ledger stays appendable', async () => {
    const r = await cli(['audit', '--out', './reports-ok.md'], dir);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await readFile(path.join(dir, 'reports-ok.md'), 'utf8')).toMatch(/^# Audit report/);
    await rm(path.join(dir, 'reports-ok.md'));
    expect(await snapshot(dir)).toEqual(before);
  });
});

describe('observability.history_file and audit_report may not name an owned path, however spelled', { timeout: 180_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await initialisedProject();
    await symlink('.', path.join(dir, 'alias'));
    await symlink('.swiftdeploy', path.join(dir, 'state-alias'));
    await symlink('manifest.yaml', path.join(dir, 'to-manifest.jsonl'));
    await symlink('history.jsonl', path.join(dir, 'to-history.md'));
    await symlink('nginx', path.join(dir, 'to-nginx'));
    await link(path.join(dir, 'manifest.yaml'), path.join(dir, 'hard-manifest.jsonl'));
    await link(path.join(dir, 'history.jsonl'), path.join(dir, 'hard-history.md'));
    await link(path.join(dir, 'docker-compose.yml'), path.join(dir, 'hard-compose.jsonl'));
  });

  // Each case rewrites manifest.yaml in place (same inode, so its hard link and symlink stay valid),
  // then proves the run changed nothing at all.
  async function runWith(key: 'history_file' | 'audit_report', value: string, command: string[]) {
    await writeFile(path.join(dir, 'manifest.yaml'), testManifest({ [`observability.${key}`]: value }));
    const before = await snapshot(dir);
    const r = await cli(command, dir);
    return { r, before };
  }

  const history: Array<[string, string]> = [
    ['the manifest, direct', 'manifest.yaml'],
    ['the manifest, ./', './manifest.yaml'],
    ['the manifest, trailing /', 'manifest.yaml/'],
    ['the project directory, .', '.'],
    ['the project directory, ./', './'],
    ['the audit report', 'audit_report.md'],
    ['a generated file, . inside', './nginx/./nginx.conf'],
    ['a generated file, direct', 'docker-compose.yml'],
    ['the nginx/ directory', 'nginx'],
    ['inside nginx/', 'nginx/history.jsonl'],
    ['the lock', '.swiftdeploy/lock'],
    ['the chaos token', '.swiftdeploy/chaos-token'],
    ['the state directory, trailing /', '.swiftdeploy/'],
    ['the manifest, symlinked file', 'to-manifest.jsonl'],
    ['the manifest, symlinked directory', 'alias/manifest.yaml'],
    ['the lock, symlinked directory', 'state-alias/lock'],
    ['inside nginx/, symlinked directory', 'to-nginx/history.jsonl'],
    ['the manifest, hard link', 'hard-manifest.jsonl'],
    ['a generated file, hard link', 'hard-compose.jsonl'],
  ];
  it.each(history)('history_file: %s (%s): init exits 2, nothing changed', async (_what, value) => {
    const { r, before } = await runWith('history_file', value, ['init']);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(2);
    // Two keys naming one file: the problem is reported once, on the second key.
    expect(r.stderr).toMatch(value === 'audit_report.md' ? /observability\.audit_report: .*which is the history file/ : /observability\.history_file/);
    expect(await snapshot(dir)).toEqual(before);
  });

  const report: Array<[string, string]> = [
    ['the project directory, .', '.'],
    ['the project directory, ./', './'],
    ['the ledger, trailing /', 'history.jsonl/'],
    ['the ledger, direct', 'history.jsonl'],
    ['the ledger, ./', './history.jsonl'],
    ['the manifest, trailing /', 'manifest.yaml/'],
    ['inside nginx/', 'nginx/report.md'],
    ['the ledger, symlinked file', 'to-history.md'],
    ['the ledger, symlinked directory', 'alias/history.jsonl'],
    ['the ledger, hard link', 'hard-history.md'],
    ['the chaos token, symlinked directory', 'state-alias/chaos-token'],
  ];
  it.each(report)('audit_report: %s (%s): audit exits 2, nothing changed', async (_what, value) => {
    const { r, before } = await runWith('audit_report', value, ['audit']);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(2);
    expect(r.stderr).toContain('observability.audit_report');
    expect(await snapshot(dir)).toEqual(before);
  });
});

describe('no write leaves the project through a symlink or a hard link', { timeout: 180_000 }, () => {
  /** A fresh project (not initialised) and an outside directory holding `victim` files. */
  async function setup(): Promise<{ dir: string; outside: string }> {
    const dir = await tempDir('sd-escape-');
    const outside = await tempDir('sd-outside-');
    await writeFile(path.join(dir, 'manifest.yaml'), testManifest({ 'observability.history_file': 'logs/history.jsonl' }));
    await writeFile(path.join(outside, 'victim'), 'outside bytes\n', { mode: 0o644 });
    return { dir, outside };
  }

  const escapes: Array<[string, (dir: string, outside: string) => Promise<void>, string]> = [
    ['the history file is a symlink to a file outside', async (d, o) => {
      await mkdir(path.join(d, 'logs'));
      await symlink(path.join(o, 'victim'), path.join(d, 'logs/history.jsonl'));
    }, 'logs/history.jsonl'],
    ['the history file is a dangling symlink to outside', async (d, o) => {
      await mkdir(path.join(d, 'logs'));
      await symlink(path.join(o, 'new.jsonl'), path.join(d, 'logs/history.jsonl'));
    }, 'logs/history.jsonl'],
    ["the history file's directory is a symlink to outside", async (d, o) => {
      await symlink(o, path.join(d, 'logs'));
    }, 'logs'],
    ['the history file is a hard link to a file outside', async (d, o) => {
      await mkdir(path.join(d, 'logs'));
      await link(path.join(o, 'victim'), path.join(d, 'logs/history.jsonl'));
    }, 'logs/history.jsonl'],
    ['nginx/ is a symlink to outside', async (d, o) => {
      await symlink(o, path.join(d, 'nginx'));
    }, 'nginx'],
    ['nginx/nginx.conf is a symlink to a file outside', async (d, o) => {
      await mkdir(path.join(d, 'nginx'));
      await symlink(path.join(o, 'victim'), path.join(d, 'nginx/nginx.conf'));
    }, 'nginx/nginx.conf'],
    ['docker-compose.yml is a symlink to a file outside', async (d, o) => {
      await symlink(path.join(o, 'victim'), path.join(d, 'docker-compose.yml'));
    }, 'docker-compose.yml'],
    ['.swiftdeploy/ is a symlink to outside', async (d, o) => {
      await symlink(o, path.join(d, '.swiftdeploy'));
    }, '.swiftdeploy'],
  ];

  it.each(escapes)('%s: init exits 2 naming it and where it points, nothing written', async (_what, arrange, named) => {
    const { dir, outside } = await setup();
    await arrange(dir, outside);
    const [beforeIn, beforeOut] = [await snapshot(dir), await snapshot(outside)];
    const r = await cli(['init'], dir);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(2);
    expect(r.stderr).toContain(named);
    if (!_what.includes('hard link')) expect(r.stderr).toContain(outside);
    expect(await snapshot(outside)).toEqual(beforeOut);
    expect(await snapshot(dir)).toEqual(beforeIn);
  });

  it('lock status and lock release --force do not read or remove a lock outside', async () => {
    const { dir, outside } = await setup();
    await symlink(outside, path.join(dir, '.swiftdeploy'));
    await writeFile(path.join(outside, 'lock'), 'root:x:0:0:secret\n');
    const beforeOut = await snapshot(outside);
    for (const args of [['lock', 'status'], ['lock', 'release', '--force']]) {
      const r = await cli(args, dir);
      expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(outside);
      expect(`${r.stdout}${r.stderr}`).not.toContain('secret');
    }
    expect(await snapshot(outside)).toEqual(beforeOut);
  });

  it('audit --out through a directory symlinked outside exits 2 and writes nothing there', async () => {
    const dir = await initialisedProject();
    const outside = await tempDir('sd-outside-');
    await symlink(outside, path.join(dir, 'reports'));
    const r = await cli(['audit', '--out', 'reports/r.md'], dir);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`reports -> ${outside}`);
    expect(await readdir(outside)).toEqual([]);
  });

  it('a history file symlinked to another file inside the project is followed, and stays appendable', async () => {
    const dir = await tempDir('sd-inside-');
    await writeFile(path.join(dir, 'manifest.yaml'), testManifest({ 'observability.history_file': 'history.jsonl' }));
    await mkdir(path.join(dir, 'ledger'));
    await symlink('ledger/h.jsonl', path.join(dir, 'history.jsonl'));
    const r = await cli(['init'], dir);
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await lstat(path.join(dir, 'history.jsonl'))).isSymbolicLink()).toBe(true);
    expect(await readFile(path.join(dir, 'ledger/h.jsonl'), 'utf8')).toMatch(/"kind":"event"/);
    const verify = await cli(['audit', 'verify'], dir);
    expect(verify.exitCode, verify.stderr).toBe(0);
  });
});
