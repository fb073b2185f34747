#!/usr/bin/env node
// Start-up benchmark: median wall time of `swiftdeploy --version` and `swiftdeploy init` against bare
// `node -e 0`, measured interleaved in the same run so machine noise hits every case alike. The init
// cases set SWIFTDEPLOY_ACTOR, except `actor from git`, which pays for `git config user.email` as an
// operator without SWIFTDEPLOY_ACTOR does.
// Target (issue 2): init within 3x of bare node start.
//
//   npm run build && node bench/startup/run.mjs [--runs 15] [--imports] [--json]
//
// --imports also times each heavy dependency imported alone in a fresh process (import cost above
// bare node), to say where start-up time goes.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'swiftdeploy');
const NODE = process.execPath;

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) > 0 && args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 15;
const json = args.includes('--json');
const withImports = args.includes('--imports');

if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

const project = mkdtempSync(path.join(os.tmpdir(), 'swiftdeploy-bench-'));
copyFileSync(path.join(ROOT, 'manifest.yaml'), path.join(project, 'manifest.yaml'));
const generated = [path.join(project, 'nginx', 'nginx.conf'), path.join(project, 'docker-compose.yml')];

/** Wall time of one process run, in ms; fails loudly if the command fails (a fast failure is no result). */
function time(argv, cwd = project, actor = 'bench') {
  const env = { ...process.env, NO_COLOR: '1', SWIFTDEPLOY_ACTOR: actor };
  if (actor === undefined) delete env.SWIFTDEPLOY_ACTOR;
  const start = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${String(r.stderr)}`);
  return ms;
}

const cases = [
  { name: 'node -e 0', run: () => time([NODE, '-e', '0']) },
  { name: 'swiftdeploy --version', run: () => time([NODE, BIN, '--version']) },
  { name: 'swiftdeploy init (unchanged)', run: () => time([NODE, BIN, 'init']) },
  {
    name: 'swiftdeploy init (fresh write)',
    run: () => {
      for (const f of generated) if (existsSync(f)) unlinkSync(f);
      return time([NODE, BIN, 'init']);
    },
  },
  { name: 'swiftdeploy init (actor from git)', run: () => time([NODE, BIN, 'init'], project, undefined) },
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

try {
  time([NODE, BIN, 'init']); // warm the page cache and create the files once
  const samples = cases.map(() => []);
  for (let i = 0; i < runs; i++) {
    // Rotate the order each round so no case always runs right after the same neighbour.
    for (let k = 0; k < cases.length; k++) {
      const j = (i + k) % cases.length;
      samples[j].push(cases[j].run());
    }
  }
  const base = median(samples[0]);
  const rows = cases.map((c, j) => ({ case: c.name, median_ms: median(samples[j]), ratio: median(samples[j]) / base }));

  let imports = [];
  if (withImports) {
    const mods = ['commander', 'chalk', 'yaml', 'zod', 'handlebars', 'execa', 'undici'];
    const importSamples = Object.fromEntries(mods.map((m) => [m, []]));
    const baseImport = [];
    for (let i = 0; i < runs; i++) {
      baseImport.push(time([NODE, '--input-type=module', '-e', '0'], ROOT));
      for (const m of mods) importSamples[m].push(time([NODE, '--input-type=module', '-e', `await import(${JSON.stringify(m)})`], ROOT));
    }
    const b = median(baseImport);
    imports = mods.map((m) => ({ module: m, extra_ms: median(importSamples[m]) - b }));
  }

  const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, load ${os.loadavg()[0].toFixed(1)}, node ${process.version}`;
  if (json) {
    console.log(JSON.stringify({ runs, machine, rows, imports, target: 'init <= 3x node -e 0' }));
  } else {
    console.log(`startup: median of ${runs} interleaved runs each (${machine})`);
    for (const r of rows) console.log(`  ${r.case.padEnd(32)} ${r.median_ms.toFixed(1).padStart(8)} ms  ${r.ratio.toFixed(2)}x`);
    const worst = Math.max(...rows.slice(2).map((r) => r.ratio));
    console.log(`  target init <= 3x node -e 0: ${worst <= 3 ? 'met' : 'NOT met'} (worst init ${worst.toFixed(2)}x)`);
    if (imports.length) {
      console.log('  import cost above bare node (each module alone, fresh process):');
      for (const r of imports) console.log(`    ${r.module.padEnd(12)} ${r.extra_ms.toFixed(1).padStart(7)} ms`);
    }
  }
} finally {
  rmSync(project, { recursive: true, force: true });
}
