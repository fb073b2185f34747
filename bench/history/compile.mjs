// Compiles src/history (and what it imports) into a temp dir, so benchmarks measure the current
// source without depending on the rest of src/ compiling.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

export function compileHistory(outDir) {
  const root = resolve(import.meta.dirname, '../..');
  const tsc = spawnSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '--outDir', outDir, '--rootDir', join(root, 'src'), '--module', 'NodeNext',
      '--moduleResolution', 'NodeNext', '--target', 'ES2022', '--strict', '--skipLibCheck', '--types', 'node',
      join(root, 'src/history/ledger.ts')],
    { encoding: 'utf8' },
  );
  if (tsc.status !== 0) {
    process.stderr.write(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
    process.exit(1);
  }
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// What the status loop writes every tick.
export const statusInput = {
  kind: 'status',
  actor: 'sre@example.com',
  policy_version: 'a'.repeat(64),
  manifest_sha256: 'b'.repeat(64),
  payload: {
    mode: 'canary',
    chaos: null,
    uptime_seconds: 1234,
    window: { from: 1, to: 30001, seconds: 30, requests: 300, errors: 3, requests_per_second: 10, error_rate: 0.01, p50_seconds: 0.012, p95_seconds: 0.05, p99_seconds: 0.09, quantiles_capped: false, counter_resets: 0 },
    decisions: { canary: { domain: 'canary', question: 'status', allowed: true, reason: 'within thresholds', violations: [], observed: { error_rate: 0.01 }, enforcement: 'enforce', policy_version: 'a'.repeat(64) } },
  },
};
