import { execFileSync } from 'node:child_process';
import os from 'node:os';

/**
 * Who is acting: --actor, else SWIFTDEPLOY_ACTOR, else `git config user.email` in the project,
 * else the OS user name. Recorded with every action, so it is never empty.
 */
export function resolveActor(flag: string | undefined, projectDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const explicit = flag?.trim() || env.SWIFTDEPLOY_ACTOR?.trim();
  if (explicit) return explicit;
  try {
    const email = execFileSync('git', ['config', 'user.email'], {
      cwd: projectDir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 2000,
    }).trim();
    if (email) return email;
  } catch {
    // not a git checkout, git absent, or no user.email: fall through to the OS user
  }
  try {
    return os.userInfo().username;
  } catch {
    return env.USER ?? env.USERNAME ?? 'unknown';
  }
}
