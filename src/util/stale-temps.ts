/**
 * Private temp files, and the debris of writers that were killed.
 *
 * Every file swiftdeploy publishes atomically (a rename or a link(2) of a complete private file:
 * generated files, the report, the manifest edit, the project lock, the chaos token, the history lock)
 * is first written as `.<name>.<pid>.<hex>.tmp` beside it. A writer killed between creating that file
 * and renaming or removing it leaves it behind, and nothing else ever would remove it. So each writer
 * first removes the temp files of its own target whose writer is gone: the pid in the name is not
 * running, is a zombie, or now belongs to a process that started after the file was last written
 * (the pid was reused). A temp file of a running writer, this process included, is never touched.
 *
 * Liveness is judged on this host: a project directory shared between hosts (NFS) could see another
 * host's in-flight temp file removed, which fails that write (its rename finds nothing) but never
 * corrupts a target.
 */
import { randomBytes } from 'node:crypto';
import { lstat, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { processStartedAtMs, processState } from '../lock/liveness.js';

/** Where a writer of `target` puts its private temp file. */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The temp-file names of `base`'s writers, current and earlier: `.<base>.<pid>.<hex>.tmp` (all
 * writers now), `.<base>.<pid>.<hex>` (the project lock and chaos token before) and
 * `<base>.<pid>.<uuid>` (the history lock before). The pid is the first capture group.
 */
function tempNamePatterns(base: string): RegExp[] {
  const b = escape(base);
  return [
    new RegExp(`^\\.${b}\\.(\\d{1,10})\\.[0-9a-f]{8}(?:\\.tmp)?$`),
    new RegExp(`^${b}\\.(\\d{1,10})\\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`),
  ];
}

/** Slack for comparing a start time known to the second with a file's mtime. */
const START_SLACK_MS = 2_000;

/** Why the writer of a temp file written at `writtenAtMs` by `pid` is gone, or undefined if it may still be running. */
export function writerGone(pid: number, writtenAtMs: number): string | undefined {
  if (pid === process.pid) return undefined;
  if (!Number.isSafeInteger(pid) || pid <= 0) return `pid ${pid} is not a process id`;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists and belongs to another user; it may be writing.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return `pid ${pid} is not running`;
  }
  if (processState(pid) === 'Z') return `pid ${pid} has exited (zombie)`;
  const started = processStartedAtMs(pid);
  if (started !== undefined && started > writtenAtMs + START_SLACK_MS) return `pid ${pid} now belongs to a process started after the file was written`;
  return undefined;
}

/**
 * Removes the temp files beside `target` left by writers that are gone, and returns their paths. Never
 * fails the caller's write: a file that vanished meanwhile (another process swept it) or cannot be
 * removed is skipped.
 */
export async function removeStaleTemps(target: string): Promise<string[]> {
  const dir = path.dirname(target);
  const patterns = tempNamePatterns(path.basename(target));
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = patterns.map((p) => p.exec(name)?.[1]).find((m) => m !== undefined);
    if (pid === undefined) continue;
    const file = path.join(dir, name);
    try {
      const st = await lstat(file);
      if (!st.isFile() || writerGone(Number(pid), st.mtimeMs) === undefined) continue;
      await unlink(file);
      removed.push(file);
    } catch {
      // Gone already, or not ours to remove: either way nothing to do.
    }
  }
  return removed;
}
