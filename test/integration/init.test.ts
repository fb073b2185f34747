import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, unlink, writeFile, copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

/**
 * `swiftdeploy init` and the CLI framework, driven as a real process in temp directories.
 * Assumes dist/ is fresh (`npm test` builds first).
 */
const BIN = fileURLToPath(new URL('../../bin/swiftdeploy', import.meta.url));
const REPO_MANIFEST = fileURLToPath(new URL('../../manifest.yaml', import.meta.url));
const GOLDEN = fileURLToPath(new URL('../fixtures/golden/', import.meta.url));
const PACKAGE = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const ANSI = /\u001b\[/;

/** The environment every run starts from: nothing inherited that would change what the CLI reads. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('SWIFTDEPLOY_') && k !== 'NO_COLOR' && k !== 'FORCE_COLOR') env[k] = v;
  }
  return { ...env, ...extra };
}

function cli(args: string[], cwd: string, env: Record<string, string> = {}) {
  return execa(BIN, args, { cwd, reject: false, env: cleanEnv(env), extendEnv: false, stdin: 'ignore' });
}

const temps: string[] = [];
async function project(withPolicies = false): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'swiftdeploy-init-'));
  temps.push(dir);
  await copyFile(REPO_MANIFEST, path.join(dir, 'manifest.yaml'));
  if (withPolicies) await mkdir(path.join(dir, 'policies'));
  return dir;
}

afterEach(async () => {
  await Promise.all(temps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/**
 * Every file under `dir` with the sha256 of its bytes: a snapshot to prove nothing was written.
 * Unless `strict`, the project's own records are left out: init takes the lock in .swiftdeploy/ and
 * appends to history.jsonl (a refusal is worth recording too); only the generated files must not move.
 */
async function snapshot(dir: string, strict = false): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const abs = path.join(entry.parentPath, entry.name);
    const rel = path.relative(dir, abs);
    if (!strict && (rel === 'history.jsonl' || rel.split(path.sep)[0] === '.swiftdeploy')) continue;
    out[rel] = entry.isFile() ? createHash('sha256').update(await readFile(abs)).digest('hex') : 'dir';
  }
  return out;
}

const read = (dir: string, rel: string) => readFile(path.join(dir, rel), 'utf8');

beforeAll(() => {
  if (!existsSync(fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url)))) {
    throw new Error('dist/ is missing: run `npm run build` (or `npm test`, which builds first)');
  }
});

