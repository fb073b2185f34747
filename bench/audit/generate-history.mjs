#!/usr/bin/env node
// Writes a hash-chained history of N records (default 1,000,000) with a realistic mix: a status tick
// every 5 s (both policy verdicts, the window), an operation (deploy / promote / rollback, 4-5 stage
// records each) every few hours, an error-rate incident about once a day, shadow-mode weeks, the odd
// unavailable engine and failed scrape. Hashed with the ledger's own function; written through one
// buffered stream (an fsync per record would take hours and measures the ledger, not the report).
//
//   node bench/audit/generate-history.mjs <dir> [records]
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { recordHash, GENESIS_PREV } = await import(path.join(root, 'dist/history/chain.js'));
const { canonicalJson } = await import(path.join(root, 'dist/util/canonical-json.js'));

const dir = process.argv[2];
const total = Number(process.argv[3] ?? 1_000_000);
if (!dir || !Number.isInteger(total) || total < 1) {
  console.error('usage: generate-history.mjs <dir> [records]');
  process.exit(2);
}
await mkdir(dir, { recursive: true });

// Deterministic pseudo-random numbers (mulberry32): the same history on every run.
let seed = 0x5eed;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const V1 = 'c0ffee'.padEnd(64, '1');
const V2 = 'beef00'.padEnd(64, '2');
const MANIFEST = 'd'.repeat(64);
const ACTORS = ['alice@example.com', 'bob@example.com', 'ci@example.com'];
const T0 = Date.parse('2024-01-01T00:00:00Z');

function verdict(domain, question, violations, enforcement, version, observed) {
  return {
    domain,
    question,
    allowed: violations.length === 0,
    reason: violations.length === 0 ? 'all checks passed' : violations.map((v) => v.message).join('; '),
    violations,
    observed,
    enforcement,
    policy_version: version,
    ...(enforcement === 'shadow' && violations.length > 0 ? { would_have_blocked: violations.map((v) => v.id) } : {}),
  };
}

const out = createWriteStream(path.join(dir, 'history.jsonl'), { highWaterMark: 4 * 1024 * 1024 });
let prev = GENESIS_PREV;
let seq = 0;
let t = T0;
let mode = 'stable';
let incidentLeft = 0;
let buffer = '';

function write(kind, actor, payload, version) {
  seq++;
  const unsigned = { v: 1, seq, ts: new Date(t).toISOString(), kind, actor, policy_version: version, manifest_sha256: MANIFEST, payload, prev };
  const record = { ...unsigned, hash: recordHash(unsigned) };
  prev = record.hash;
  buffer += `${canonicalJson(record)}\n`;
}

function operation(action) {
  const actor = ACTORS[Math.floor(rand() * ACTORS.length)];
  const to = action === 'rollback' ? 'stable' : action === 'promote' ? (mode === 'stable' ? 'canary' : 'stable') : mode;
  const base = { action, from_mode: mode, to_mode: to, git: { sha: createHash('sha1').update(`commit ${seq}`).digest('hex'), subject: 'change', author: actor, dirty: rand() < 0.1 } };
  const version = seq > total / 2 ? V2 : V1;
  const denied = action === 'promote' && rand() < 0.15;
  const gate = verdict(action === 'deploy' ? 'infrastructure' : 'canary', action === 'deploy' ? 'pre_deploy' : 'pre_promote',
    denied ? [{ id: 'error_rate_too_high', message: 'error rate above threshold', observed: 0.08, threshold: 0.05 }] : [], 'enforce', version, {});
  write('event', actor, { ...base, stage: 'requested' }, version);
  t += 1000;
  if (action !== 'rollback') write('event', actor, { ...base, stage: 'policy_decided', decision: gate }, version);
  if (denied) return;
  write('event', actor, { ...base, stage: 'executed' }, version);
  t += 8000;
  write('event', actor, { ...base, stage: 'confirmed', detail: `serving ${to}` }, version);
  mode = to;
}

while (seq < total) {
  t += 5000;
  const version = seq > total / 2 ? V2 : V1;
  const enforcement = seq > total * 0.4 && seq < total * 0.5 ? 'shadow' : 'enforce';
  if (rand() < 1 / 17_280) incidentLeft = 10 + Math.floor(rand() * 40); // about once a day
  const requests = 200 + Math.floor(rand() * 200);
  const errorRate = incidentLeft > 0 ? 0.1 + rand() * 0.3 : rand() * 0.01;
  const p99 = incidentLeft > 0 && rand() < 0.5 ? 0.5 + rand() * 2 : 0.05 + rand() * 0.1;
  const canaryViolations = [];
  if (errorRate > 0.05) canaryViolations.push({ id: 'error_rate_too_high', message: `error rate ${errorRate.toFixed(3)} above 0.05`, observed: errorRate, threshold: 0.05 });
  if (p99 > 0.5) canaryViolations.push({ id: 'p99_latency_too_high', message: `p99 ${p99.toFixed(3)}s above 0.5s`, observed: p99, threshold: 0.5 });
  if (incidentLeft > 0) incidentLeft--;
  const scrapeFailed = rand() < 0.0005;
  const unavailable = rand() < 0.0005;
  const infra = verdict('infrastructure', 'status', [], enforcement, version, {
    disk_free_gb: 80 + rand() * 5, disk_path: '/var/lib/docker', cpu_load_1m: rand() * 2, cpu_cores: 2, cpu_load_per_core: rand(), memory_available_mb: 3000 + rand() * 500,
  });
  const canary = unavailable
    ? { domain: 'canary', unavailable: 'connection refused', enforcement }
    : verdict('canary', 'status', canaryViolations, enforcement, version, { error_rate: errorRate, p99_latency_seconds: p99, requests, window_seconds: 30 });
  write('status', 'status', scrapeFailed
    ? { mode: null, chaos: null, uptime_seconds: null, window: null, decisions: { infrastructure: infra, canary }, error: 'cannot scrape: connection refused' }
    : {
        mode, chaos: { mode: incidentLeft > 0 ? 'error' : 'none' }, uptime_seconds: Math.floor((t - T0) / 1000) % 86_400,
        window: { from: t - 30_000, to: t, seconds: 30, requests, errors: Math.round(requests * errorRate), requests_per_second: requests / 30, error_rate: errorRate,
          p50_seconds: 0.02 + rand() * 0.01, p95_seconds: 0.04 + rand() * 0.05, p99_seconds: p99, quantiles_capped: false, counter_resets: 0 },
        decisions: { infrastructure: infra, canary },
      }, version);
  if (seq < total - 5 && rand() < 1 / 2_000) operation(['deploy', 'promote', 'promote', 'rollback'][Math.floor(rand() * 4)]);
  if (buffer.length > 4_000_000) {
    if (!out.write(buffer)) await new Promise((r) => out.once('drain', r));
    buffer = '';
  }
}
out.write(buffer);
await new Promise((r) => out.end(r));
console.log(`wrote ${seq} records to ${path.join(dir, 'history.jsonl')}`);
