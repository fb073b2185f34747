/** Temporary project directories for end-to-end runs, removed (with their compose project) afterwards. */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeComposeProject } from './docker.js';

export interface TempProject {
  dir: string;
  /** Compose project name the test should put in the manifest. */
  projectName: string;
  /** Compose down by label, then delete the directory. Safe to call twice. */
  cleanup(): Promise<void>;
}

/**
 * Make an empty temp dir (or a copy of `fromDir`) for one project. Register cleanup() in afterAll
 * *before* starting anything, so a failed or interrupted test still removes its containers; it also
 * runs on process exit signals as a last resort.
 */
export async function makeTempProject(projectName: string, fromDir?: string): Promise<TempProject> {
  const dir = await mkdtemp(join(tmpdir(), `${projectName}-`));
  if (fromDir) await cp(fromDir, dir, { recursive: true });
  let done: Promise<void> | undefined;
  const cleanup = (): Promise<void> => {
    done ??= (async () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      const problems = await removeComposeProject(projectName);
      if (problems.length > 0) console.warn(`cleanup of ${projectName} left: ${problems.join('; ')}`);
      await rm(dir, { recursive: true, force: true });
    })();
    return done;
  };
  const onSignal = (): void => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return { dir, projectName, cleanup };
}
