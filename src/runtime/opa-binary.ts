/**
 * Where the `opa` binary is. `scripts/setup.sh` builds the pinned release (src/policy/opa-version.ts)
 * and links it at `<swiftdeploy>/.swiftdeploy/tools/opa`; an explicit SWIFTDEPLOY_OPA wins, and an
 * `opa` on PATH is the last resort. Found by looking at files, not by spawning: the answer is needed
 * by `policy test` and by the test suite's set-up alike.
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../util/package-root.js';

export type OpaSource = 'SWIFTDEPLOY_OPA' | 'setup' | 'PATH';

export interface OpaBinary {
  path: string;
  source: OpaSource;
}

/** The set-up command that brings the pinned engine, for messages. */
export const OPA_SETUP_HINT = 'npm run setup (as root: builds the pinned OPA from its Go module, cached)';

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** `toolsDir` is where set-up links its tools; a parameter so the search order can be tested. */
export function findOpaBinary(env: NodeJS.ProcessEnv = process.env, toolsDir = path.join(packageRoot(), '.swiftdeploy', 'tools')): OpaBinary | null {
  const explicit = env.SWIFTDEPLOY_OPA;
  if (explicit) return executable(explicit) ? { path: path.resolve(explicit), source: 'SWIFTDEPLOY_OPA' } : null;
  const fromSetup = path.join(toolsDir, 'opa');
  if (executable(fromSetup)) return { path: fromSetup, source: 'setup' };
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, 'opa');
    if (executable(candidate)) return { path: candidate, source: 'PATH' };
  }
  return null;
}