describe('swiftdeploy init', { timeout: 90_000 }, () => {
  it('writes nginx/nginx.conf and docker-compose.yml, then reports them unchanged', async () => {
    const dir = await project();
    const first = await cli(['init'], dir);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout.split('\n')).toEqual(['wrote     nginx/nginx.conf', 'wrote     docker-compose.yml']);
    for (const rel of ['nginx/nginx.conf', 'docker-compose.yml']) {
      expect((await read(dir, rel)).split('\n')[0]).toContain('DO NOT HAND-EDIT');
    }

    const before = await snapshot(dir);
    const inode = (await stat(path.join(dir, 'docker-compose.yml'))).ino;
    const again = await cli(['init'], dir);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout.split('\n')).toEqual(['unchanged nginx/nginx.conf', 'unchanged docker-compose.yml']);
    expect(await snapshot(dir)).toEqual(before);
    // Not even rewritten with the same bytes: an atomic rewrite would give the file a new inode.
    expect((await stat(path.join(dir, 'docker-compose.yml'))).ino).toBe(inode);
  });

  it('deleting both files and running init again restores the same bytes', async () => {
    const dir = await project();
    expect((await cli(['init'], dir)).exitCode).toBe(0);
    const before = await snapshot(dir);
    await unlink(path.join(dir, 'nginx/nginx.conf'));
    await unlink(path.join(dir, 'docker-compose.yml'));
    const r = await cli(['init'], dir);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('a project with its own policies/ gets exactly the golden files', async () => {
    const dir = await project(true);
    expect((await cli(['init'], dir)).exitCode).toBe(0);
    expect(await read(dir, 'nginx/nginx.conf')).toBe(await readFile(path.join(GOLDEN, 'nginx.conf'), 'utf8'));
    expect(await read(dir, 'docker-compose.yml')).toBe(await readFile(path.join(GOLDEN, 'docker-compose.yml'), 'utf8'));
  });

  it('refuses to overwrite a hand-edited file (exit 1, names it, touches nothing); --force overwrites', async () => {
    const dir = await project();
    expect((await cli(['init'], dir)).exitCode).toBe(0);
    const conf = path.join(dir, 'nginx/nginx.conf');
    const original = await readFile(conf, 'utf8');
    await writeFile(conf, original.replace('proxy_read_timeout 30s;', 'proxy_read_timeout 300s;'));
    // A manifest change too, so docker-compose.yml would be rewritten if init did not check first.
    const manifest = path.join(dir, 'manifest.yaml');
    await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('port: 3000', 'port: 3001'));
    const before = await snapshot(dir);

    const refused = await cli(['init'], dir);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('nginx/nginx.conf was edited by hand');
    expect(refused.stderr).not.toContain('docker-compose.yml');
    expect(refused.stderr).toContain('--force');
    expect(refused.stdout).toBe('');
    expect(await snapshot(dir)).toEqual(before);

    const forced = await cli(['init', '--force'], dir);
    expect(forced.exitCode, forced.stderr).toBe(0);
    const now = await readFile(conf, 'utf8');
    expect(now).toContain('proxy_read_timeout 30s;');
    expect(now).toContain('http://app:3001;');
    expect(await read(dir, 'docker-compose.yml')).toContain('PORT: "3001"');
  });

  it('refuses a docker-compose.yml it did not write, and writes nothing else either', async () => {
    const dir = await project();
    const foreign = 'services:\n  web:\n    image: "nginx"\n';
    await writeFile(path.join(dir, 'docker-compose.yml'), foreign);
    const before = await snapshot(dir);
    const r = await cli(['init'], dir);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('docker-compose.yml exists and was not generated by swiftdeploy');
    expect(await snapshot(dir)).toEqual(before);
    expect(existsSync(path.join(dir, 'nginx'))).toBe(false);
  });

  it('an invalid manifest exits 2, names key path and line, and writes nothing', async () => {
    const dir = await project();
    const manifest = path.join(dir, 'manifest.yaml');
    const text = await readFile(manifest, 'utf8');
    await writeFile(manifest, text.replace('port: 3000', 'port: "80a"').replace('driver_type: bridge', 'driver_typ: bridge'));
    const before = await snapshot(dir, true);
    const r = await cli(['init'], dir);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${manifest}: 3 problems`);
    expect(r.stderr).toContain(`${manifest}:8:9: services.port: expected an integer from 1 to 65535, got "80a"`);
    expect(r.stderr).toContain(`${manifest}:24:1: network.driver_type: expected one of "bridge", "overlay", "macvlan", "ipvlan", but the key is missing`);
    expect(r.stderr).toMatch(/:26:3: network\.driver_typ: unknown key; did you mean "network\.driver_type"\?/);
    expect(await snapshot(dir, true)).toEqual(before);
  });

  it('an injection attempt exits 2 and nothing is rendered', async () => {
    const dir = await project();
    const manifest = path.join(dir, 'manifest.yaml');
    const text = await readFile(manifest, 'utf8');
    await writeFile(manifest, text.replace('error_contact: oncall@example.com', `error_contact: 'oncall@example.com"; return 200 "pwned'`));
    const before = await snapshot(dir, true);
    const r = await cli(['init'], dir);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('nginx.error_contact: expected an e-mail address');
    expect(r.stderr).toContain('refusing to render it');
    expect(await snapshot(dir, true)).toEqual(before);
  });

  it('a missing manifest exits 2 and says how to point at one', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'swiftdeploy-init-'));
    temps.push(dir);
    const r = await cli(['init'], dir);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('cannot read the manifest: no such file');
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('finding the manifest', { timeout: 90_000 }, () => {
  it('-f other/manifest.yaml from another cwd writes next to that manifest', async () => {
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'swiftdeploy-cwd-'));
    temps.push(cwd);
    await mkdir(path.join(cwd, 'other'));
    await copyFile(REPO_MANIFEST, path.join(cwd, 'other', 'manifest.yaml'));
    const r = await cli(['-f', 'other/manifest.yaml', 'init'], cwd);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('other/docker-compose.yml');
    expect(existsSync(path.join(cwd, 'other', 'nginx', 'nginx.conf'))).toBe(true);
    expect(existsSync(path.join(cwd, 'other', 'docker-compose.yml'))).toBe(true);
    expect((await readdir(cwd)).sort()).toEqual(['other']);
    // The flag works after the subcommand too.
    const again = await cli(['init', '--manifest', path.join(cwd, 'other', 'manifest.yaml')], os.tmpdir());
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toContain('unchanged');
  });

  it('SWIFTDEPLOY_MANIFEST points at the manifest; -f wins over it', async () => {
    const a = await project();
    const b = await project();
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'swiftdeploy-cwd-'));
    temps.push(cwd);
    const viaEnv = await cli(['init'], cwd, { SWIFTDEPLOY_MANIFEST: path.join(a, 'manifest.yaml') });
    expect(viaEnv.exitCode, viaEnv.stderr).toBe(0);
    expect(existsSync(path.join(a, 'docker-compose.yml'))).toBe(true);
    expect(await readdir(cwd)).toEqual([]);
    const flagWins = await cli(['-f', path.join(b, 'manifest.yaml'), 'init'], cwd, { SWIFTDEPLOY_MANIFEST: path.join(a, 'manifest.yaml') });
    expect(flagWins.exitCode, flagWins.stderr).toBe(0);
    expect(existsSync(path.join(b, 'docker-compose.yml'))).toBe(true);
  });
});

describe('CLI basics', { timeout: 90_000 }, () => {
  it('--version prints the package version', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await cli([flag], os.tmpdir());
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe(PACKAGE.version);
    }
  });

  it('--help lists the commands, global options and exit codes; each command has an Example', async () => {
    const r = await cli(['--help'], os.tmpdir());
    expect(r.exitCode).toBe(0);
    for (const s of ['init', 'validate', '--manifest', '--json', '--no-color', '--actor', 'SWIFTDEPLOY_MANIFEST', 'Exit codes:']) {
      expect(r.stdout).toContain(s);
    }
    const commands = [...r.stdout.matchAll(/^ {2}([a-z][a-z-]+)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    expect(commands).toEqual(expect.arrayContaining(['init', 'validate']));
    for (const command of commands) {
      const h = await cli([command, '--help'], os.tmpdir());
      expect(h.exitCode, command).toBe(0);
      expect(h.stdout, `${command} --help`).toMatch(/Examples?:\n {2}\$ swiftdeploy /);
    }
  });

  it('an unknown flag, on the program or on a command, exits 2 with usage on stderr', async () => {
    for (const args of [['--bogus'], ['init', '--bogus'], ['validate', '--bogus']]) {
      const r = await cli(args, os.tmpdir());
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr).toContain("unknown option '--bogus'");
      expect(r.stdout).toBe('');
    }
    const unknown = await cli(['deploi'], os.tmpdir());
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'deploi'");
  });
});

describe('--json and colour', { timeout: 90_000 }, () => {
  it('init --json prints one parseable JSON document on stdout, with no ANSI', async () => {
    const dir = await project();
    const r = await cli(['--json', 'init'], dir);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(ANSI);
    expect(JSON.parse(r.stdout)).toEqual({
      ok: true,
      files: [
        { path: 'nginx/nginx.conf', action: 'written' },
        { path: 'docker-compose.yml', action: 'written' },
      ],
    });
  });

  it('errors are JSON on stdout too: invalid manifest and usage error', async () => {
    const dir = await project();
    const manifest = path.join(dir, 'manifest.yaml');
    await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('port: 8080', 'port: 0'));
    const bad = await cli(['init', '--json'], dir);
    expect(bad.exitCode).toBe(2);
    const doc = JSON.parse(bad.stdout) as { ok: boolean; error: { type: string; exit_code: number; problems: Array<{ path: string; line: number }> } };
    expect(doc.ok).toBe(false);
    expect(doc.error).toMatchObject({ type: 'ManifestError', exit_code: 2 });
    expect(doc.error.problems).toEqual([expect.objectContaining({ path: 'nginx.port', line: 20 })]);

    const usage = await cli(['--json', 'init', '--bogus'], dir);
    expect(usage.exitCode).toBe(2);
    expect(JSON.parse(usage.stdout)).toMatchObject({ ok: false, error: { type: 'UsageError', exit_code: 2 } });
  });

  // Colour is only ever drawn on a terminal, so a pipe proves nothing: run under a pseudo-terminal.
  const script = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
  it.runIf(script)('colour on a terminal; none with NO_COLOR=1, --no-color or --json', async () => {
    const underTty = async (args: string, env: Record<string, string> = {}) => {
      const dir = await project();
      const r = await execa(script!, ['-qec', `${BIN} ${args}`, '/dev/null'], { cwd: dir, reject: false, env: cleanEnv(env), extendEnv: false });
      expect(r.exitCode, r.stdout).toBe(0);
      expect(r.stdout).toContain('nginx.conf');
      return r.stdout;
    };
    expect(await underTty('init')).toMatch(ANSI); // the control: without it the other three prove nothing
    expect(await underTty('init', { NO_COLOR: '1' })).not.toMatch(ANSI);
    expect(await underTty('--no-color init')).not.toMatch(ANSI);
    expect(await underTty('--json init')).not.toMatch(ANSI);
  });
  if (!script) console.log('skipped the terminal colour test: no `script` binary (util-linux) to make a pseudo-terminal');
});
