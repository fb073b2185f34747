import type { GitInfo } from '../history/types.js';
import { gitHeadCommit, gitTrackedChanges } from '../runtime/git-argv.js';
import { quickOutput } from '../runtime/run-quick.js';

/**
 * The commit the project directory is on, recorded with every action so an audit can tie a change to
 * code. Absent (undefined) when the directory is not in a git work tree or git is not installed.
 * Run with the start-up path's runner (runtime/run-quick.ts says why it is not runArgv).
 */
export async function gitInfo(projectDir: string): Promise<GitInfo | undefined> {
  const git = (argv: string[]) => quickOutput(argv, { cwd: projectDir, timeoutMs: 5000 });
  const head = await git(gitHeadCommit());
  if (!head) return undefined;
  const [sha = '', subject = '', author = ''] = head.trim().split('\0');
  const status = await git(gitTrackedChanges());
  return { sha, subject, author, dirty: status === undefined ? true : status.trim().length > 0 };
}
