import { fileURLToPath } from 'node:url';
import path from 'node:path';

/**
 * The swiftdeploy installation directory (holding templates/ and policies/), found from this
 * module's own location so the CLI works from any working directory. Compiled code lives in
 * <root>/dist/util/, sources in <root>/src/util/: two levels up either way.
 */
export function packageRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}
