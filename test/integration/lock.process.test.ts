/** The project lock between real processes: refusal, waiting, stale locks, signals and races. */
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EXIT, LockHeld } from '../../src/errors.js';
import { acquireLock, forceReleaseLock, lockStatus, type LockStatus } from '../../src/lock/lock.js';
import { buildHolder, startHolder, type Holder } from './lock.holder.js';

let holderScript: string;
let removeHolder: () => Promise<void>;
let stateDir: string;
const running: Holder[] = [];

beforeAll(async () => {
  const h = await buildHolder();
  holderScript = h.script;
  removeHolder = h.cleanup;
});
afterAll(() => removeHolder());
beforeEach(async () => {
  stateDir = join(await mkdtemp(join(tmpdir(), 'sd-lock-')), '.swiftdeploy');
});
afterEach(async () => {
  for (const h of running.splice(0)) h.child.kill('SIGKILL');
  await rm(join(stateDir, '..'), { recursive: true, force: true });
});

function holder(actor: string, command: string, mode = 'hold', wait?: number): Holder {
  const h = startHolder(holderScript, [stateDir, actor, command, mode, ...(wait === undefined ? [] : [String(wait)])]);
  running.push(h);
  return h;
}

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

describe('the project lock between processes', () => {
  it('refuses a second command with exit 5 naming the holder', async () => {
    const h = holder('alice', 'promote canary');
    await h.waitFor(/^LOCKED/);
    const err = await acquireLock(stateDir, { actor: 'bob', command: 'deploy' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockHeld);
    expect((err as LockHeld).exitCode).toBe(EXIT.LOCKED);
    expect((err as Error).message).toMatch(
      new RegExp(`^locked by alice on ${hostname()} \\(pid ${h.child.pid}\\) since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ: promote canary$`),
    );
  });

  it('the lock file records actor, host, pid, command and start time', async () => {
    const h = holder('alice', 'teardown');
    await h.waitFor(/^LOCKED/);
    const info = JSON.parse(await readFile(join(stateDir, 'lock'), 'utf8')) as Record<string, unknown>;
    expect(info).toMatchObject({ actor: 'alice', host: hostname(), pid: h.child.pid, command: 'teardown' });
    expect(Date.parse(String(info.startedAt))).toBeGreaterThan(Date.now() - 60_000);
    expect((await lockStatus(stateDir)) as LockStatus).toMatchObject({ state: 'held', liveness: 'alive' });
  });

  it('--lock-wait waits for the holder to finish', async () => {
    const h = holder('alice', 'deploy');
    await h.waitFor(/^LOCKED/);
    let waitedOn: LockStatus | undefined;
    setTimeout(() => h.child.stdin.write('release\n'), 300);
    const started = Date.now();
    const handle = await acquireLock(stateDir, { actor: 'bob', command: 'promote stable' }, { waitSeconds: 5, pollMs: 20, onWait: (s) => (waitedOn = s) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(waitedOn).toMatchObject({ state: 'held', holder: { actor: 'alice' } });
    expect(handle.info.actor).toBe('bob');
    await handle.release();
    expect(await exists(join(stateDir, 'lock'))).toBe(false);
  });

  it('--lock-wait gives up after the wait and says how long it waited', async () => {
    const h = holder('alice', 'deploy');
    await h.waitFor(/^LOCKED/);
    const started = Date.now();
    await expect(acquireLock(stateDir, { actor: 'bob', command: 'deploy' }, { waitSeconds: 0.4, pollMs: 20 })).rejects.toThrow(
      /^locked by alice .*: deploy \(waited 0\.4 s\)$/,
    );
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a lock that is a symlink is reported unreadable without showing what it points to', async () => {
    const secret = join(stateDir, '..', 'secret');
    await writeFile(secret, 'root:x:0:0:secret\n');
    await mkdir(stateDir, { recursive: true });
    await symlink(secret, join(stateDir, 'lock'));
    const status = await lockStatus(stateDir);
    expect(status).toEqual({ state: 'unreadable', path: join(stateDir, 'lock'), reason: 'it is a symlink, not a lock swiftdeploy wrote' });
    expect(await forceReleaseLock(stateDir)).toMatchObject({ removed: true });
    expect(await readFile(secret, 'utf8')).toBe('root:x:0:0:secret\n');
  });

  it('a killed holder leaves a stale lock: reported, not waited on, removable by force', async () => {
    const h = holder('alice', 'promote canary');
    await h.waitFor(/^LOCKED/);
    h.child.kill('SIGKILL');
    await h.exited;
    expect(await exists(join(stateDir, 'lock'))).toBe(true);
    expect(await lockStatus(stateDir)).toMatchObject({ state: 'held', liveness: 'stale', reason: `pid ${h.child.pid} is no longer running on this host` });

    const started = Date.now();
    const err = await acquireLock(stateDir, { actor: 'bob', command: 'deploy' }, { waitSeconds: 10 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((err as Error).message).toContain('the lock is stale');
    expect((err as Error).message).toContain('swiftdeploy lock release --force');

    const forced = await forceReleaseLock(stateDir);
    expect(forced).toMatchObject({ removed: true, previous: { holder: { actor: 'alice' } } });
    const handle = await acquireLock(stateDir, { actor: 'bob', command: 'deploy' });
    await handle.release();
  });

  it('force release refuses a live holder unless told it is alive on purpose', async () => {
    const h = holder('alice', 'deploy');
    await h.waitFor(/^LOCKED/);
    await expect(forceReleaseLock(stateDir)).rejects.toThrow(/refusing to remove a live lock/);
    expect(await exists(join(stateDir, 'lock'))).toBe(true);
    expect(await forceReleaseLock(stateDir, { evenIfAlive: true })).toMatchObject({ removed: true });
  });

  it('Ctrl-C (SIGINT) to a holder without its own handler: exit 130, the lock is gone, and it says so', async () => {
    const h = holder('alice', 'deploy');
    await h.waitFor(/^LOCKED/);
    h.child.kill('SIGINT');
    expect((await h.exited).code).toBe(EXIT.INTERRUPTED);
    expect(h.stderr()).toBe('swiftdeploy: interrupted by SIGINT; project lock released\n');
    expect(await exists(join(stateDir, 'lock'))).toBe(false);
  });

  it('SIGTERM and SIGHUP to a holder without its own handler: exit 143 and 129, the lock is gone', async () => {
    for (const [signal, code] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
      const h = holder('alice', 'deploy');
      await h.waitFor(/^LOCKED/);
      h.child.kill(signal);
      expect((await h.exited).code).toBe(code);
      expect(await exists(join(stateDir, 'lock'))).toBe(false);
    }
  });

  it('a command that listens for the signal itself keeps the lock until it exits', async () => {
    const h = holder('alice', 'promote canary', 'own-handler');
    await h.waitFor(/^LOCKED/);
    h.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    expect(await exists(join(stateDir, 'lock'))).toBe(true); // still rolling back, say
    expect((await h.exited).code).toBe(7);
    expect(await exists(join(stateDir, 'lock'))).toBe(false);
  });

  it('a second signal exits at once, releasing the lock and saying so', async () => {
    const h = holder('alice', 'promote canary', 'own-handler');
    await h.waitFor(/^LOCKED/);
    h.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 50));
    h.child.kill('SIGTERM');
    expect((await h.exited).code).toBe(143);
    expect(h.stderr()).toBe('swiftdeploy: interrupted by SIGTERM; project lock released\n');
    expect(await exists(join(stateDir, 'lock'))).toBe(false);
  });

  it('a normal exit releases the lock', async () => {
    const h = holder('alice', 'deploy');
    await h.waitFor(/^LOCKED/);
    h.child.stdin.write('release\n');
    await h.waitFor(/^RELEASED/);
    expect((await h.exited).code).toBe(0);
    expect(await lockStatus(stateDir)).toMatchObject({ state: 'free' });
  });

  it('of four processes racing for the lock exactly one wins', async () => {
    const racers = Array.from({ length: 4 }, (_, i) => holder(`racer${i}`, 'deploy', 'race'));
    const results = await Promise.all(racers.map((r) => r.waitFor(/^(WON|LOST)/)));
    expect(results.filter((r) => r === 'WON')).toHaveLength(1);
    expect(results.filter((r) => r === 'LOST')).toHaveLength(3);
  });

  it('release() never removes a lock that has since passed to someone else', async () => {
    const mine = await acquireLock(stateDir, { actor: 'bob', command: 'deploy' });
    await forceReleaseLock(stateDir, { evenIfAlive: true });
    const h = holder('alice', 'promote canary');
    await h.waitFor(/^LOCKED/);
    await mine.release();
    expect(await lockStatus(stateDir)).toMatchObject({ state: 'held', holder: { actor: 'alice' } });
  });
});
