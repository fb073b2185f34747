import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fsyncDirectory, fsyncDirectorySync, isUnsupportedDirectoryFsync } from '../../src/util/fsync-directory.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'swiftdeploy-fsync-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });

describe('fsyncDirectory', () => {
  it('syncs a real directory, in both forms', async () => {
    expect(fsyncDirectorySync(dir)).toBeUndefined();
    await expect(fsyncDirectory(dir)).resolves.toBeUndefined();
  });

  it('throws when the directory cannot be opened', async () => {
    const gone = path.join(dir, 'gone');
    expect(() => fsyncDirectorySync(gone)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    await expect(fsyncDirectory(gone)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  // /dev/null has no fsync in Linux, so the kernel answers EINVAL: the path a filesystem that cannot sync a directory takes.
  it.runIf(process.platform === 'linux')('goes on when the kernel answers EINVAL (a real one: fsync of /dev/null)', async () => {
    expect(fsyncDirectorySync('/dev/null')).toBeUndefined();
    await expect(fsyncDirectory('/dev/null')).resolves.toBeUndefined();
  });

  it('tolerates EINVAL only: EBADF, EIO and the rest are real failures', () => {
    expect(isUnsupportedDirectoryFsync(errno('EINVAL'))).toBe(true);
    for (const code of ['EBADF', 'EIO', 'ENOSPC', 'EPERM', 'EISDIR', 'EROFS']) expect(isUnsupportedDirectoryFsync(errno(code)), code).toBe(false);
    expect(isUnsupportedDirectoryFsync(new Error('no code'))).toBe(false);
    expect(isUnsupportedDirectoryFsync(undefined)).toBe(false);
  });
});
