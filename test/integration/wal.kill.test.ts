import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyHistory } from '../../src/history/ledger.js';
import type { HistoryRecord } from '../../src/history/types.js';
import { WAL_RUNNER as RUNNER, bundleWalRunner } from '../helpers/wal-runner.js';

/**
 * kill -9 at random points of a change, then the next command: every change of a file must be in
 * history exactly once, every intent must have exactly one outcome, and no temp file of the writes
 * may be left. Real processes (the built CLI, or the runner for the file half of a promote), real
 * files, real SIGKILL. Iterations: SWIFTDEPLOY_KILL_RUNS (default 30 per case), stopping early (after
 * at least 10) when SWIFTDEPLOY_KILL_BUDGET_MS (default 150 s) is spent; the count run is printed.
 */
const BIN = fileURLToPath(new URL('../../bin/swiftdeploy', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist', import.meta.url));
const REPO_MANIFEST = fileURLToPath(new URL('../../manifest.yaml', import.meta.url));
const RUNS = Number(process.env.SWIFTDEPLOY_KILL_RUNS ?? 30);
/** Time bound per case on a slow machine: stop after this long, once at least MIN_RUNS are done. */
const BUDGET_MS = Number(process.env.SWIFTDEPLOY_KILL_BUDGET_MS ?? 150_000);
const MIN_RUNS = Math.min(RUNS, 10);
const more = (i: number, started: number): boolean => i < RUNS && (i < MIN_RUNS || Date.now() - started < BUDGET_MS);
const GENERATED = ['nginx/nginx.conf', 'docker-compose.yml'];

function env(): Record<string, string> {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('SWIFTDEPLOY_')) e[k] = v;
  return { ...e, SWIFTDEPLOY_ACTOR: 'kill-test', NO_COLOR: '1' };
}

const cli = (args: string[], cwd: string) => execa(process.execPath, [BIN, ...args], { cwd, reject: false, env: env(), extendEnv: false, stdin: 'ignore' });

/** mulberry32: the kill points come from a printed seed, so a failing run's choices can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sizeOf = (file: string): number => (existsSync(file) ? statSync(file).size : 0);
const shaOf = (file: string): string | null => (existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : null);

/** What identifies a file's version cheaply: an atomic rename gives a new inode. */
const fingerprint = (files: string[]): string => files.map((f) => (existsSync(f) ? `${statSync(f).ino}:${statSync(f).size}` : '-')).join('|');

/**
 * Starts `args` and SIGKILLs it at a point chosen without trusting the code under test: a third of
 * the time at a random instant of its whole run, a third a random 0-15 ms after its first history
 * append, a third a random 0-15 ms after the first of `files` changes (so a change made before its
 * intent would be caught in the act). Returns whether it was killed (it may have finished first).
 */
async function runAndKill(args: string[], cwd: string, historyFile: string, files: string[], random: () => number): Promise<'killed' | 'finished'> {
  const before = sizeOf(historyFile);
  const filesBefore = fingerprint(files);
  const child = spawn(process.execPath, args, { cwd, env: env(), stdio: 'ignore' });
  let exited = false;
  const done = new Promise<void>((resolve) => child.on('exit', () => ((exited = true), resolve())));
  const how = random();
  if (how < 1 / 3) {
    await sleep(random() * 1200);
  } else {
    const trigger = how < 2 / 3 ? () => sizeOf(historyFile) !== before : () => fingerprint(files) !== filesBefore;
    const deadline = Date.now() + 10_000;
    while (!exited && !trigger() && Date.now() < deadline) await sleep(1);
    await sleep(random() * 15);
  }
  const killed = !exited && child.kill('SIGKILL');
  await done;
  return killed ? 'killed' : 'finished';
}

async function records(historyFile: string): Promise<HistoryRecord[]> {
  const text = await readFile(historyFile, 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as HistoryRecord);
}

interface P {
  stage?: string;
  intent_id?: string;
  intent_seq?: number;
  files?: Array<{ path: string; state: string; sha256: string | null }>;
}

/**
 * The ledger's account of the files: replaying every outcome's `applied` files from `initial` must
 * give exactly the files on disk, and each applied entry must be a real change (a change recorded
 * twice would repeat a hash). Every intent has exactly one outcome pointing at its seq.
 */
async function checkAccount(dir: string, historyFile: string, initial: Record<string, string | null>): Promise<Map<string, number>> {
  const verdict = await verifyHistory(historyFile);
  expect(verdict.ok, JSON.stringify(verdict.firstBad)).toBe(true);
  const all = await records(historyFile);
  const intents = new Map<string, HistoryRecord>();
  const outcomes = new Map<string, HistoryRecord[]>();
  const stages = new Map<string, number>();
  const state = { ...initial };
  for (const r of all) {
    const p = r.payload as P;
    if (p.stage === 'intent' && p.intent_id) intents.set(p.intent_id, r);
    else if (p.intent_id) {
      outcomes.set(p.intent_id, [...(outcomes.get(p.intent_id) ?? []), r]);
      stages.set(`${p.stage}${r.actor === 'swiftdeploy' ? ' (reconciled)' : ''}`, (stages.get(`${p.stage}${r.actor === 'swiftdeploy' ? ' (reconciled)' : ''}`) ?? 0) + 1);
      for (const f of p.files ?? []) {
        expect(f.state, `${f.path} in neither state at seq ${r.seq}`).not.toBe('other');
        if (f.state !== 'applied' || !(f.path in state)) continue;
        expect(f.sha256, `${f.path}: seq ${r.seq} records a change that is no change (recorded twice?)`).not.toBe(state[f.path]);
        state[f.path] = f.sha256;
      }
    }
  }
  for (const [id, intent] of intents) {
    const outs = outcomes.get(id) ?? [];
    expect(outs.length, `intent #${intent.seq} has ${outs.length} outcomes`).toBe(1);
    expect((outs[0]!.payload as P).intent_seq).toBe(intent.seq);
  }
  for (const id of outcomes.keys()) expect(intents.has(id), `outcome for unknown intent ${id}`).toBe(true);
  for (const rel of Object.keys(state)) expect(state[rel], `${rel}: the ledger's account differs from the file`).toBe(shaOf(path.join(dir, rel)));
  // What this change guarantees about temp files: none of the writes' own (.<name>.<pid>.<hex>.tmp).
  for (const sub of ['.', 'nginx']) {
    const left = (await readdir(path.join(dir, sub)).catch(() => [] as string[])).filter((n) => n.endsWith('.tmp'));
    expect(left, `temp files left in ${sub}`).toEqual([]);
  }
  expect(existsSync(path.join(dir, '.swiftdeploy', 'lock')), 'project lock left').toBe(false);
  return stages;
}

/** What an operator does after a crash: release the stale lock if there is one (this reconciles), then init (so does this). */
async function recover(dir: string): Promise<void> {
  if (existsSync(path.join(dir, '.swiftdeploy', 'lock'))) {
    const r = await cli(['lock', 'release', '--force'], dir);
    expect(r.exitCode, r.stderr).toBe(0);
  }
  const r = await cli(['init'], dir);
  expect(r.exitCode, r.stderr).toBe(0);
}

const temps: string[] = [];
beforeAll(async () => {
  if (!existsSync(path.join(DIST, 'cli/main.js'))) throw new Error('dist/ is missing: run `npm run build`');
  await bundleWalRunner();
});
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

async function project(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'swiftdeploy-kill-'));
  temps.push(dir);
  await copyFile(REPO_MANIFEST, path.join(dir, 'manifest.yaml'));
  return dir;
}

