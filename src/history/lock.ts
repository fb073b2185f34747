/**
 * The ledger's append lock (`history.jsonl.lock`), held only for the few milliseconds of an append:
 * the one lock core's short lock (src/lock/file-lock.ts: wait up to 10 s for a live holder, break a
 * dead one at once), named for what the ledger does.
 */
import { withFileLock as withCoreFileLock } from '../lock/file-lock.js';

export interface LockOptions {
  /** How long to wait for a live holder. Default 10 s: appends hold the lock for milliseconds. */
  timeoutMs?: number;
  /** Shown to whoever waits for the lock. */
  purpose?: string;
}

export function withFileLock<T>(lockPath: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  return withCoreFileLock(lockPath, fn, { command: opts.purpose ?? 'append history', ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) });
}
