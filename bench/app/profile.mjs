#!/usr/bin/env node
// Where the app server's CPU goes with metrics on and off: runs each variant under --cpu-prof while
// autocannon loads GET /, then prints the top self-time functions and prom-client's share.
//
//   node bench/app/profile.mjs        (profiles are written to bench/out/)
import autocannon from 'autocannon';
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'out');
mkdirSync(out, { recursive: true });
for (const variant of ['on', 'off']) {
  const child = fork(join(here, 'serve.mjs'), [variant], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    execArgv: ['--cpu-prof', `--cpu-prof-dir=${out}`, `--cpu-prof-name=app-${variant}.cpuprofile`],
  });
  const port = await new Promise((r) => child.once('message', (m) => r(m.port)));
  await autocannon({ url: `http://127.0.0.1:${port}/`, connections: 32, duration: 6 });
  child.kill('SIGINT');
  await new Promise((r) => child.once('exit', r));
}
for (const f of ['app-on.cpuprofile', 'app-off.cpuprofile']) {
  const p = JSON.parse(readFileSync(join(out, f), 'utf8'));
  const self = new Map();
  const dt = new Map();
  p.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  let total = 0;
  for (const n of p.nodes) {
    const t = dt.get(n.id) ?? 0; total += t;
    const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*node_modules\//, '').replace(/.*work\/main\//, '')}:${n.callFrame.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + t);
  }
  console.log(`== ${f} total ${(total / 1e6).toFixed(2)} s`);
  const promTotal = [...self].filter(([k]) => k.includes('prom-client')).reduce((a, [, v]) => a + v, 0);
  console.log(`   prom-client self time ${(100 * promTotal / total).toFixed(1)}%`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`);
}
