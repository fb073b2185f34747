/** git's questions about a project directory, as data (run them with the project directory as cwd). */

/** The operator's configured address; exit 1 and no output when none is set. */
export function gitUserEmail(): string[] {
  return ['git', 'config', 'user.email'];
}

/** The commit HEAD is on: sha, subject and author, NUL-separated on one line. Fails outside a work tree. */
export function gitHeadCommit(): string[] {
  return ['git', 'log', '-1', '--format=%H%x00%s%x00%an <%ae>'];
}

/** Changes to tracked files, one line each; empty when the work tree is clean. */
export function gitTrackedChanges(): string[] {
  return ['git', 'status', '--porcelain', '--untracked-files=no'];
}
