import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { Output } from '../../src/cli/output.js';
import { eventRenderer } from '../../src/cli/render-events.js';
import { intentPayload, type FileChange, type IntentWriter } from '../../src/history/intent.js';
import { appendRecord, verifyHistory } from '../../src/history/ledger.js';
import { Spool, spoolDirs } from '../../src/history/spool.js';
import type { EventPayload, HistoryRecord } from '../../src/history/types.js';
import { Session } from '../../src/lifecycle/session.js';
import { findOpenIntents, reconcile } from '../../src/lifecycle/wal.js';
import { readEventRecords } from '../helpers/history.js';
import { bundleWalRunner } from '../helpers/wal-runner.js';

/**
 * Reconciliation, through the lifecycle's own functions on real files (and the CLI where it is the
 * point): an intent without an outcome is settled from the files, as actor `swiftdeploy`, pointing at
 * the intent's seq; an intent whose writer still runs is left alone; an effect is `unknown`; spooled
 * records are appended once; lock release settles what the dead holder left; the audit report shows it.
 */
const BIN = fileURLToPath(new URL('../../bin/swiftdeploy', import.meta.url));
const REPO_MANIFEST = fileURLToPath(new URL('../../manifest.yaml', import.meta.url));
const temps: string[] = [];
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

function env(): Record<string, string> {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('SWIFTDEPLOY_')) e[k] = v;
  return { ...e, SWIFTDEPLOY_ACTOR: 'wal-test', NO_COLOR: '1' };
}
const cli = (args: string[], cwd: string) => execa(process.execPath, [BIN, ...args], { cwd, reject: false, env: env(), extendEnv: false, stdin: 'ignore' });
const sha = (bytes: string | Buffer): string => createHash('sha256').update(bytes).digest('hex');

async function project(): Promise<{ dir: string; manifest: string; historyFile: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'swiftdeploy-reconcile-'));
  temps.push(dir);
  const manifest = path.join(dir, 'manifest.yaml');
  await copyFile(REPO_MANIFEST, manifest);
  return { dir, manifest, historyFile: path.join(dir, 'history.jsonl') };
}

/** A pid that certainly ran and certainly ended. */
function deadWriter(): IntentWriter {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return { pid: Number(r.stdout), host: os.hostname() };
}

async function openIntent(historyFile: string, files: FileChange[], writer: IntentWriter, effect?: string): Promise<HistoryRecord> {
  return appendRecord(historyFile, {
    kind: 'event',
    actor: 'alice@example.com',
    policy_version: null,
    manifest_sha256: null,
    payload: intentPayload({
      action: 'init',
      command: 'init',
      files,
      ...(effect !== undefined ? { effect } : {}),
      detail: 'test intent',
      writer,
      intentId: sha(String(Math.random())).slice(0, 16),
    }),
  });
}

function captured(): { out: Output; text: () => string } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { out: new Output({ json: false, color: false, stdout: sink, stderr: sink }), text: () => text };
}

async function session(manifest: string) {
  const c = captured();
  const s = await Session.open(manifest, { actor: 'bob@example.com', events: eventRenderer(c.out), yes: true }, 'deploy');
  return { s, text: c.text };
}

const records = readEventRecords;

