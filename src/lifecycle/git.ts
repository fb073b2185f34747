import { execa } from 'execa';
import type { GitInfo } from '../history/types.js';

/**
 * The commit the project directory is on, recorded with every action so an audit can tie a change to
 * code. Absent (undefined) when the directory is not in a git work tree or git is not installed.
 */
export async function gitInfo(projectDir: string): Promise<GitInfo | undefined> {
  const git = (args: string[]) =>
    execa('git', args, { cwd: projectDir, reject: false, stdin: 'ignore', timeout: 5000 }).then((r) =>
      r.exitCode === 0 ? String(r.stdout) : undefined,
    );
  const head = await git(['log', '-1', '--format=%H%x00%s%x00%an <%ae>']).catch(() => undefined);
  if (!head) return undefined;
  const [sha = '', subject = '', author = ''] = head.trim().split('\0');
  const status = await git(['status', '--porcelain', '--untracked-files=no']).catch(() => undefined);
  return { sha, subject, author, dirty: status === undefined ? true : status.trim().length > 0 };
}
