import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendRecord, lockPathFor, verifyHistory } from '../../src/history/ledger.js';
import type { HistoryRecord } from '../../src/history/types.js';

const root = resolve(import.meta.dirname, '../..');
const runner = join(import.meta.dirname, 'history.append-runner.mjs');
let dir: string;
let build: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swiftdeploy-concurrency-'));
  build = join(dir, 'build');
  // Compile only the ledger's import graph, so the test does not depend on the rest of src/ compiling.
  const tsc = spawnSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '--outDir', build, '--rootDir', join(root, 'src'), '--module', 'NodeNext',
      '--moduleResolution', 'NodeNext', '--target', 'ES2022', '--strict', '--skipLibCheck', '--types', 'node',
      join(root, 'src/history/ledger.ts'), join(root, 'src/history/lock.ts')],
    { encoding: 'utf8', cwd: root },
  );
  if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function run(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [runner, build, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolveDone) =>
    child.on('close', (code) => resolveDone({ code, stdout, stderr })),
  );
  return { child, done };
}

/** Resolves once the child has printed `word` (bounded: a child that never does fails the test). */
function printed(child: ChildProcess, word: string): Promise<void> {
  return new Promise<void>((resolveSeen, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`child never printed "${word}"`)), 15_000);
    child.stdout?.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(word)) {
        clearTimeout(timer);
        resolveSeen();
      }
    });
  });
}

describe('two processes appending at once', () => {
  it('500 appends each give 1,000 records, a valid chain and no interleaved bytes', async () => {
    const file = join(dir, 'both.jsonl');
    const a = run(['append', file, '500', 'status-loop']);
    const b = run(['append', file, '500', 'promote']);
    await Promise.all([a, b].map(({ child }) => printed(child, 'ready')));
    for (const { child } of [a, b]) child.stdin?.write('go\n');
    const results = await Promise.all([a.done, b.done]);
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0, stdout: expect.stringMatching(/^ready\n\d+ \d+\n$/) });
    // The writers really ran at the same time (otherwise this would prove nothing about the lock).
    const [[aStart, aEnd], [bStart, bEnd]] = results.map((r) => r.stdout.split('\n')[1]?.split(' ').map(Number) ?? []) as number[][] as [[number, number], [number, number]];
    expect(aStart).toBeLessThan(bEnd);
    expect(bStart).toBeLessThan(aEnd);

    expect(await verifyHistory(file)).toMatchObject({ ok: true, records: 1_000 });
    const records = (await readFile(file, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as HistoryRecord);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 1_000 }, (_, i) => i + 1));
    for (const actor of ['status-loop', 'promote']) {
      const mine = records.filter((r) => r.actor === actor).map((r) => (r.payload as { detail: string }).detail);
      expect(mine).toEqual(Array.from({ length: 500 }, (_, i) => `${actor} #${i + 1}`));
    }
    await expect(stat(lockPathFor(file))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a writer killed while holding the lock does not block the next append', async () => {
    const file = join(dir, 'killed.jsonl');
    await appendRecord(file, { kind: 'event', actor: 'alice', policy_version: null, manifest_sha256: null, payload: { action: 'deploy', stage: 'requested' } });
    const holder = run(['hold', file]);
    await printed(holder.child, 'locked');
    holder.child.kill('SIGKILL');
    await holder.done;
    // The dead holder's lock file is still there...
    expect(JSON.parse(await readFile(lockPathFor(file), 'utf8'))).toMatchObject({ pid: holder.child.pid });
    // ...and is recognised as stale at once, not after a timeout.
    const started = Date.now();
    const record = await appendRecord(file, { kind: 'event', actor: 'bob', policy_version: null, manifest_sha256: null, payload: { action: 'deploy', stage: 'confirmed' } }, { lockTimeoutMs: 5_000 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(record.seq).toBe(2);
    expect(await verifyHistory(file)).toMatchObject({ ok: true, records: 2 });
  });
});