describe('reconcile', { timeout: 60_000 }, () => {
  it('settles a dead writer\'s intent from the files: completed, not_applied, partial (a file in neither state); removes only its temp files', async () => {
    const { dir, manifest, historyFile } = await project();
    const a = path.join(dir, 'a.conf');
    const b = path.join(dir, 'b.conf');
    await writeFile(a, 'new a');
    await writeFile(b, 'old b');
    const writer = deadWriter();
    const applied = await openIntent(historyFile, [{ path: 'a.conf', before: sha('old a'), after: sha('new a') }], writer);
    // Its outcome comes first (reconciliation goes oldest first), but each has its own.
    const { s, text } = await session(manifest);
    // Temp files: the dead writer's (removed) and someone else's (kept).
    await writeFile(path.join(dir, `.a.conf.${writer.pid}.0a1b2c3d.tmp`), 'half');
    await writeFile(path.join(dir, `.a.conf.${process.pid}.0a1b2c3d.tmp`), 'not ours to remove');
    let result = await reconcile(s);
    expect(result.reconciled).toEqual([{ seq: applied.seq, stage: 'completed' }]);
    expect(text()).toContain(`reconciled intent #${applied.seq}`);
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([`.a.conf.${process.pid}.0a1b2c3d.tmp`]);
    const outcome = (await records(historyFile)).at(-1)!;
    expect(outcome.actor).toBe('swiftdeploy');
    expect(outcome.payload).toMatchObject({
      action: 'init',
      stage: 'completed',
      intent_seq: applied.seq,
      reconciled: true,
      files: [{ path: 'a.conf', state: 'applied', sha256: sha('new a') }],
    });
    expect(outcome.payload.detail).toContain('reconciled by deploy (bob@example.com): init by alice@example.com');

    const notApplied = await openIntent(historyFile, [{ path: 'b.conf', before: sha('old b'), after: sha('new b') }], deadWriter());
    const partial = await openIntent(
      historyFile,
      [
        { path: 'a.conf', before: sha('old a'), after: sha('new a') },
        { path: 'b.conf', before: null, after: sha('something else') },
      ],
      deadWriter(),
    );
    result = await reconcile(s);
    expect(result.reconciled).toEqual([
      { seq: notApplied.seq, stage: 'not_applied' },
      { seq: partial.seq, stage: 'partial' },
    ]);
    const last = (await records(historyFile)).at(-1)!;
    expect(last.payload.files).toEqual([
      { path: 'a.conf', state: 'applied', sha256: sha('new a') },
      { path: 'b.conf', state: 'other', sha256: sha('old b') },
    ]);
    // Settled once: nothing is open, and another pass records nothing.
    expect(await findOpenIntents(historyFile)).toEqual([]);
    const count = (await records(historyFile)).length;
    expect((await reconcile(s)).reconciled).toEqual([]);
    expect((await records(historyFile)).length).toBe(count);
    expect((await verifyHistory(historyFile)).ok).toBe(true);
  });

  it('leaves the intent of a writer that still runs alone; an effect alone is settled as unknown', async () => {
    const { manifest, historyFile } = await project();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const live = await openIntent(historyFile, [], { pid: child.pid!, host: os.hostname() }, 'compose up');
      const { s, text } = await session(manifest);
      let result = await reconcile(s);
      expect(result).toMatchObject({ reconciled: [], skipped: [live.seq] });
      expect(text()).toContain(`intent #${live.seq} (init) has no outcome yet, left open: pid ${child.pid} that recorded it is still running`);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      result = await reconcile(s);
      expect(result.reconciled).toEqual([{ seq: live.seq, stage: 'unknown' }]);
      expect((await records(historyFile)).at(-1)!.payload.detail).toContain('compose up: files cannot show whether it took place');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('spooled records are appended in order, once, even after a flush that stopped half way', async () => {
    const { dir, manifest, historyFile } = await project();
    expect((await cli(['init'], dir)).exitCode).toBe(0);
    const { s } = await session(manifest);
    const spool = new Spool(spoolDirs(s.stateDir));
    const intentId = 'feedfacefeedface';
    const base = { kind: 'event' as const, actor: 'carol@example.com', policy_version: null, manifest_sha256: null };
    spool.write({ ...base, payload: { action: 'rollback', stage: 'intent', intent_id: intentId, command: 'rollback', files: [], effect: 'x', writer: deadWriter() } });
    spool.write({ ...base, payload: { action: 'rollback', stage: 'completed', intent_id: intentId, intent_seq: null, detail: 'x' } });
    // A flush that appended the first record and died: the first line is already in the ledger.
    const [file] = await readdir(path.join(s.stateDir, 'unrecorded'));
    const firstLine = JSON.parse(readFileSync(path.join(s.stateDir, 'unrecorded', file!), 'utf8').split('\n')[0]!) as { input: { payload: EventPayload } };
    const already = await appendRecord(historyFile, { ...base, payload: { ...firstLine.input.payload, recorded_late: true } });
    await reconcile(s);
    const all = await records(historyFile);
    expect(all.filter((r) => r.payload.intent_id === intentId).map((r) => r.payload.stage)).toEqual(['intent', 'completed']);
    expect(all.at(-1)!.payload).toMatchObject({ stage: 'completed', intent_seq: already.seq, recorded_late: true });
    expect(existsSync(path.join(s.stateDir, 'unrecorded', file!))).toBe(false);
  });

  it('lock release --force settles what the dead holder left, then records its own removal write-ahead', async () => {
    const { dir, historyFile } = await project();
    expect((await cli(['init'], dir)).exitCode).toBe(0);
    // A holder killed mid-change: its lock and its intent stay behind.
    const writer = deadWriter();
    const conf = path.join(dir, 'nginx', 'nginx.conf');
    const old = readFileSync(conf);
    const intent = await openIntent(historyFile, [{ path: 'nginx/nginx.conf', before: sha(old), after: sha('new') }], writer);
    await mkdir(path.join(dir, '.swiftdeploy'), { recursive: true });
    const lock = `${JSON.stringify({ version: 1, id: 'x', actor: 'alice@example.com', host: os.hostname(), pid: writer.pid, command: 'init', startedAt: new Date().toISOString() })}\n`;
    await writeFile(path.join(dir, '.swiftdeploy', 'lock'), lock);
    const blocked = await cli(['init'], dir);
    expect(blocked.exitCode).toBe(5);
    const r = await cli(['lock', 'release', '--force'], dir);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(existsSync(path.join(dir, '.swiftdeploy', 'lock'))).toBe(false);
    const tail = (await records(historyFile)).slice(-3);
    expect(tail.map((t) => [t.actor, t.payload.action, t.payload.stage])).toEqual([
      ['swiftdeploy', 'init', 'not_applied'],
      ['wal-test', 'lock_release', 'intent'],
      ['wal-test', 'lock_release', 'completed'],
    ]);
    expect(tail[0]!.payload.intent_seq).toBe(intent.seq);
    expect(tail[1]!.payload.files).toEqual([{ path: '.swiftdeploy/lock', before: sha(lock), after: null }]);
    expect(tail[2]!.payload).toMatchObject({ intent_seq: tail[1]!.seq, files: [{ path: '.swiftdeploy/lock', state: 'applied', sha256: null }] });

    // The audit report shows intents and outcomes as operations, not as errors.
    const audit = await cli(['audit'], dir);
    expect(audit.exitCode, audit.stderr).toBe(0);
    const report = readFileSync(path.join(dir, 'audit_report.md'), 'utf8');
    expect(report).toMatch(/init\*\* by alice@example\.com .*: not applied: reconciled by lock\\?_release/);
    expect(report).toMatch(/lock\\?_release\*\* by wal-test .*: completed: forced release of/);
    expect(report).toMatch(/init\*\* by wal-test .*: completed: render nginx\/nginx\.conf, docker-compose\.yml/);
  });

  it('every mutating command settles open intents right after taking the lock (init here), before its own', async () => {
    const { dir, historyFile } = await project();
    expect((await cli(['init'], dir)).exitCode).toBe(0);
    const conf = readFileSync(path.join(dir, 'nginx', 'nginx.conf'));
    // An intent whose outcome the ledger refused (its process then exited normally, lock released).
    const open = await openIntent(historyFile, [{ path: 'nginx/nginx.conf', before: sha('older'), after: sha(conf) }], deadWriter());
    const manifest = path.join(dir, 'manifest.yaml');
    await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('port: 3000', 'port: 3001'));
    const r = await cli(['init'], dir);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain(`reconciled intent #${open.seq}`);
    const tail = (await records(historyFile)).slice(-3);
    expect(tail.map((t) => [t.actor, t.payload.stage])).toEqual([
      ['swiftdeploy', 'completed'],
      ['wal-test', 'intent'],
      ['wal-test', 'completed'],
    ]);
    expect(tail[0]!.payload).toMatchObject({ intent_seq: open.seq, reconciled: true });
  });

  it('an outcome the ledger refuses after the change: exit 7 (not 0), the intent stays open, the next command settles it', async () => {
    const { dir, manifest, historyFile } = await project();
    expect((await cli(['init'], dir)).exitCode).toBe(0);
    const count = (await records(historyFile)).length;
    const r = await execa(process.execPath, [await bundleWalRunner(), manifest, 'canary', 'promote', 'refuse-outcomes'], { reject: false, env: env() });
    expect(r.exitCode, r.stderr).toBe(7);
    expect(r.stderr).toContain(`could not record the outcome (completed) of intent #${count + 1}`);
    expect(r.stderr).toContain('promote completed, but in');
    expect(r.stderr).toContain('1 outcome could not be recorded');
    expect(readFileSync(manifest, 'utf8')).toMatch(/^ {2}mode: canary/m);
    expect((await findOpenIntents(historyFile)).map((o) => o.seq)).toEqual([count + 1]);
    const next = await cli(['init'], dir);
    expect(next.exitCode, next.stderr).toBe(0);
    const all = await records(historyFile);
    expect(all).toHaveLength(count + 2);
    expect(all.at(-1)).toMatchObject({ actor: 'swiftdeploy', payload: { action: 'promote', stage: 'completed', intent_seq: count + 1, reconciled: true } });
  });

  it('an edited last record blocks init before any change (exit 6), saying nothing was changed', async () => {
    const { dir, historyFile } = await project();
    expect((await cli(['init'], dir)).exitCode).toBe(0);
    const text = await readFile(historyFile, 'utf8');
    // The last record (init's outcome) edited; the intent before it still has its outcome.
    const lines = text.split('\n');
    lines[lines.length - 2] = lines[lines.length - 2]!.replace('"detail":"render', '"detail":"Render');
    await writeFile(historyFile, lines.join('\n'));
    const manifest = path.join(dir, 'manifest.yaml');
    await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('port: 3000', 'port: 3001'));
    const before = readFileSync(path.join(dir, 'docker-compose.yml'));
    const r = await cli(['init'], dir);
    expect(r.exitCode).toBe(6);
    expect(r.stderr).toContain('is not exactly as written');
    expect(r.stderr).toContain('init stopped before changing anything');
    expect(readFileSync(path.join(dir, 'docker-compose.yml')).equals(before)).toBe(true);
  });
});
