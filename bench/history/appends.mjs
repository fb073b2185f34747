#!/usr/bin/env node
// fsync'd appends per second: swiftdeploy's appendRecord against a raw appendFileSync + fsync
// baseline of the same bytes, in the same run, on the same disk. Prints medians over rounds.
//
//   node bench/history/appends.mjs [--rounds 7] [--appends 200] [--dir /path/on/the/disk/to/measure]
//
// Compiles src/history with tsc into a temp dir first, so it measures the current source.
import { appendFileSync, closeSync, fsyncSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compileHistory, median, statusInput as input } from './compile.mjs';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '7' }, appends: { type: 'string', default: '200' }, dir: { type: 'string' } },
});
const rounds = Number(values.rounds);
const appends = Number(values.appends);
const work = mkdtempSync(join(values.dir ?? tmpdir(), 'swiftdeploy-bench-history-'));
compileHistory(join(work, 'build'));
const { appendRecord } = await import(join(work, 'build/history/ledger.js'));

// CPU time per append (user + system) is reported beside the rate: it is far less sensitive to
// other load on a shared machine than wall-clock appends/s.
const cpuMicros = (since) => {
  const u = process.cpuUsage(since);
  return u.user + u.system;
};
const ledgerCpu = [];
const rawCpu = [];

async function ledgerRound(i) {
  const file = join(work, `ledger-${i}.jsonl`);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let n = 0; n < appends; n++) await appendRecord(file, input);
  const rate = appends / ((performance.now() - t0) / 1000);
  ledgerCpu.push(cpuMicros(c0) / appends);
  return rate;
}

function rawRound(i, line) {
  const file = join(work, `raw-${i}.jsonl`);
  const fd = openSync(file, 'a');
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let n = 0; n < appends; n++) {
    appendFileSync(fd, line);
    fsyncSync(fd);
  }
  const rate = appends / ((performance.now() - t0) / 1000);
  rawCpu.push(cpuMicros(c0) / appends);
  closeSync(fd);
  return rate;
}

// Same bytes per append for the baseline.
const sample = await appendRecord(join(work, 'sample.jsonl'), input);
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
console.log(`CPU per append           raw ${median(rawCpu).toFixed(0)} us, appendRecord ${median(ledgerCpu).toFixed(0)} us`);
