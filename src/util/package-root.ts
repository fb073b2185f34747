import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * The swiftdeploy installation directory (holding templates/ and policies/), found from this
 * module's own location so the CLI works from any working directory: the nearest ancestor whose
 * package.json is swiftdeploy's. Walking up (instead of a fixed "../..") keeps it right for the
 * sources, the tsc output in dist/ and the bundled CLI in dist/bundle/ alike.
 */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'swiftdeploy') {
      return (cached = dir);
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find swiftdeploy's package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}
