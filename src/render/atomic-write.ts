import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

export interface AtomicWriteOptions {
  /** File mode for a newly written file (default 0o644). */
  mode?: number;
  /** Test seam: runs after the temp file is complete and fsync'd, before the rename. */
  beforeRename?: (tempPath: string) => void | Promise<void>;
}

/**
 * Replaces `file` with `data` so that a crash at any instant leaves either the old or the new
 * complete file, never a mix: write a temp file in the same directory (same filesystem, so rename
 * is atomic), fsync it, rename it over the target, then fsync the directory so the rename itself
 * is durable. Guarantee: after this resolves, the new bytes survive power loss on a disk that
 * honours flush; before it resolves, readers see the old file.
 */
export async function writeFileAtomic(file: string, data: string | Buffer, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', options.mode ?? 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await options.beforeRename?.(temp);
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await fsyncDirectory(dir);
}

export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    // Some filesystems refuse fsync on a directory (EINVAL/EISDIR); the rename is still atomic there.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw err;
  } finally {
    await handle.close();
  }
}
