import { stat } from 'node:fs/promises';
import { LockHeld, OperationFailed } from '../errors.js';
import { withFileLock } from './lock.js';

/** The lock file that serialises appends to `file`. */
export const lockPathFor = (file: string): string => `${file}.lock`;

/**
 * The file's size at a moment no append is in flight, so a reader running beside the status loop
 * does not mistake a half-written record for a torn one. Taking the lock is only an optimisation for
 * that race: where it cannot be taken (read-only copy, busy writer), the plain size is used.
 */
export async function settledSize(file: string): Promise<number> {
  try {
    await stat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new OperationFailed(`${file}: no history (the file does not exist)`);
    throw err;
  }
  try {
    return await withFileLock(lockPathFor(file), async () => (await stat(file)).size, { timeoutMs: 2_000, purpose: 'read history' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof LockHeld || code === 'EACCES' || code === 'EROFS' || code === 'EPERM') return (await stat(file)).size;
    throw err;
  }
}
