/**
 * The project lock: one mutating swiftdeploy command per project at a time.
 *
 * `<stateDir>/lock` is created atomically: the record is written to a private temp file and
 * hard-linked into place. link(2) fails with EEXIST if the lock exists, so exactly one process wins,
 * and no reader ever sees a half-written lock (as it could with O_EXCL followed by a write).
 * No fsync: a lock only has to survive a process crash; after a power cut it is stale anyway (boot id).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsc, openSync, readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { EXIT, LockHeld, UsageError } from '../errors.js';
import { removeStaleTemps, tempPathFor } from '../util/stale-temps.js';
import { bootId, processStartTime, whyNotAlive } from './liveness.js';

export const LOCK_FILE = 'lock';

export interface LockInfo {
  version: 1;
  /** Random; a holder removes the lock only while it still carries its own id. */
  id: string;
  actor: string;
  host: string;
  pid: number;
  /** Linux only: lets a reader tell a reused pid from the holder. */
  pidStartTime?: string;
  /** Linux only: lets a reader tell a lock written before the last reboot. */
  bootId?: string;
  /** What the holder is doing, e.g. "promote canary". */
  command: string;
  /** ISO-8601 UTC. */
  startedAt: string;
}

export interface LockRequest {
  actor: string;
  command: string;
}

export type LockStatus =
  | { state: 'free'; path: string }
  | {
      state: 'held';
      path: string;
      holder: LockInfo;
      /** alive: holder runs on this host; stale: it does not; unknown: lock taken on another host. */
      liveness: 'alive' | 'stale' | 'unknown';
      reason?: string;
    }
  | { state: 'unreadable'; path: string; reason: string };

export interface AcquireOptions {
  /** Wait up to this many seconds for the holder to finish instead of failing at once. */
  waitSeconds?: number;
  /** Called once when we start waiting, with the current holder. */
  onWait?: (status: LockStatus) => void;
  /** How often to retry while waiting. */
  pollMs?: number;
}

export interface LockHandle {
  readonly info: LockInfo;
  readonly path: string;
  /** Remove the lock if it is still ours. Idempotent. */
  release(): Promise<void>;
}

const FORCE_HINT = 'swiftdeploy lock release --force';

export function lockPath(stateDir: string): string {
  return join(stateDir, LOCK_FILE);
}

function parseLockInfo(text: string): LockInfo {
  const v: unknown = JSON.parse(text);
  if (typeof v !== 'object' || v === null) throw new Error('not a JSON object');
  const o = v as Record<string, unknown>;
  for (const k of ['id', 'actor', 'host', 'command', 'startedAt'] as const) {
    if (typeof o[k] !== 'string') throw new Error(`field ${k} is missing or not a string`);
  }
  if (!Number.isInteger(o.pid)) throw new Error('field pid is missing or not an integer');
  return v as LockInfo;
}

/** `2026-05-01T14:02:11Z`: seconds are enough for a human, and UTC avoids "whose 14:02?". */
function displayTime(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z');
}

/** The one-line description of a holder used in refusals and `lock status`. */
export function describeHolder(info: LockInfo): string {
  return `locked by ${info.actor} on ${info.host} (pid ${info.pid}) since ${displayTime(info.startedAt)}: ${info.command}`;
}

/** What to tell a user who hit the lock. */
export function lockHeldMessage(status: Exclude<LockStatus, { state: 'free' }>): string {
  if (status.state === 'unreadable') {
    return `locked: ${status.path} exists but cannot be read (${status.reason}); if no swiftdeploy command is running, remove it with \`${FORCE_HINT}\``;
  }
  const line = describeHolder(status.holder);
  if (status.liveness === 'stale') {
    return `${line}\nthe lock is stale (${status.reason}); remove it with \`${FORCE_HINT}\``;
  }
  return line;
}

// The lock is only ever created by link(2) from a regular file: never read one through a symlink, which
// would show another file's contents in a refusal.
const NO_FOLLOW = fsc.O_RDONLY | fsc.O_NOFOLLOW;

export async function lockStatus(stateDir: string): Promise<LockStatus> {
  const path = lockPath(stateDir);
  let text: string;
  try {
    text = await readFile(path, { encoding: 'utf8', flag: NO_FOLLOW });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { state: 'free', path };
    if (code === 'ELOOP') return { state: 'unreadable', path, reason: 'it is a symlink, not a lock swiftdeploy wrote' };
    return { state: 'unreadable', path, reason: (e as Error).message };
  }
  let holder: LockInfo;
  try {
    holder = parseLockInfo(text);
  } catch (e) {
    return { state: 'unreadable', path, reason: (e as Error).message };
  }
  if (holder.host !== hostname()) {
    return { state: 'held', path, holder, liveness: 'unknown', reason: `taken on another host (${holder.host}); cannot check its pid from here` };
  }
  const reason = whyNotAlive(holder);
  return reason ? { state: 'held', path, holder, liveness: 'stale', reason } : { state: 'held', path, holder, liveness: 'alive' };
}

function newLockInfo(request: LockRequest): LockInfo {
  if (!request.actor.trim() || !request.command.trim()) throw new UsageError('a lock needs an actor and a command');
  const info: LockInfo = {
    version: 1,
    id: randomBytes(12).toString('hex'),
    actor: request.actor,
    host: hostname(),
    pid: process.pid,
    command: request.command,
    startedAt: new Date().toISOString(),
  };
  const start = processStartTime(process.pid);
  if (start !== undefined) info.pidStartTime = start;
  const boot = bootId();
  if (boot !== undefined) info.bootId = boot;
  return info;
}

