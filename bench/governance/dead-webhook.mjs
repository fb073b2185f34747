#!/usr/bin/env node
// What a dead webhook costs a rollback: the time until the change is recorded and the time until
// the command ends, with no webhook, with one that refuses connections, and with one that accepts
// and never answers.
//
//   npm run build && node bench/governance/dead-webhook.mjs [--rounds 7] [--budget 2]
//
// No Docker: a rollback-like operation through the product's own path (dist/): Session.open, the
// project lock (withProjectLock: reconcile, the operation, settle the notifications, release), the
// rollback's records (requested, authorised, rolled_back: fsync'd ledger appends) and its `rollback`
// notice, as src/lifecycle/rollback.ts sends it. The container replacement itself is not here: it is
// the same in every case, and the question is what the webhook adds. Prints the median of each.
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { Session } = await import(path.join(repo, 'dist/lifecycle/session.js'));
const { withProjectLock } = await import(path.join(repo, 'dist/lifecycle/locking.js'));
const { alertRollback } = await import(path.join(repo, 'dist/lifecycle/alerts.js'));

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, budget: { type: 'string', default: '2' } } });
const rounds = Number(values.rounds);
const budget = Number(values.budget);

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

// Accepts, reads the request, never answers.
const hanging = createServer(() => undefined);
await new Promise((resolve) => hanging.listen(0, '127.0.0.1', resolve));
const hangingUrl = `http://127.0.0.1:${hanging.address().port}/hook`;
const refusedUrl = `http://127.0.0.1:${await freePort()}/hook`;
process.env.SD_BENCH_SECRET = 'bench-secret';

const base = readFileSync(path.join(repo, 'manifest.yaml'), 'utf8');
const quiet = { emit: () => undefined };

async function once(url) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sdbench-webhook-'));
  try {
    const hooks = url === null ? '' : `\nnotifications:\n  - url: ${url}\n    format: generic\n    secret_env: SD_BENCH_SECRET\n    budget_seconds: ${budget}\n`;
    writeFileSync(path.join(dir, 'manifest.yaml'), base + hooks);
    const started = performance.now();
    let changed = 0;
    const session = await Session.open(path.join(dir, 'manifest.yaml'), { actor: 'bench', events: quiet, yes: true }, 'rollback');
    session.recordLater = true;
    await withProjectLock(session, 'rollback', {}, async () => {
      const at = new Date();
      const modes = { from_mode: 'canary', to_mode: 'stable', reason: 'bench' };
      await session.event('requested', modes);
      await session.event('authorised', { ...modes, detail: 'authorised by bench via --yes' });
      await session.event('rolled_back', modes);
      changed = performance.now() - started;
      alertRollback(session, at, { from: 'canary', outcome: 'rolled_back', reason: 'bench' });
    });
    return { changed, exited: performance.now() - started };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const cases = [
  ['no webhook', null],
  ['refused (nothing listens)', refusedUrl],
  ['accepts, never answers', hangingUrl],
];
await once(null); // warm-up: module loading is not the webhook's cost
const results = [];
for (const [label, url] of cases) {
  const runs = [];
  for (let i = 0; i < rounds; i++) runs.push(await once(url));
  results.push({ label, changed: median(runs.map((r) => r.changed)), exited: median(runs.map((r) => r.exited)), after: median(runs.map((r) => r.exited - r.changed)) });
}
const baseline = results[0];
console.log(`rollback-like operation, median of ${rounds}, webhook budget ${budget} s (node ${process.version}, ${os.cpus().length} cpus)`);
console.log('case                         change recorded   command ended   wait after change   exit delay vs none   wait / budget');
for (const r of results) {
  const delay = r.exited - baseline.exited;
  console.log(
    `${r.label.padEnd(28)} ${`${r.changed.toFixed(1)} ms`.padStart(15)}   ${`${r.exited.toFixed(1)} ms`.padStart(13)}   ${`${r.after.toFixed(1)} ms`.padStart(17)}   ${`${delay.toFixed(1)} ms`.padStart(18)}   ${(r.after / (budget * 1000)).toFixed(2).padStart(13)}`,
  );
}
hanging.closeAllConnections?.();
hanging.close();
