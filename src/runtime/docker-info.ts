import { dockerDataRootInfo } from './docker-argv.js';
import { runArgv, type Runner } from './run.js';

/**
 * Docker's data root (`docker info` DockerRootDir): the filesystem images and containers fill, which
 * is what the disk fact should measure. null when no engine answers.
 */
export async function dockerDataRoot(run: Runner = runArgv): Promise<string | null> {
  const r = await run(dockerDataRootInfo(), { timeoutMs: 10_000 }).catch(() => undefined);
  const dir = r?.exitCode === 0 ? r.stdout.trim() : '';
  return dir === '' ? null : dir;
}
