import { readFileSync, writeFileSync } from 'node:fs';

const GOLDEN_DIR = new URL('../fixtures/golden/', import.meta.url);

/**
 * Byte comparison of a rendered file with test/fixtures/golden/<name>, with a readable hint: the
 * first differing line and how to refresh the golden. SWIFTDEPLOY_UPDATE_GOLDEN=1 rewrites a
 * differing golden and still fails: the new bytes must be read by a human before a run can pass.
 */
export function expectGolden(actual: string, name: string): void {
  let golden: string | undefined;
  try {
    golden = readFileSync(new URL(name, GOLDEN_DIR), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (actual === golden) return;
  if (process.env.SWIFTDEPLOY_UPDATE_GOLDEN === '1') {
    writeFileSync(new URL(name, GOLDEN_DIR), actual);
    // Never a pass: the new golden must be read by a human (git diff) before the next run can pass.
    throw new Error(`rewrote test/fixtures/golden/${name}: inspect it with \`git diff test/fixtures/golden\`, then run the tests again`);
  }
  if (golden === undefined) {
    throw new Error(`test/fixtures/golden/${name} does not exist: create it with SWIFTDEPLOY_UPDATE_GOLDEN=1 and read it before committing`);
  }
  const a = actual.split('\n');
  const g = golden.split('\n');
  // Line 2 is the body's hash: it differs whenever anything does, so point at the first body line that does.
  const i = a.findIndex((line, n) => n !== 1 && line !== g[n]);
  const at = i < 0 ? Math.min(a.length, g.length) : i;
  throw new Error(
    `rendered ${name} differs from test/fixtures/golden/${name} at line ${at + 1}:\n` +
      `  golden:   ${JSON.stringify(g[at])}\n  rendered: ${JSON.stringify(a[at])}\n` +
      'If the template change is intended, run `SWIFTDEPLOY_UPDATE_GOLDEN=1 npx vitest run test/unit/render.golden test/unit/render.canary` ' +
      'and read the result with `git diff test/fixtures/golden` before committing it.',
  );
}
