/**
 * Temp files left by killed writers (issue #11 class 7): removed by the next run when their writer is
 * gone, never while it runs. The pids are real: a child that has exited, and one that is still running.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureChaosToken } from '../../src/runtime/chaos-token.js';
import { removeStaleTemps, writerGone } from '../../src/util/stale-temps.js';
import { testManifest } from '../helpers/manifest.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/swiftdeploy');

let deadPid: number;
let livePid: number;
let live: ResultPromise;
beforeAll(async () => {
  const exited = execa(process.execPath, ['-e', '']);
  deadPid = exited.pid as number;
  await exited;
  live = execa(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
  livePid = live.pid as number;
  if (!existsSync(path.join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build`');
});
afterAll(async () => {
  live.kill('SIGKILL');
  await live.catch(() => undefined);
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sd-temps-'));
  return () => rm(dir, { recursive: true, force: true });
});

const hex = () => randomUUID().slice(0, 8);
async function plant(rel: string, mtime?: Date): Promise<string> {
  const file = path.join(dir, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, 'partial');
  if (mtime) await utimes(file, mtime, mtime);
  return rel;
}
async function present(rels: string[]): Promise<string[]> {
  return rels.filter((rel) => existsSync(path.join(dir, rel)));
}

describe('writerGone', () => {
  it('judges a real exited child gone, a running one and this process not', () => {
    expect(writerGone(deadPid, Date.now())).toBe(`pid ${deadPid} is not running`);
    expect(writerGone(livePid, Date.now())).toBeUndefined();
    expect(writerGone(process.pid, 0)).toBeUndefined();
  });

  it('a running pid that started after the file was written is a reused pid: gone', () => {
    expect(writerGone(livePid, Date.now() - 3_600_000)).toBe(`pid ${livePid} now belongs to a process started after the file was written`);
  });
});

describe('removeStaleTemps', () => {
  it("removes the target's temp files whose writer is gone, in every form swiftdeploy has written", async () => {
    const dead = [
      await plant(`nginx/.nginx.conf.${deadPid}.${hex()}.tmp`),
      await plant(`nginx/.nginx.conf.${deadPid}.${hex()}`),
      await plant(`nginx/nginx.conf.${deadPid}.${randomUUID()}`),
      await plant(`nginx/.nginx.conf.${livePid}.${hex()}.tmp`, new Date(Date.now() - 3_600_000)),
    ];
    const kept = [
      await plant(`nginx/.nginx.conf.${livePid}.${hex()}.tmp`),
      await plant(`nginx/.nginx.conf.${process.pid}.${hex()}.tmp`),
      await plant('nginx/nginx.conf'),
      await plant('nginx/.nginx.conf.bak'),
      await plant(`nginx/.nginx.conf.${deadPid}.zzzzzzzz.tmp`),
      await plant(`nginx/.other.conf.${deadPid}.${hex()}.tmp`),
      await plant(`nginx/x.nginx.conf.${deadPid}.${hex()}.tmp`),
    ];
    await mkdir(path.join(dir, `nginx/.nginx.conf.${deadPid}.${hex()}.tmp`));
    const removed = await removeStaleTemps(path.join(dir, 'nginx/nginx.conf'));
    expect(removed.map((f) => path.relative(dir, f)).sort()).toEqual([...dead].sort());
    expect(await present(dead)).toEqual([]);
    expect(await present(kept)).toEqual(kept);
    expect(await readdir(path.join(dir, 'nginx'))).toHaveLength(kept.length + 1); // + the directory
  });

  it('a missing directory is nothing to do', async () => {
    expect(await removeStaleTemps(path.join(dir, 'absent/file'))).toEqual([]);
  });
});

describe('the next run removes stale temp files, and only those', { timeout: 90_000 }, () => {
  const cli = (args: string[]) => execa(BIN, args, { cwd: dir, reject: false, env: { ...process.env, NO_COLOR: '1', SWIFTDEPLOY_ACTOR: 't@test' } });

  it('init: generated files (written or unchanged), the project lock, the history lock', async () => {
    await writeFile(path.join(dir, 'manifest.yaml'), testManifest());
    expect((await cli(['init'])).exitCode).toBe(0);
    await unlink(path.join(dir, 'docker-compose.yml')); // rewritten (and recorded) next time; nginx.conf stays unchanged
    const forms = (pid: number) => [
      `nginx/.nginx.conf.${pid}.${hex()}.tmp`,
      `.docker-compose.yml.${pid}.${hex()}.tmp`,
      `.swiftdeploy/.lock.${pid}.${hex()}`,
      `.swiftdeploy/.lock.${pid}.${hex()}.tmp`,
      `history.jsonl.lock.${pid}.${randomUUID()}`,
      `.history.jsonl.lock.${pid}.${hex()}.tmp`,
    ];
    const dead = await Promise.all(forms(deadPid).map((rel) => plant(rel)));
    const alive = await Promise.all(forms(livePid).map((rel) => plant(rel)));
    const r = await cli(['init']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('wrote     docker-compose.yml');
    expect(await present(dead)).toEqual([]);
    expect(await present(alive)).toEqual(alive);
  });

  it('audit: the report', async () => {
    await writeFile(path.join(dir, 'manifest.yaml'), testManifest());
    expect((await cli(['init'])).exitCode).toBe(0);
    const dead = await plant(`.audit_report.md.${deadPid}.${hex()}.tmp`);
    const alive = await plant(`.audit_report.md.${livePid}.${hex()}.tmp`);
    const r = await cli(['audit']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await present([dead, alive])).toEqual([alive]);
  });

  it('the chaos token', async () => {
    const dead = [await plant(`.swiftdeploy/.chaos-token.${deadPid}.${hex()}`), await plant(`.swiftdeploy/.chaos-token.${deadPid}.${hex()}.tmp`)];
    const alive = await plant(`.swiftdeploy/.chaos-token.${livePid}.${hex()}`);
    await ensureChaosToken(path.join(dir, '.swiftdeploy'));
    expect(await present([...dead, alive])).toEqual([alive]);
  });
});
