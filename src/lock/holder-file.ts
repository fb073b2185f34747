/**
 * The file operations of every lock: publish a holder file, read it, release it, break a stale one.
 *
 * Publish: the record is written to a private temp file, fsync'd, and hard-linked into place. link(2)
 * fails with EEXIST while the lock exists, so exactly one process wins, and no reader ever sees a
 * half-written holder (as it could with O_EXCL followed by a write). The fsync is of the content
 * only, before the link: after a power cut the name may be gone (fine: its holder is gone too) but
 * is never there with empty content, which would read as an unreadable lock nobody may break.
 *
 * Most calls are synchronous on purpose: each is a metadata call of microseconds, while an async one
 * costs a thread-pool round trip (milliseconds on a loaded 2-core machine) and, inside the ledger's
 * critical section, makes every other writer wait that much longer. Only the fsync is asynchronous;
 * it runs once per acquisition, before the lock is taken.
 */
import { closeSync, constants as fsc, fdatasync, fstatSync, linkSync, lstatSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { removeStaleTemps, tempPathFor } from '../util/stale-temps.js';
import { holderLiveness, newHolder, parseHolder, type LockHolder } from './holder.js';

const fdatasyncAsync = promisify(fdatasync);

/** Which file a reader saw: a holder file is never rewritten, so its inode (and id) names it. */
export interface HolderFileIdentity {
  dev: number;
  ino: number;
  /** The holder's id when the file was readable. */
  id?: string;
}

export type HolderFileState =
  | { state: 'free' }
  | { state: 'held'; holder: LockHolder; identity: HolderFileIdentity }
  | { state: 'unreadable'; reason: string; identity?: HolderFileIdentity };

/** A complete, fsync'd holder file beside `path`, ready to be linked into place (then discarded). */
export async function prepareHolderFile(path: string, holder: LockHolder): Promise<string> {
  const temp = tempPathFor(path);
  const fd = openSync(temp, 'wx', 0o644);
  try {
    const bytes = Buffer.from(`${JSON.stringify(holder)}\n`, 'utf8');
    if (writeSync(fd, bytes) !== bytes.length) throw new Error(`short write to ${temp}`);
    await fdatasyncAsync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkQuietly(temp);
    throw e;
  }
  closeSync(fd);
  return temp;
}

/** One attempt to publish: true if `path` is now the prepared file (we hold the lock), false if it exists. */
export function linkHolderFile(temp: string, path: string): boolean {
  try {
    linkSync(temp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

// A lock is only ever created by link(2) from a regular file: never read one through a symlink, which
// would show another file's contents in a refusal.
const NO_FOLLOW = fsc.O_RDONLY | fsc.O_NOFOLLOW;

export function readHolderFile(path: string): HolderFileState {
  let fd: number;
  try {
    fd = openSync(path, NO_FOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { state: 'free' };
    const identity = lstatIdentity(path);
    if (code === 'ELOOP') return { state: 'unreadable', reason: 'it is a symlink, not a lock swiftdeploy wrote', ...(identity ? { identity } : {}) };
    return { state: 'unreadable', reason: (e as Error).message, ...(identity ? { identity } : {}) };
  }
  try {
    const { dev, ino } = fstatSync(fd);
    let holder: LockHolder;
    try {
      holder = parseHolder(readFileSync(fd, 'utf8'));
    } catch (e) {
      return { state: 'unreadable', reason: (e as Error).message, identity: { dev, ino } };
    }
    return { state: 'held', holder, identity: { dev, ino, id: holder.id } };
  } finally {
    closeSync(fd);
  }
}

function lstatIdentity(path: string): HolderFileIdentity | undefined {
  try {
    const { dev, ino } = lstatSync(path);
    return { dev, ino };
  } catch {
    return undefined;
  }
}

/** Is `path` still the very file a reader saw? */
export function isSameHolderFile(path: string, seen: HolderFileIdentity): boolean {
  const now = lstatIdentity(path);
  if (now === undefined || now.dev !== seen.dev || now.ino !== seen.ino) return false;
  if (seen.id === undefined) return true;
  // An inode number can be reused once the file is gone; the random id cannot.
  const state = readHolderFile(path);
  return state.state === 'held' && state.holder.id === seen.id;
}

/**
 * Release: remove the lock only while it still carries `id`. Synchronous: it also runs from the
 * 'exit' event, where async work never completes. Read-then-unlink is not atomic; the window only
 * matters if our lock was forcibly removed while we were alive and retaken within the same instant,
 * which a forced release of a live holder makes the operator's responsibility.
 */
export function releaseHolderFile(path: string, id: string): boolean {
  const state = readHolderFile(path);
  if (state.state !== 'held' || state.holder.id !== id) return false;
  return unlinkIfPresent(path);
}

export type BreakResult = 'removed' | 'changed' | 'busy';

/** An unreadable `.break` cannot be judged by its holder; it is only ever left by a crash, so age will do. */
const UNREADABLE_BREAK_STALE_MS = 5_000;
const sweptBreak = new Set<string>();

/**
 * Break a lock whose holder can no longer release it: remove `path` only if it is still the file
 * `seen` (compare-and-delete), under a second lock, `<path>.break`, published and judged like any
 * other. Without it, two processes that both saw the same dead holder could both delete "the" lock,
 * and the second would delete the lock the first had just taken. The `.break` holder is judged by
 * its liveness (no timer): a breaker that is slow but alive is never broken itself.
 *
 * 'removed': we removed it (or `remove` says it did). 'changed': it is no longer the file seen
 * (gone, or replaced by a new holder); look again. 'busy': another breaker is at work; look again.
 * `remove` replaces the plain unlink (the project lock's forced release records it write-ahead).
 */
export async function breakHolderFile(path: string, seen: HolderFileIdentity, remove?: () => Promise<boolean>): Promise<BreakResult> {
  const mutex = `${path}.break`;
  if (!sweptBreak.has(mutex)) {
    // Once per process: a breaker killed between writing its record and removing it left it behind.
    sweptBreak.add(mutex);
    await removeStaleTemps(mutex);
  }
  const mine = newHolder(`break the stale lock ${path}`);
  const temp = await prepareHolderFile(mutex, mine);
  try {
    if (!linkHolderFile(temp, mutex)) {
      clearDeadBreaker(mutex);
      return 'busy';
    }
  } finally {
    unlinkQuietly(temp);
  }
  try {
    if (!isSameHolderFile(path, seen)) return 'changed';
    if (remove) return (await remove()) ? 'removed' : 'changed';
    return unlinkIfPresent(path) ? 'removed' : 'changed';
  } finally {
    releaseHolderFile(mutex, mine.id);
  }
}

/**
 * A breaker that died holding `.break` (it holds it for microseconds, or for the few records of a
 * forced release) leaves it behind; remove it by the same compare-and-delete, without a third lock.
 * Two processes doing this at once could, in a window of microseconds, remove a fresh `.break`;
 * that needs a breaker to die inside its own critical section first, and then costs only a retry
 * unless a third breaker is in the same instant too.
 */
function clearDeadBreaker(mutex: string): void {
  const state = readHolderFile(mutex);
  if (state.state === 'held') {
    try {
      if (holderLiveness(state.holder).liveness === 'stale') releaseHolderFile(mutex, state.holder.id);
    } catch {
      // not ours to remove after all (permissions): the caller retries and, in the end, says it is held
    }
    return;
  }
  if (state.state === 'unreadable' && state.identity) {
    try {
      if (Date.now() - lstatSync(mutex).mtimeMs > UNREADABLE_BREAK_STALE_MS && isSameHolderFile(mutex, state.identity)) unlinkSync(mutex);
    } catch {
      // gone meanwhile, or not ours to remove: the caller retries
    }
  }
}

/** True if this call removed the file, false if it was already gone; other errors are thrown. */
export function unlinkIfPresent(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** For our own temp files and `.break`: a failure to remove one must not hide the error being handled. */
export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already, or left for removeStaleTemps
  }
}
