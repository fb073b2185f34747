/**
 * fsync of a directory, so that a name created or renamed in it (a new ledger, an atomic replace)
 * survives a power cut. The one copy of this call and of its error rule: the ledger uses the
 * synchronous form (its critical section makes metadata calls synchronously, see history/lock.ts),
 * atomic writes the asynchronous one.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';

// EINVAL: this filesystem cannot sync a directory (fsync(2)), nothing stronger exists, go on; EBADF (on Linux/macOS our bug), EIO, all else throw.
export function isUnsupportedDirectoryFsync(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'EINVAL';
}

export function fsyncDirectorySync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } catch (err) {
    if (!isUnsupportedDirectoryFsync(err)) throw err;
  } finally {
    closeSync(fd);
  }
}

export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    if (!isUnsupportedDirectoryFsync(err)) throw err;
  } finally {
    await handle.close();
  }
}