function summary(name: string, seed: number, runs: number, outcomes: Record<string, number>, stages: Map<string, number>): void {
  console.info(`${name}: seed ${seed}, ${runs} runs: ${JSON.stringify(outcomes)}; outcome records: ${JSON.stringify(Object.fromEntries(stages))}`);
}

describe('kill -9 during a change, then the next command', { timeout: 600_000 }, () => {
  it(`init: ${RUNS} random kills, every file change recorded exactly once`, async () => {
    const dir = await project();
    const historyFile = path.join(dir, 'history.jsonl');
    const manifest = path.join(dir, 'manifest.yaml');
    const seed = Number(process.env.SWIFTDEPLOY_KILL_SEED ?? Date.now() % 1_000_000);
    const random = rng(seed);
    const initial = Object.fromEntries(GENERATED.map((g) => [g, null]));
    const tally: Record<string, number> = { killed: 0, finished: 0, reconciled: 0 };
    let stages = new Map<string, number>();
    const started = Date.now();
    let i = 0;
    for (; more(i, started); i++) {
      // A manifest change both generated files follow, so every init has two files to write.
      const text = await readFile(manifest, 'utf8');
      await writeFile(manifest, text.includes('port: 3000') ? text.replace('port: 3000', 'port: 3001') : text.replace('port: 3001', 'port: 3000'));
      const before = (await records(historyFile).catch(() => [])).length;
      tally[await runAndKill([BIN, 'init'], dir, historyFile, GENERATED.map((g) => path.join(dir, g)), random)]!++;
      await recover(dir);
      const added = (await records(historyFile)).slice(before);
      if (added.some((r) => r.actor === 'swiftdeploy')) tally.reconciled!++;
      stages = await checkAccount(dir, historyFile, initial);
      // And the files are what the manifest says: init after the crash finished the job.
      const again = await cli(['init'], dir);
      expect(again.stdout, `run ${i} (seed ${seed})`).toBe('unchanged nginx/nginx.conf\nunchanged docker-compose.yml');
    }
    summary('init', seed, i, tally, stages);
    // Most kills land inside the change: the test is only worth something if reconciliation ran.
    expect(tally.reconciled).toBeGreaterThanOrEqual(Math.min(5, Math.floor(i / 4)));
  });

  it(`promote's manifest change and re-render: ${RUNS} random kills, every file change recorded exactly once`, async () => {
    const dir = await project();
    const historyFile = path.join(dir, 'history.jsonl');
    const manifest = path.join(dir, 'manifest.yaml');
    expect((await cli(['init'], dir)).exitCode).toBe(0);
    const seed = Number(process.env.SWIFTDEPLOY_KILL_SEED ?? (Date.now() + 1) % 1_000_000);
    const random = rng(seed);
    // The files as init left them; the ledger's first outcome recorded them from nothing.
    const initial: Record<string, string | null> = { 'manifest.yaml': shaOf(manifest), 'nginx/nginx.conf': null, 'docker-compose.yml': null };
    const tally: Record<string, number> = { killed: 0, finished: 0, reconciled: 0 };
    let stages = new Map<string, number>();
    const started = Date.now();
    let i = 0;
    for (; more(i, started); i++) {
      const target = /^ {2}mode: canary/m.test(await readFile(manifest, 'utf8')) ? 'stable' : 'canary';
      const before = (await records(historyFile)).length;
      tally[await runAndKill([RUNNER, manifest, target], dir, historyFile, [manifest, ...GENERATED.map((g) => path.join(dir, g))], random)]!++;
      await recover(dir);
      const added = (await records(historyFile)).slice(before);
      if (added.some((r) => r.actor === 'swiftdeploy')) tally.reconciled!++;
      stages = await checkAccount(dir, historyFile, initial);
    }
    summary('promote files', seed, i, tally, stages);
    expect(tally.reconciled).toBeGreaterThanOrEqual(Math.min(5, Math.floor(i / 4)));
  });
});
