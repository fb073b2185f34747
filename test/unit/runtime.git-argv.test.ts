import { describe, expect, it } from 'vitest';
import { gitHeadCommit, gitTrackedChanges, gitUserEmail } from '../../src/runtime/git-argv.js';

describe('git questions, as exact argv', () => {
  it('the operator address', () => expect(gitUserEmail()).toEqual(['git', 'config', 'user.email']));
  it('HEAD: sha, subject, author, NUL-separated', () => expect(gitHeadCommit()).toEqual(['git', 'log', '-1', '--format=%H%x00%s%x00%an <%ae>']));
  it('tracked changes only', () => expect(gitTrackedChanges()).toEqual(['git', 'status', '--porcelain', '--untracked-files=no']));
});
