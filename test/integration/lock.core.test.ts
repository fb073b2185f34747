/**
 * The one lock core (src/lock) against real processes: who counts as a stale holder, and breaking a
 * stale lock when several processes try at once.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LockHeld } from '../../src/errors.js';
import { withFileLock } from '../../src/lock/file-lock.js';
import { holderLiveness, newHolder, type LockHolder } from '../../src/lock/holder.js';
import { breakHolderFile, linkHolderFile, prepareHolderFile, readHolderFile, unlinkQuietly } from '../../src/lock/holder-file.js';
import { bootId, processState } from '../../src/lock/liveness.js';
import { buildHolder, startHolder, type Holder } from './lock.holder.js';

const linux = process.platform === 'linux';
let core: string;
let removeBuild: () => Promise<void>;
let dir: string;
let lock: string;
const running: Array<Holder | ChildProcess> = [];

beforeAll(async () => {
  const b = await buildHolder();
  core = b.core;
  removeBuild = b.cleanup;
});
afterAll(() => removeBuild());
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sd-lock-core-'));
  lock = join(dir, 'history.jsonl.lock');
});
afterEach(async () => {
  for (const r of running.splice(0)) ('child' in r ? r.child : r).kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

function coreChild(...args: string[]): Holder {
  const h = startHolder(core, args);
  running.push(h);
  return h;
}

/** Publish a holder record at `path` the way the core does (temp file, fsync, link). */
async function publish(path: string, holder: LockHolder): Promise<void> {
  const temp = await prepareHolderFile(path, holder);
  try {
    expect(linkHolderFile(temp, path)).toBe(true);
  } finally {
    unlinkQuietly(temp);
  }
}

function holderAt(path: string): LockHolder {
  const seen = readHolderFile(path);
  if (seen.state !== 'held') throw new Error(`expected a holder at ${path}, got ${seen.state}`);
  return seen.holder;
}

async function until(what: string, test: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a holder is stale exactly when its process no longer runs', () => {
  it('a live holder is alive: the next taker waits, then is refused naming it', async () => {
    const h = coreChild('hold', lock);
    await h.waitFor(/^LOCKED/);
    expect(holderLiveness(holderAt(lock))).toEqual({ liveness: 'alive' });
    const started = Date.now();
    const err = await withFileLock(lock, async () => 'ran', { command: 'test', timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockHeld);
    expect((err as Error).message).toMatch(new RegExp(`^${lock} is held by pid ${h.child.pid} on ${hostname()} since \\d{4}-.*Z: core test hold$`));
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('a holder whose process was killed is stale, and its lock is taken at once', async () => {
    const h = coreChild('hold', lock);
    await h.waitFor(/^LOCKED/);
    h.child.kill('SIGKILL');
    await h.exited;
    expect(holderAt(lock).pid).toBe(h.child.pid);
    expect(holderLiveness(holderAt(lock))).toEqual({ liveness: 'stale', reason: `pid ${h.child.pid} is no longer running on this host` });
    const started = Date.now();
    expect(await withFileLock(lock, async () => holderAt(lock).pid, { command: 'test', timeoutMs: 5_000 })).toBe(process.pid);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(readHolderFile(lock)).toEqual({ state: 'free' });
  });

  it.skipIf(!linux)('a zombie holder (exited, never reaped by its parent) is stale, though its pid still answers kill 0', async () => {
    // sh starts the holder in the background and becomes `sleep`, which never waits for it.
    const parent = spawn('sh', ['-c', `"${process.execPath}" "${core}" die "${lock}" & echo "CHILD $!"; exec sleep 60`], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.push(parent);
    let out = '';
    parent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await until('the holder to take the lock', () => /^LOCKED \d+$/m.test(out));
    const pid = Number(/^CHILD (\d+)$/m.exec(out)?.[1]);
    await until(`pid ${pid} to be a zombie`, () => processState(pid) === 'Z');
    expect(() => process.kill(pid, 0)).not.toThrow();
    expect(holderAt(lock).pid).toBe(pid);
    expect(holderLiveness(holderAt(lock))).toEqual({ liveness: 'stale', reason: `pid ${pid} has exited (zombie)` });
    const started = Date.now();
    await withFileLock(lock, async () => undefined, { command: 'test', timeoutMs: 5_000 });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it.skipIf(!linux)('a holder from another boot is stale even though its pid runs now', async () => {
    const h = coreChild('hold', join(dir, 'other.lock'));
    await h.waitFor(/^LOCKED/);
    const live = holderAt(join(dir, 'other.lock'));
    // The same live process, as if its record had been written before a reboot.
    await publish(lock, { ...live, id: 'before-the-reboot', bootId: 'another-boot' });
    expect(holderLiveness(holderAt(lock))).toEqual({ liveness: 'stale', reason: 'this host has rebooted since the lock was taken' });
    // The control: with this boot's id it is alive.
    expect(live.bootId).toBe(bootId());
    expect(holderLiveness(live)).toEqual({ liveness: 'alive' });
    await withFileLock(lock, async () => undefined, { command: 'test', timeoutMs: 2_000 });
  });
});

describe('breaking a stale lock', () => {
  it('of four processes racing to break the same stale lock, exactly one wins and keeps it (three rounds)', async () => {
    for (let round = 1; round <= 3; round++) {
      const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
      await publish(lock, { ...newHolder('died holding it'), pid: dead, id: `dead-${round}` });
      expect(holderLiveness(holderAt(lock)).liveness).toBe('stale');
      const racers = Array.from({ length: 4 }, () => coreChild('race', lock));
      await Promise.all(racers.map((r) => r.waitFor(/^READY/)));
      for (const r of racers) r.child.stdin.write('go\n');
      const results = await Promise.all(racers.map((r) => r.waitFor(/^(WON|LOST) /)));
      const winners = results.filter((r) => r.startsWith('WON '));
      expect(winners, `round ${round}: ${results.join(', ')}`).toHaveLength(1);
      // The losers did not remove the winner's fresh lock on their way.
      expect(holderAt(lock).pid, `round ${round}`).toBe(Number(winners[0]?.split(' ')[1]));
      for (const r of racers) r.child.kill('SIGKILL');
      await Promise.all(racers.map((r) => r.exited));
      unlinkQuietly(lock);
    }
    expect(existsSync(`${lock}.break`), 'no .break left behind').toBe(false);
  });

  it('a lock replaced after it was inspected is not removed', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    await publish(lock, { ...newHolder('died holding it'), pid: dead, id: 'dead' });
    const seen = readHolderFile(lock);
    if (seen.state !== 'held') throw new Error('expected held');
    // Someone else broke it and a live holder took it in between.
    unlinkQuietly(lock);
    const h = coreChild('hold', lock);
    await h.waitFor(/^LOCKED/);
    expect(await breakHolderFile(lock, seen.identity)).toBe('changed');
    expect(JSON.parse(await readFile(lock, 'utf8'))).toMatchObject({ pid: h.child.pid });
  });
});
