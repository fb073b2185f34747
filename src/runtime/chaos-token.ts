/**
 * The shared secret that authorises chaos requests to the app. It lives in `<stateDir>/chaos-token`,
 * readable by the owner only, and is never printed.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { chmod, link, mkdir, open, readFile, readlink, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeError, UsageError } from '../errors.js';
import { removeStaleTemps, tempPathFor } from '../util/stale-temps.js';

export const CHAOS_TOKEN_FILE = 'chaos-token';

// base64url of 32 random bytes is 43 characters; accept any token of that alphabet we could have written.
const TOKEN = /^[A-Za-z0-9_-]{32,256}$/;

/**
 * The token file is only ever created by link(2) from a regular file: a symlink in its place is not
 * ours, and following it would send another file's contents as a bearer token (and chmod that file).
 */
async function readNoFollow(path: string): Promise<string> {
  try {
    return await readFile(path, { encoding: 'utf8', flag: fsc.O_RDONLY | fsc.O_NOFOLLOW });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ELOOP') throw e;
    const target = await readlink(path).catch(() => 'somewhere unreadable');
    throw new UsageError(`${path} is a symlink (to ${target}), not a chaos token swiftdeploy wrote; remove it to have a new one generated`);
  }
}

async function readToken(path: string): Promise<string> {
  const token = (await readNoFollow(path)).trim();
  if (!TOKEN.test(token)) {
    throw new RuntimeError(`${path} does not hold a valid chaos token; delete it to have a new one generated`);
  }
  // A token others can read is not a secret; tighten rather than refuse, so chaos keeps working.
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0) await chmod(path, 0o600);
  return token;
}

/**
 * Return the project's chaos token, creating it if absent. Creation is atomic and race-free: the token
 * is written and fsync'd to a private temp file, then hard-linked into place, which fails if another
 * process got there first (in which case its token is used).
 */
export async function ensureChaosToken(stateDir: string): Promise<string> {
  const path = join(stateDir, CHAOS_TOKEN_FILE);
  // A creation killed before it removed its temp file (holding a token: the file is 0600) left it behind.
  await removeStaleTemps(path);
  try {
    return await readToken(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  // The directory keeps the umask's mode: the lock in it must stay readable to other operators; the token file itself is 0600.
  await mkdir(stateDir, { recursive: true });
  const token = randomBytes(32).toString('base64url');
  const tmp = tempPathFor(path);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${token}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
    return token;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readToken(path);
    throw e;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** The project's chaos token, or undefined when none was created yet; never read through a symlink. */
export async function readChaosToken(stateDir: string): Promise<string | undefined> {
  try {
    return await readToken(join(stateDir, CHAOS_TOKEN_FILE));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

