/** Where the report may be written: inside the project directory, and nowhere a symlink leads out of it. */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';

function inside(dir: string, target: string): boolean {
  const rel = path.relative(dir, target);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/**
 * Resolves `requested` (relative to `baseDir`, the caller's working directory for `--out`) and
 * refuses a path outside `projectDir`, including one whose directory is a symlink pointing out.
 */
export async function resolveReportPath(projectDir: string, requested: string, baseDir: string): Promise<string> {
  const target = path.resolve(baseDir, requested);
  if (!inside(projectDir, target)) {
    throw new UsageError(`the report path ${JSON.stringify(requested)} is outside the project directory ${projectDir}`);
  }
  let realDir: string;
  let realProject: string;
  try {
    [realDir, realProject] = await Promise.all([realpath(path.dirname(target)), realpath(projectDir)]);
  } catch (err) {
    throw new UsageError(`cannot write the report to ${JSON.stringify(requested)}: ${(err as Error).message}`);
  }
  const realTarget = path.join(realDir, path.basename(target));
  if (!inside(realProject, realTarget)) {
    throw new UsageError(`the report path ${JSON.stringify(requested)} leads outside the project directory through a symlink`);
  }
  return realTarget;
}
