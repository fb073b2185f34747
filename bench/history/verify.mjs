#!/usr/bin/env node
// Streaming verify and read throughput, against the floor any streaming reader pays: reading the
// same file line by line and JSON.parse-ing each line. Prints medians over rounds and peak RSS.
//
//   node bench/history/verify.mjs [--records 200000] [--rounds 3]
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { compileHistory, median, statusInput } from './compile.mjs';

const { values } = parseArgs({ options: { records: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '3' } } });
const records = Number(values.records);
const rounds = Number(values.rounds);
const work = mkdtempSync(join(tmpdir(), 'swiftdeploy-bench-verify-'));
compileHistory(join(work, 'build'));
const { verifyHistory, readRecords, GENESIS_PREV } = await import(join(work, 'build/history/ledger.js'));
const { recordHash } = await import(join(work, 'build/history/chain.js'));
const { canonicalJson } = await import(join(work, 'build/util/canonical-json.js'));

// Build the history in memory-sized batches, exactly as the writer would (canonical lines, chained).
const file = join(work, 'history.jsonl');
writeFileSync(file, '');
let prev = GENESIS_PREV;
const start = Date.UTC(2026, 0, 1);
for (let seq = 1; seq <= records; ) {
  const batch = [];
  for (let i = 0; i < 10_000 && seq <= records; i++, seq++) {
    const unsigned = { v: 1, seq, ts: new Date(start + seq * 2_000).toISOString(), ...statusInput, prev };
    const hash = recordHash(unsigned);
    batch.push(canonicalJson({ ...unsigned, hash }));
    prev = hash;
  }
  writeFileSync(file, `${batch.join('\n')}\n`, { flag: 'a' });
}

async function parseFloor() {
  const t0 = performance.now();
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    JSON.parse(line);
    n++;
  }
  if (n !== records) throw new Error(`floor read ${n} lines`);
  return (performance.now() - t0) / 1000;
}
async function verify() {
  const t0 = performance.now();
  const result = await verifyHistory(file);
  if (!result.ok || result.records !== records) throw new Error(`verify: ${JSON.stringify(result)}`);
  return (performance.now() - t0) / 1000;
}
async function read() {
  const t0 = performance.now();
  let n = 0;
  for await (const _ of readRecords(file)) n++;
  if (n !== records) throw new Error(`read ${n}`);
  return (performance.now() - t0) / 1000;
}

const floor = [];
const verifies = [];
const reads = [];
for (let i = 0; i < rounds; i++) {
  floor.push(await parseFloor());
  verifies.push(await verify());
  reads.push(await read());
}
rmSync(work, { recursive: true, force: true });

const per = (s) => `${((s / records) * 1e6).toFixed(1)} us/record`;
console.log(`history verify: ${records} status records, ${rounds} rounds`);
console.log(`machine: ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(`floor (readline + JSON.parse)  median ${median(floor).toFixed(2)} s  ${per(median(floor))}`);
console.log(`readRecords                    median ${median(reads).toFixed(2)} s  ${per(median(reads))}  ratio to floor ${(median(reads) / median(floor)).toFixed(2)}`);
console.log(`verifyHistory                  median ${median(verifies).toFixed(2)} s  ${per(median(verifies))}  ratio to floor ${(median(verifies) / median(floor)).toFixed(2)}`);
console.log(`peak RSS (whole process, generation included) ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