/** One attempt: true if we now hold the lock, false if someone else does. */
async function tryCreate(stateDir: string, info: LockInfo): Promise<boolean> {
  const tmp = tempPathFor(lockPath(stateDir));
  await writeFile(tmp, `${JSON.stringify(info)}\n`, { flag: 'wx', mode: 0o644 });
  try {
    await link(tmp, lockPath(stateDir));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

function isOurs(path: string, id: string): boolean {
  try {
    const fd = openSync(path, NO_FOLLOW);
    try {
      return parseLockInfo(readFileSync(fd, 'utf8')).id === id;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

// Synchronous on purpose: it also runs from the 'exit' event, where async work never completes.
// Read-then-unlink is not atomic; the window only matters if someone force-removes our lock and a new
// holder takes it within the same instant, which force-release makes the operator's responsibility.
function removeIfOurs(path: string, id: string): void {
  if (!isOurs(path, id)) return;
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Take the project lock, or throw LockHeld (exit 5) naming the holder. A stale lock is not broken
 * automatically: the refusal says it is stale and how to remove it.
 *
 * The lock is released by release(), and otherwise whenever the process exits (normal exit,
 * process.exit, an uncaught exception). On SIGINT/SIGTERM/SIGHUP: if the command installed no handler
 * of its own, the process exits with 130 and the lock goes with it; if it did, that handler decides
 * (e.g. to roll back first) and the lock is released when it finally exits.
 */
export async function acquireLock(stateDir: string, request: LockRequest, options: AcquireOptions = {}): Promise<LockHandle> {
  const waitSeconds = options.waitSeconds ?? 0;
  if (!(waitSeconds >= 0) || !Number.isFinite(waitSeconds)) {
    throw new UsageError(`--lock-wait: expected a number of seconds >= 0, got ${waitSeconds}`);
  }
  await mkdir(stateDir, { recursive: true });
  // A command killed between writing its lock record and linking it left the record behind.
  await removeStaleTemps(lockPath(stateDir));
  const info = newLockInfo(request);
  const path = lockPath(stateDir);
  const deadline = Date.now() + waitSeconds * 1000;
  const pollMs = options.pollMs ?? 250;
  let announced = false;
  for (;;) {
    if (await tryCreate(stateDir, info)) break;
    const status = await lockStatus(stateDir);
    if (status.state === 'free') continue; // released between our attempt and the read: try again
    // Waiting on a stale or unreadable lock would only waste the wait: it never frees itself.
    const hopeless = status.state === 'unreadable' || status.liveness === 'stale';
    if (hopeless || Date.now() >= deadline) {
      const waited = waitSeconds > 0 && !hopeless ? ` (waited ${waitSeconds} s)` : '';
      throw new LockHeld(`${lockHeldMessage(status)}${waited}`);
    }
    if (!announced) {
      announced = true;
      options.onWait?.(status);
    }
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(1, deadline - Date.now()))));
  }

  const releaseSync = (): void => removeIfOurs(path, info.id);
  const onSignal = (signal: NodeJS.Signals): void => {
    if (process.listenerCount(signal) > 1) return; // the command handles it and will exit itself
    releaseSync();
    process.stderr.write(`swiftdeploy: interrupted by ${signal}; project lock released\n`);
    process.exit(EXIT.INTERRUPTED);
  };
  process.on('exit', releaseSync);
  for (const s of SIGNALS) process.on(s, onSignal);
  let released = false;
  return {
    info,
    path,
    async release() {
      if (released) return;
      released = true;
      process.off('exit', releaseSync);
      for (const s of SIGNALS) process.off(s, onSignal);
      releaseSync();
    },
  };
}

export interface ForceReleaseResult {
  /** What was there before; undefined when the lock was already free. */
  previous?: Exclude<LockStatus, { state: 'free' }>;
  removed: boolean;
}

/**
 * Remove a lock its holder can no longer release: stale, unreadable, or taken on another host (which
 * we cannot check, so the operator vouches for it). A lock whose holder is alive on this host is
 * refused unless `evenIfAlive`, because removing it lets two commands change the stack at once.
 */
export async function forceReleaseLock(
  stateDir: string,
  options: {
    evenIfAlive?: boolean;
    /**
     * Removes the inspected lock file and says whether it did; default: unlink it. `lock release`
     * passes one that records the removal write-ahead (src/lifecycle/lock-release.ts).
     */
    remove?: (status: Exclude<LockStatus, { state: 'free' }>) => Promise<boolean>;
  } = {},
): Promise<ForceReleaseResult> {
  const status = await lockStatus(stateDir);
  if (status.state === 'free') return { removed: false };
  if (status.state === 'held' && status.liveness === 'alive' && !options.evenIfAlive) {
    throw new LockHeld(`${describeHolder(status.holder)}\nthe holder is still running; refusing to remove a live lock`);
  }
  // Remove only what we inspected: if it was replaced meanwhile, the new holder keeps it.
  if (status.state === 'held' && !isOurs(status.path, status.holder.id)) return { previous: status, removed: false };
  if (options.remove) return { previous: status, removed: await options.remove(status) };
  try {
    await unlink(status.path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    return { previous: status, removed: false };
  }
  return { previous: status, removed: true };
}
