import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDirectory } from '../util/fsync-directory.js';
import { removeStaleTemps, tempPathFor } from '../util/stale-temps.js';

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
 *
 * The temp file is `.<name>.<pid>.<hex>.tmp`; one left by a writer that was killed is removed by the
 * next write of the same file (src/util/stale-temps.ts).
 */
export async function writeFileAtomic(file: string, data: string | Buffer, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = path.dirname(file);
  await removeStaleTemps(file);
  const temp = tempPathFor(file);
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
