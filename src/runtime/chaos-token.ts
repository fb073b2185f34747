/**
 * The shared secret that authorises chaos requests to the app. It lives in `<stateDir>/chaos-token`,
 * readable by the owner only, and is never printed.
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';

export const CHAOS_TOKEN_FILE = 'chaos-token';

// base64url of 32 random bytes is 43 characters; accept any token of that alphabet we could have written.
const TOKEN = /^[A-Za-z0-9_-]{32,256}$/;

async function readToken(path: string): Promise<string> {
  const token = (await readFile(path, 'utf8')).trim();
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
  try {
    return await readToken(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  // The directory keeps the umask's mode: the lock in it must stay readable to other operators; the token file itself is 0600.
  await mkdir(stateDir, { recursive: true });
  const token = randomBytes(32).toString('base64url');
  const tmp = join(stateDir, `.${CHAOS_TOKEN_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`);
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
