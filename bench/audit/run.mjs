#!/usr/bin/env node
// bench/audit: `audit` and `audit verify` over a 1,000,000-record history, through the built CLI,
// under /usr/bin/time -v (wall time and peak RSS). Baseline in the same run: `sha256sum` of the same
// file, the floor for anything that reads and hashes every byte. Last, the report on one thread
// (bench/audit/one-thread.mjs), against which the two-thread read must pay for itself.
//
//   npm run build && node bench/audit/run.mjs [records=1000000] [runs=3]
// Targets (issue 12): `audit verify` <= 1.0x and `audit` <= 2.0x sha256sum of the same file, each under 150 MB peak RSS.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const records = Number(process.argv[2] ?? 1_000_000);
const runs = Number(process.argv[3] ?? 3);
const dir = path.join(process.env.TMPDIR ?? '/tmp', `swiftdeploy-bench-audit-${records}`);
const bin = process.env.SWIFTDEPLOY_BIN ?? path.join(root, 'bin/swiftdeploy');

if (!existsSync('/usr/bin/time')) {
  console.error('needs /usr/bin/time (Debian package "time")');
  process.exit(1);
}
const history = path.join(dir, 'history.jsonl');
if (!existsSync(history)) {
  const t = Date.now();
  execFileSync('node', [path.join(root, 'bench/audit/generate-history.mjs'), dir, String(records)], { stdio: 'inherit' });
  console.log(`generated in ${((Date.now() - t) / 1000).toFixed(1)} s`);
}
copyFileSync(path.join(root, 'manifest.yaml'), path.join(dir, 'manifest.yaml'));
console.log(`history: ${records.toLocaleString('en-US')} records, ${(statSync(history).size / 1e6).toFixed(0)} MB`);

function timed(cmd, args) {
  const r = spawnSync('/usr/bin/time', ['-v', cmd, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  if (!wall || !rss) throw new Error(`no /usr/bin/time figures for ${cmd} ${args.join(' ')}:\n${r.stderr}`);
  const seconds = Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]);
  const status = /Exit status: (\d+)/.exec(r.stderr)?.[1];
  // CPU above wall time means the work ran on both cores (audit verifies on a second thread).
  const user = Number(/User time \(seconds\): ([\d.]+)/.exec(r.stderr)?.[1] ?? NaN);
  const sys = Number(/System time \(seconds\): ([\d.]+)/.exec(r.stderr)?.[1] ?? NaN);
  return { seconds, cpu: user + sys, rssMb: Number(rss[1]) / 1024, status: Number(status) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const cases = [
  ['baseline: sha256sum history.jsonl', 'sha256sum', ['history.jsonl']],
  ['swiftdeploy audit verify', bin, ['audit', 'verify']],
  ['swiftdeploy audit', bin, ['audit']],
  // The same report on one thread: what the two-thread read is measured against.
  ['audit, one thread (one-thread.mjs)', process.execPath, [path.join(root, 'bench/audit/one-thread.mjs'), dir]],
];
const results = [];
for (const [name, cmd, args] of cases) {
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(timed(cmd, args));
  const bad = samples.find((s) => s.status !== 0);
  if (bad) throw new Error(`${name} exited ${bad.status}`);
  results.push({ name, seconds: median(samples.map((s) => s.seconds)), cpu: median(samples.map((s) => s.cpu)), rssMb: median(samples.map((s) => s.rssMb)), all: samples.map((s) => s.seconds.toFixed(2)).join(' / ') });
}
const base = results[0].seconds;
console.log(`\n${runs} runs each, medians (node ${process.version}, ${new Date().toISOString()}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}):`);
for (const r of results) {
  console.log(`${r.name.padEnd(36)} ${r.seconds.toFixed(2).padStart(7)} s  (${(r.seconds / base).toFixed(2)}x baseline)  CPU ${r.cpu.toFixed(1).padStart(5)} s  peak RSS ${r.rssMb.toFixed(0).padStart(4)} MB   runs: ${r.all}`);
}
writeFileSync(path.join(dir, 'results.json'), JSON.stringify(results, null, 2));
