/**
 * A short exclusive lock around a few milliseconds of work (the ledger's append, `lock release`'s
 * own serialisation): wait for a live holder, break a stale one at once.
 *
 * Why a lock file of our own rather than proper-lockfile: Node has no flock(2), and proper-lockfile
 * decides staleness by mtime, so its holder must keep a timer refreshing the lock and a crashed
 * holder blocks everyone for the whole stale period. Here the lock names its holder (pid, host, boot
 * id, process start time), so a dead holder (a zombie included) is recognised at once and exactly,
 * on the same host, with no timer. A holder on another host is presumed alive.
 *
 * No signal cleanup is registered: a holder killed mid-append leaves a lock the next writer breaks
 * at once, and registering one per append would install signal handlers in every library user.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LockHeld } from '../errors.js';
import { removeStaleTemps } from '../util/stale-temps.js';
import { holderLiveness, newHolder, type LockHolder } from './holder.js';
import { breakHolderFile, linkHolderFile, prepareHolderFile, readHolderFile, releaseHolderFile, unlinkQuietly } from './holder-file.js';

export interface FileLockOptions {
  /** How long to wait for a live holder, then LockHeld (exit 5). Default 10 s. */
  timeoutMs?: number;
  /** What the holder is doing; shown to whoever waits for it. */
  command: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;

export async function withFileLock<T>(path: string, fn: () => Promise<T>, opts: FileLockOptions): Promise<T> {
  const holder = await acquireFileLock(path, opts);
  try {
    return await fn();
  } finally {
    releaseHolderFile(path, holder.id);
  }
}

/** The refusal after waiting: who holds `path`. */
export function fileLockHeldMessage(path: string, holder: LockHolder | undefined): string {
  return holder
    ? `${path} is held by pid ${holder.pid} on ${holder.host} since ${holder.startedAt}: ${holder.command}`
    : `${path} is held (its owner could not be read)`;
}

const swept = new Set<string>();

async function acquireFileLock(path: string, opts: FileLockOptions): Promise<LockHolder> {
  const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  if (!swept.has(path)) {
    // Once per process: a writer killed between writing its holder record and removing it left it behind.
    swept.add(path);
    await removeStaleTemps(path);
  }
  const holder = newHolder(opts.command);
  const temp = await prepareHolderFile(path, holder);
  try {
    let delay = 2;
    for (;;) {
      if (linkHolderFile(temp, path)) return holder;
      const seen = readHolderFile(path);
      if (seen.state === 'free') continue; // released between our attempt and the read
      const stale = seen.state === 'held' && holderLiveness(seen.holder).liveness === 'stale';
      if (stale && (await breakHolderFile(path, seen.identity)) !== 'busy') continue;
      if (Date.now() >= deadline) throw new LockHeld(fileLockHeldMessage(path, seen.state === 'held' ? seen.holder : undefined));
      if (stale) {
        await sleep(2); // another process is breaking it
        continue;
      }
      // Jittered backoff: two waiters must not retry in lockstep, and a holder needs only milliseconds.
      // The lock is not FIFO: a process appending in a tight loop can keep it for a while, but real
      // writers (a status tick every few seconds, a lifecycle event) leave it free almost always.
      await sleep(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 10);
    }
  } finally {
    unlinkQuietly(temp);
  }
}
