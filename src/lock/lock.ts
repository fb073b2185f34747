/**
 * The project lock: one mutating swiftdeploy command per project at a time, `<stateDir>/lock`.
 * A thin user of the one lock core (holder.ts, holder-file.ts): its own path, wait policy (poll,
 * never break a stale lock by itself) and messages.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LockHeld, UsageError } from '../errors.js';
import { onCleanup } from '../util/signals.js';
import { removeStaleTemps } from '../util/stale-temps.js';
import { holderLiveness, newHolder, type LockHolder } from './holder.js';
import { breakHolderFile, linkHolderFile, prepareHolderFile, readHolderFile, releaseHolderFile, unlinkQuietly, type HolderFileIdentity } from './holder-file.js';

export const LOCK_FILE = 'lock';

/** The core's holder record; the project lock always names the actor. */
export interface LockInfo extends LockHolder {
  actor: string;
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

type Inspected = { status: Exclude<LockStatus, { state: 'free' }>; identity?: HolderFileIdentity } | { status: Extract<LockStatus, { state: 'free' }> };

function inspect(stateDir: string): Inspected {
  const path = lockPath(stateDir);
  const seen = readHolderFile(path);
  if (seen.state === 'free') return { status: { state: 'free', path } };
  if (seen.state === 'unreadable') return { status: { state: 'unreadable', path, reason: seen.reason }, ...(seen.identity ? { identity: seen.identity } : {}) };
  if (seen.holder.actor === undefined) {
    return { status: { state: 'unreadable', path, reason: 'field actor is missing or not a string' }, identity: seen.identity };
  }
  const holder = seen.holder as LockInfo;
  const judged = holderLiveness(holder);
  return { status: { state: 'held', path, holder, ...judged }, identity: seen.identity };
}

export async function lockStatus(stateDir: string): Promise<LockStatus> {
  return inspect(stateDir).status;
}

/**
 * Take the project lock, or throw LockHeld (exit 5) naming the holder. A stale lock is not broken
 * automatically: the refusal says it is stale and how to remove it.
 *
 * The lock is released by release(), and otherwise whenever the process exits (normal exit,
 * process.exit, an uncaught exception). On SIGINT/SIGTERM/SIGHUP the signal registry
 * (util/signals.ts) decides: a command that listens for the signal itself (a promote rolling back)
 * keeps the lock until it exits; otherwise the registry runs this lock's cleanup, which releases it
 * and says so, and exits 128 + the signal's number.
 */
export async function acquireLock(stateDir: string, request: LockRequest, options: AcquireOptions = {}): Promise<LockHandle> {
  const waitSeconds = options.waitSeconds ?? 0;
  if (!(waitSeconds >= 0) || !Number.isFinite(waitSeconds)) {
    throw new UsageError(`--lock-wait: expected a number of seconds >= 0, got ${waitSeconds}`);
  }
  if (!request.actor.trim() || !request.command.trim()) throw new UsageError('a lock needs an actor and a command');
  await mkdir(stateDir, { recursive: true });
  const path = lockPath(stateDir);
  // A command killed between writing its lock record and linking it left the record behind.
  await removeStaleTemps(path);
  const info = newHolder(request.command, request.actor) as LockInfo;
  const deadline = Date.now() + waitSeconds * 1000;
  const pollMs = options.pollMs ?? 250;
  let announced = false;
  const temp = await prepareHolderFile(path, info);
  try {
    for (;;) {
      if (linkHolderFile(temp, path)) break;
      const { status } = inspect(stateDir);
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
  } finally {
    unlinkQuietly(temp);
  }

  let released = false;
  const releaseSync = (): boolean => releaseHolderFile(path, info.id);
  const onExit = (): void => void releaseSync();
  process.on('exit', onExit);
  const unregister = onCleanup((signal) => {
    if (releaseSync() && signal) process.stderr.write(`swiftdeploy: interrupted by ${signal}; project lock released\n`);
  });
  return {
    info,
    path,
    async release() {
      if (released) return;
      released = true;
      process.off('exit', onExit);
      unregister();
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
 * The removal is the core's compare-and-delete: only the file inspected, and never by two at once.
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
  const seen = inspect(stateDir);
  if (seen.status.state === 'free') return { removed: false };
  const status = seen.status;
  if (status.state === 'held' && status.liveness === 'alive' && !options.evenIfAlive) {
    throw new LockHeld(`${describeHolder(status.holder)}\nthe holder is still running; refusing to remove a live lock`);
  }
  if (!('identity' in seen) || seen.identity === undefined) {
    throw new LockHeld(`${lockHeldMessage(status)}\n(cannot tell which file it is, so it is not removed)`);
  }
  const remove = options.remove;
  const result = await breakHolderFile(status.path, seen.identity, remove ? () => remove(status) : undefined);
  // 'changed': it was replaced meanwhile (the new holder keeps it) or is already gone.
  if (result === 'busy') throw new LockHeld(`${lockHeldMessage(status)}\nanother process is removing it right now`);
  return { previous: status, removed: result === 'removed' };
}
