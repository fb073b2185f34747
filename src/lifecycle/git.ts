import { execFile } from 'node:child_process';
import type { GitInfo } from '../history/types.js';

/**
 * The commit the project directory is on, recorded with every action so an audit can tie a change to
 * code. Absent (undefined) when the directory is not in a git work tree or git is not installed.
 */
export async function gitInfo(projectDir: string): Promise<GitInfo | undefined> {
  // node:child_process, not execa: this runs on every command's start-up path (init included),
  // where execa's ~100 modules cost more than the whole rest of init.
  const git = (args: string[]) =>
    new Promise<string | undefined>((resolve) => {
      execFile('git', args, { cwd: projectDir, timeout: 5000, encoding: 'utf8' }, (err, stdout) => resolve(err ? undefined : stdout));
    });
  const head = await git(['log', '-1', '--format=%H%x00%s%x00%an <%ae>']).catch(() => undefined);
  if (!head) return undefined;
  const [sha = '', subject = '', author = ''] = head.trim().split('\0');
  const status = await git(['status', '--porcelain', '--untracked-files=no']).catch(() => undefined);
  return { sha, subject, author, dirty: status === undefined ? true : status.trim().length > 0 };
}
