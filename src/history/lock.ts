/**
 * An exclusive cross-process lock for history.jsonl, held only for the few milliseconds of an append.
 *
 * Why an O_EXCL-style lock file of our own rather than proper-lockfile: Node has no flock(2), and
 * proper-lockfile decides staleness by mtime, so its holder must keep a timer refreshing the lock and
 * a crashed holder blocks everyone for the whole stale period. Here the lock names its holder (pid,
 * host, boot id, process start time), so a dead holder is recognised at once and exactly on the
 * same host, with no timer and no dependency. The file is published with link(2), which is atomic and
 * fails if the lock exists, so nobody ever reads a half-written lock.
 *
 * The file operations are synchronous on purpose: each is a metadata call of microseconds, while an
 * async one costs a thread-pool round trip (milliseconds on a loaded 2-core machine) and, inside the
 * critical section, makes every other writer wait that much longer. Only waiting is asynchronous.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, linkSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockHeld } from '../errors.js';
import { removeStaleTemps, tempPathFor } from '../util/stale-temps.js';

export interface LockOwner {
  pid: number;
  host: string;
  /** Linux boot id: a lock from before a reboot is stale even if its pid is alive again. */
  boot_id: string | null;
  /** Start time of the holder in clock ticks since boot (/proc/<pid>/stat field 22): defeats pid reuse. */
  proc_start: string | null;
  since: string;
  nonce: string;
  purpose: string;
}

export interface LockOptions {
  /** How long to wait for a live holder. Default 10 s: appends hold the lock for milliseconds. */
  timeoutMs?: number;
  /** Shown to whoever waits for the lock. */
  purpose?: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** A breaker that died between taking and releasing the break lock leaves it behind this long at most. */
const BREAK_LOCK_STALE_MS = 5_000;

export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const owner = await acquire(lockPath, opts);
  try {
    return await fn();
  } finally {
    await release(lockPath, owner);
  }
}

const swept = new Set<string>();

async function acquire(lockPath: string, opts: LockOptions): Promise<LockOwner> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    boot_id: BOOT_ID,
    proc_start: OWN_PROC_START,
    since: new Date().toISOString(),
    nonce: randomUUID(),
    purpose: opts.purpose ?? 'append history',
  };
  const body = `${JSON.stringify(owner)}\n`;
  if (!swept.has(lockPath)) {
    // Once per process: a writer killed between writing its owner record and removing it left it behind.
    swept.add(lockPath);
    await removeStaleTemps(lockPath);
  }
  const temp = tempPathFor(lockPath);
  writeFileSync(temp, body, { mode: 0o644, flag: 'wx' });
  try {
    let delay = 2;
    for (;;) {
      try {
        linkSync(temp, lockPath);
        return owner;
      } catch (err) {
        if (!isCode(err, 'EEXIST')) throw err;
      }
      const holder = readOwner(lockPath);
      if (holder && isStale(holder)) {
        await breakStale(lockPath, holder);
        continue;
      }
      if (Date.now() >= deadline) {
        throw new LockHeld(
          holder
            ? `${lockPath} is held by pid ${holder.pid} on ${holder.host} since ${holder.since}: ${holder.purpose}`
            : `${lockPath} is held (its owner could not be read)`,
        );
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

async function release(lockPath: string, owner: LockOwner): Promise<void> {
  // Remove only our own lock: if it was (wrongly) broken and retaken, the new holder keeps it.
  if (readOwner(lockPath)?.nonce === owner.nonce) unlinkQuietly(lockPath);
}

function readOwner(lockPath: string): LockOwner | null {
  try {
    const parsed: unknown = JSON.parse(readFileSync(lockPath, 'utf8'));
    return isOwner(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

function isOwner(v: unknown): v is LockOwner {
  const o = v as Partial<LockOwner> | null;
  return typeof o === 'object' && o !== null && typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.nonce === 'string';
}

/** Only a holder on this host can be judged; one on another host is presumed alive. */
export function isStale(holder: LockOwner): boolean {
  if (holder.host !== hostname()) return false;
  if (holder.boot_id !== null && BOOT_ID !== null && holder.boot_id !== BOOT_ID) return true;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to someone else; it is alive.
    return !isCode(err, 'EPERM');
  }
  if (holder.proc_start !== null) {
    const now = procStart(holder.pid);
    if (now !== null && now !== holder.proc_start) return true;
  }
  return false;
}

/**
 * Compare-and-delete under a second, tiny lock: two processes that both saw the same dead holder must
 * not both delete "the" lock, or the second would delete the first one's fresh lock.
 */
async function breakStale(lockPath: string, observed: LockOwner): Promise<void> {
  const breakPath = `${lockPath}.break`;
  let fd: number;
  try {
    fd = openSync(breakPath, 'wx');
  } catch (err) {
    if (!isCode(err, 'EEXIST')) throw err;
    const mtimeMs = statSync(breakPath, { throwIfNoEntry: false })?.mtimeMs;
    if (mtimeMs !== undefined && Date.now() - mtimeMs > BREAK_LOCK_STALE_MS) unlinkQuietly(breakPath);
    await sleep(2);
    return;
  }
  try {
    if (readOwner(lockPath)?.nonce === observed.nonce) unlinkQuietly(lockPath);
  } finally {
    closeSync(fd);
    unlinkQuietly(breakPath);
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone: the outcome wanted.
  }
}

function readProcFile(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

const BOOT_ID = readProcFile('/proc/sys/kernel/random/boot_id')?.trim() ?? null;

function procStart(pid: number): string | null {
  const stat = readProcFile(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // The command name (field 2) may contain spaces and parentheses; fields after the last ')' are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}

const OWN_PROC_START = procStart(process.pid);

function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
