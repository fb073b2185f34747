import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyHistory } from '../../src/history/ledger.js';
import { readEventRecords } from '../helpers/history.js';
import { bundleWalRunner } from '../helpers/wal-runner.js';

/**
 * A ledger that cannot be written. The ledger lives on its own small tmpfs inside the project
 * (observability.history_file: ledger/history.jsonl), remounted read-only or filled up; root is not
 * stopped by file modes, a read-only mount stops everyone. Mutations are blocked before any change
 * with exit 7; rollback (the file half, through the lifecycle's own functions in a child process)
 * proceeds, says so loudly, and its records reach the ledger with the next mutating command.
 */
const BIN = fileURLToPath(new URL('../../bin/swiftdeploy', import.meta.url));
const REPO_MANIFEST = fileURLToPath(new URL('../../manifest.yaml', import.meta.url));

function canMount(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  const probe = spawnSync('mount', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : 'no mount(8)';
}
const noMount = canMount();
if (noMount) console.log(`skipped the unwritable-ledger tests: ${noMount} (they mount a small tmpfs)`);

function env(): Record<string, string> {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('SWIFTDEPLOY_')) e[k] = v;
  return { ...e, SWIFTDEPLOY_ACTOR: 'wal-test', NO_COLOR: '1' };
}
const cli = (args: string[], cwd: string) => execa(process.execPath, [BIN, ...args], { cwd, reject: false, env: env(), extendEnv: false, stdin: 'ignore' });

const sha = (file: string): string | null => (existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : null);
const mounts: string[] = [];
const temps: string[] = [];
let runner: string;

