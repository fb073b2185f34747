/**
 * The start-up path's runner, on node:child_process rather than execa: the one exception to "every
 * process goes through runArgv" (run.ts). git runs on every command's start-up: `git log`/`git status`
 * for the commit each history record carries, `git config user.email` for the actor. Running the
 * first two through runArgv loads execa's chunk on `init`'s path, measured A/B in one interleaved run
 * (scratch builds differing only in that, `init` in a git work tree, 15 runs each, 2026-11-30, load
 * 18 on 2 cores): 2.57x bare `node -e 0` here vs 3.07x through execa (924 vs 1107 ms median); a second
 * run 2.32x vs 2.97x. execa would cost init about half a bare node start, and the 3x target (bench/
 * startup) is already tight. The actor's question would pay the same: any import of execa loads it.
 *
 * Only for short questions whose whole answer is stdout: no streaming, no cancellation, and a
 * failure of any kind (missing program, non-zero exit, timeout) is simply no answer.
 */
import { execFile, execFileSync } from 'node:child_process';

export interface QuickOptions {
  cwd: string;
  timeoutMs: number;
}

/** stdout of argv when it exits 0; undefined otherwise. */
export function quickOutput(argv: readonly string[], options: QuickOptions): Promise<string | undefined> {
  const [program, ...args] = argv;
  if (program === undefined) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    execFile(program, args, { cwd: options.cwd, timeout: options.timeoutMs, encoding: 'utf8' }, (err, stdout) => resolve(err ? undefined : stdout));
  });
}

/** The same, blocking: for the actor, which is asked synchronously. */
export function quickOutputSync(argv: readonly string[], options: QuickOptions): string | undefined {
  const [program, ...args] = argv;
  if (program === undefined) return undefined;
  try {
    return execFileSync(program, args, { cwd: options.cwd, timeout: options.timeoutMs, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}
