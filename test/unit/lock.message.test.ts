import { describe, expect, it } from 'vitest';
import { describeHolder, lockHeldMessage, type LockInfo } from '../../src/lock/lock.js';
import { bootId, processStartTime, whyNotAlive } from '../../src/lock/liveness.js';

const info: LockInfo = {
  version: 1,
  id: 'x',
  actor: 'alice',
  host: 'build-7',
  pid: 4121,
  command: 'promote canary',
  startedAt: '2026-05-01T14:02:11.532Z',
};

describe('what a refused command is told', () => {
  it('names actor, host, pid, time (UTC, whole seconds) and command', () =>
    expect(describeHolder(info)).toBe('locked by alice on build-7 (pid 4121) since 2026-05-01T14:02:11Z: promote canary'));
  it('a live holder: just the holder', () =>
    expect(lockHeldMessage({ state: 'held', path: '/p/.swiftdeploy/lock', holder: info, liveness: 'alive' })).toBe(describeHolder(info)));
  it('a stale holder: why, and how to remove it', () =>
    expect(lockHeldMessage({ state: 'held', path: '/p/.swiftdeploy/lock', holder: info, liveness: 'stale', reason: 'pid 4121 is no longer running on this host' })).toBe(
      `${describeHolder(info)}\nthe lock is stale (pid 4121 is no longer running on this host); remove it with \`swiftdeploy lock release --force\``,
    ));
  it('an unreadable lock file', () =>
    expect(lockHeldMessage({ state: 'unreadable', path: '/p/.swiftdeploy/lock', reason: 'Unexpected end of JSON input' })).toBe(
      'locked: /p/.swiftdeploy/lock exists but cannot be read (Unexpected end of JSON input); if no swiftdeploy command is running, remove it with `swiftdeploy lock release --force`',
    ));
});

const linux = process.platform === 'linux';
if (!linux) console.warn('lock liveness: start time and boot id checks skipped (not Linux)');

describe('whyNotAlive', () => {
  it('this process is alive', () => expect(whyNotAlive({ pid: process.pid })).toBeUndefined());
  it.skipIf(!linux)('this process with its own start time and boot id is alive', () =>
    expect(whyNotAlive({ pid: process.pid, pidStartTime: processStartTime(process.pid), bootId: bootId() })).toBeUndefined());
  it.skipIf(!linux)('a different start time means the pid was reused', () =>
    expect(whyNotAlive({ pid: process.pid, pidStartTime: '1' })).toBe(`pid ${process.pid} now belongs to a different process`));
  it.skipIf(!linux)('a different boot id means the lock predates a reboot', () =>
    expect(whyNotAlive({ pid: process.pid, bootId: 'not-this-boot' })).toBe('this host has rebooted since the lock was taken'));
  it.skipIf(!linux)('reads a start time in clock ticks since boot', () => expect(processStartTime(process.pid)).toMatch(/^\d+$/));
});
