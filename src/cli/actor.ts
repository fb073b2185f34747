import os from 'node:os';
import { gitUserEmail } from '../runtime/git-argv.js';
import { quickOutputSync } from '../runtime/run-quick.js';

/**
 * Who is acting: --actor, else SWIFTDEPLOY_ACTOR, else `git config user.email` in the project,
 * else the OS user name. Recorded with every action, so it is never empty.
 */
export function resolveActor(flag: string | undefined, projectDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const explicit = flag?.trim() || env.SWIFTDEPLOY_ACTOR?.trim();
  if (explicit) return explicit;
  // Not a git checkout, git absent, or no user.email: no answer, and the OS user acts.
  const email = quickOutputSync(gitUserEmail(), { cwd: projectDir, timeoutMs: 2000 })?.trim();
  if (email) return email;
  try {
    return os.userInfo().username;
  } catch {
    return env.USER ?? env.USERNAME ?? 'unknown';
  }
}
