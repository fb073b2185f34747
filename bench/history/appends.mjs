#!/usr/bin/env node
// fsync'd appends per second: swiftdeploy's appendRecord against a raw appendFileSync + fsync
// baseline of the same bytes, in the same run, on the same disk. Prints medians over rounds.
//
//   node bench/history/appends.mjs [--rounds 7] [--appends 200] [--dir /path/on/the/disk/to/measure]
//
// Compiles src/history with tsc into a temp dir first, so it measures the current source.
import { spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, fsyncSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '7' }, appends: { type: 'string', default: '200' }, dir: { type: 'string' } },
});
const rounds = Number(values.rounds);
const appends = Number(values.appends);
const root = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(values.dir ?? tmpdir(), 'swiftdeploy-bench-history-'));
const build = join(work, 'build');

const tsc = spawnSync(
  process.execPath,
  [join(root, 'node_modules/typescript/bin/tsc'), '--outDir', build, '--rootDir', join(root, 'src'), '--module', 'NodeNext',
    '--moduleResolution', 'NodeNext', '--target', 'ES2022', '--strict', '--skipLibCheck', '--types', 'node', join(root, 'src/history/ledger.ts')],
  { encoding: 'utf8' },
);
if (tsc.status !== 0) {
  process.stderr.write(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  process.exit(1);
}
const { appendRecord } = await import(join(build, 'history/ledger.js'));

// A realistic status record: what the status loop writes every tick.
const input = {
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

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function ledgerRound(i) {
  const file = join(work, `ledger-${i}.jsonl`);
  const t0 = performance.now();
  for (let n = 0; n < appends; n++) await appendRecord(file, input);
  return appends / ((performance.now() - t0) / 1000);
}

function rawRound(i, line) {
  const file = join(work, `raw-${i}.jsonl`);
  const fd = openSync(file, 'a');
  const t0 = performance.now();
  for (let n = 0; n < appends; n++) {
    appendFileSync(fd, line);
    fsyncSync(fd);
  }
  const rate = appends / ((performance.now() - t0) / 1000);
  closeSync(fd);
  return rate;
}

// Same bytes per append for the baseline.
const sampleFile = join(work, 'sample.jsonl');
const sample = await appendRecord(sampleFile, input);
const line = `${JSON.stringify(sample)}\n`;

const ledger = [];
const raw = [];
// Interleave so drift in machine load hits both sides alike.
for (let i = 0; i < rounds; i++) {
  raw.push(rawRound(i, line));
  ledger.push(await ledgerRound(i));
}
rmSync(work, { recursive: true, force: true });

const fmt = (x) => x.toFixed(0).padStart(7);
console.log(`history appends: ${rounds} rounds x ${appends} fsync'd appends, ${line.length}-byte status record`);
console.log(`machine: ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}, dir ${values.dir ?? tmpdir()}`);
console.log(`raw appendFileSync+fsync  median ${fmt(median(raw))} appends/s   (rounds: ${raw.map((x) => x.toFixed(0)).join(' ')})`);
console.log(`appendRecord              median ${fmt(median(ledger))} appends/s   (rounds: ${ledger.map((x) => x.toFixed(0)).join(' ')})`);
console.log(`ratio appendRecord / raw  ${(median(ledger) / median(raw)).toFixed(2)}`);