function mount(args: string[]): void {
  const r = spawnSync('mount', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount ${args.join(' ')}: ${r.stderr}`);
}

/** A project whose ledger is on a fresh tmpfs of `size`, with init already run (so there is history). */
async function project(size = '1m'): Promise<{ dir: string; ledgerDir: string; historyFile: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'swiftdeploy-ledger-'));
  temps.push(dir);
  const ledgerDir = path.join(dir, 'ledger');
  await mkdir(ledgerDir);
  mount(['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', ledgerDir]);
  mounts.push(ledgerDir);
  const text = (await readFile(REPO_MANIFEST, 'utf8')).replace('history_file: history.jsonl', 'history_file: ledger/history.jsonl');
  await writeFile(path.join(dir, 'manifest.yaml'), text);
  const r = await cli(['init'], dir);
  expect(r.exitCode, r.stderr).toBe(0);
  return { dir, ledgerDir, historyFile: path.join(ledgerDir, 'history.jsonl') };
}

const GENERATED = ['nginx/nginx.conf', 'docker-compose.yml', 'manifest.yaml'];
const snapshot = (dir: string) => Object.fromEntries(GENERATED.map((g) => [g, sha(path.join(dir, g))]));

async function changeManifestPort(dir: string): Promise<void> {
  const file = path.join(dir, 'manifest.yaml');
  await writeFile(file, (await readFile(file, 'utf8')).replace('port: 3000', 'port: 3001'));
}

/** Fills a tmpfs up to the last byte. */
async function fill(dir: string): Promise<void> {
  const fh = await open(path.join(dir, 'filler'), 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) await fh.write(chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await fh.close().catch(() => undefined);
  }
  // And the last partial page, byte by byte.
  const fh2 = await open(path.join(dir, 'filler2'), 'w');
  try {
    for (;;) await fh2.write(Buffer.alloc(1, 1));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await fh2.close().catch(() => undefined);
  }
}

const records = readEventRecords;

beforeAll(async () => {
  if (!noMount) runner = await bundleWalRunner();
});
afterAll(async () => {
  for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

describe.skipIf(noMount !== undefined)('a ledger that cannot be written', { timeout: 120_000 }, () => {
  it('read-only: init is blocked before any change, exit 7, with a message that says why and what to do', async () => {
    const { dir, ledgerDir, historyFile } = await project();
    await changeManifestPort(dir);
    const ledgerBefore = readFileSync(historyFile);
    const before = snapshot(dir);
    mount(['-o', 'remount,ro', ledgerDir]);
    const r = await cli(['init'], dir);
    expect(r.exitCode, r.stderr).toBe(7);
    expect(r.stderr).toContain(`cannot append to ${historyFile}`);
    expect(r.stderr).toMatch(/EROFS|read-only/);
    expect(r.stderr).toContain('init stopped before changing anything');
    expect(r.stdout).toBe('');
    expect(snapshot(dir)).toEqual(before);
    expect(readFileSync(historyFile).equals(ledgerBefore)).toBe(true);
    // Writable again: the same init goes through and records what it changed.
    mount(['-o', 'remount,rw', ledgerDir]);
    const again = await cli(['init'], dir);
    expect(again.exitCode, again.stderr).toBe(0);
    const last = (await records(historyFile)).at(-1)!;
    expect(last.payload).toMatchObject({ action: 'init', stage: 'completed' });
  });

  it('full: init is blocked before any change, exit 7 (ENOSPC)', async () => {
    const { dir, ledgerDir, historyFile } = await project('256k');
    await changeManifestPort(dir);
    const ledgerBefore = readFileSync(historyFile);
    const before = snapshot(dir);
    await fill(ledgerDir);
    const r = await cli(['init'], dir);
    expect(r.exitCode, r.stderr).toBe(7);
    expect(r.stderr).toMatch(/ENOSPC|no space left/i);
    expect(r.stderr).toContain('init stopped before changing anything');
    expect(snapshot(dir)).toEqual(before);
    expect(readFileSync(historyFile).equals(ledgerBefore)).toBe(true);
  });

  it('promote (the file change) is blocked too; rollback proceeds loudly, and the next command records it', async () => {
    const { dir, ledgerDir, historyFile } = await project();
    const manifest = path.join(dir, 'manifest.yaml');
    // To canary while the ledger is writable.
    let r = await execa(process.execPath, [runner, manifest, 'canary', 'promote'], { reject: false, env: env() });
    expect(r.exitCode, r.stderr).toBe(0);
    const canary = snapshot(dir);
    const ledgerBefore = readFileSync(historyFile);
    mount(['-o', 'remount,ro', ledgerDir]);

    r = await execa(process.execPath, [runner, manifest, 'stable', 'promote'], { reject: false, env: env() });
    expect(r.exitCode, r.stderr).toBe(7);
    expect(r.stderr).toContain('promote stopped before changing anything');
    expect(snapshot(dir)).toEqual(canary);

    r = await execa(process.execPath, [runner, manifest, 'stable', 'rollback'], { reject: false, env: env() });
    expect(r.stdout).toContain('switched to stable');
    expect(r.exitCode, r.stderr).toBe(7);
    expect(r.stderr).toContain(`NOT RECORDED in ${historyFile}: rollback intent`);
    expect(r.stderr).toContain(`NOT RECORDED in ${historyFile}: rollback completed`);
    expect(r.stderr).toContain(`rollback completed, but in ${historyFile} 2 records could not be appended`);
    expect(readFileSync(manifest, 'utf8')).toMatch(/^ {2}mode: stable/m);
    expect(readFileSync(historyFile).equals(ledgerBefore)).toBe(true);
    const spoolDir = path.join(dir, '.swiftdeploy', 'unrecorded');
    expect(await readdir(spoolDir)).toHaveLength(1);

    // The ledger is writable again: the next mutating command appends what rollback could not.
    mount(['-o', 'remount,rw', ledgerDir]);
    const next = await cli(['init'], dir);
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stderr).toContain('appended 2 records that an earlier rollback could not write');
    expect(await readdir(spoolDir)).toEqual([]);
    const all = await records(historyFile);
    const intent = all.find((x) => x.payload.action === 'rollback' && x.payload.stage === 'intent')!;
    const outcome = all.find((x) => x.payload.action === 'rollback' && x.payload.stage === 'completed')!;
    expect(intent.payload).toMatchObject({ recorded_late: true, happened_at: expect.any(String) });
    expect(outcome.payload).toMatchObject({ intent_seq: intent.seq, intent_id: intent.payload.intent_id, recorded_late: true });
    expect(outcome.actor).toBe('wal-test');
    // The rollback's files as recorded are the files on disk.
    for (const f of (outcome.payload.files as Array<{ path: string; sha256: string; state: string }>)) {
      expect(f.state).toBe('applied');
      expect(f.sha256).toBe(sha(path.join(dir, f.path)));
    }
    expect((await verifyHistory(historyFile)).ok).toBe(true);
    // Appended once: another mutating command finds nothing more to append.
    const count = all.length;
    expect((await cli(['init'], dir)).exitCode).toBe(0);
    expect((await records(historyFile)).length).toBe(count);
  });
});
