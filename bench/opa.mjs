// The policy engine for the benchmarks: a real `opa run --server` on 127.0.0.1 loaded with policies/
// (as the sidecar loads them), found the way the CLI finds it (SWIFTDEPLOY_OPA, then
// .swiftdeploy/tools/opa from `npm run setup`, then opa on PATH). Needs `npm run build` (dist/).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findOpaBinary, OPA_SETUP_HINT } from '../dist/runtime/opa-binary.js';
import { startOpaServer } from '../test/helpers/opa-server.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Start OPA, or exit 1 saying how to get it: a benchmark without its engine has nothing to measure. */
export async function startBenchOpa() {
  const opa = findOpaBinary();
  if (!opa) {
    const explicit = process.env.SWIFTDEPLOY_OPA;
    const why = explicit
      ? `SWIFTDEPLOY_OPA=${explicit} is not an executable file`
      : 'no opa binary (SWIFTDEPLOY_OPA, .swiftdeploy/tools/opa, or opa on PATH)';
    process.stderr.write(`${why}: ${OPA_SETUP_HINT}\n`);
    process.exit(1);
  }
  const version = /^Version: (.*)$/m.exec(execFileSync(opa.path, ['version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  const server = await startOpaServer({ binary: opa.path, paths: [path.join(repo, 'policies')] });
  return { ...server, binary: opa.path, version };
}
