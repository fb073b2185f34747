import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const SOURCE = fileURLToPath(new URL('../integration/wal.mode-switch-runner.ts', import.meta.url));
// Inside the package, so the bundle finds templates/ and policies/ as the CLI does.
export const WAL_RUNNER = fileURLToPath(new URL('../../node_modules/.cache/swiftdeploy-test/wal.mode-switch-runner.mjs', import.meta.url));

/** Bundles test/integration/wal.mode-switch-runner.ts as the CLI is bundled (dependencies included). */
export async function bundleWalRunner(): Promise<string> {
  await build({
    entryPoints: [SOURCE],
    outfile: WAL_RUNNER,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    banner: { js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);" },
  });
  return WAL_RUNNER;
}
