/**
 * Runs the real lock code in separate processes. The lock sources are transpiled (types stripped, no
 * bundling) into a temp dir once, and a small holder script drives them from its argv and stdin.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '../../src');
const SOURCES = [
  'errors.ts', 'lock/lock.ts', 'lock/holder.ts', 'lock/holder-file.ts', 'lock/file-lock.ts', 'lock/liveness.ts',
  'util/signals.ts', 'util/stale-temps.ts', 'util/printable.ts',
];

/**
 * argv: stateDir actor command mode [waitSeconds]
 * modes: hold (until "release" on stdin), own-handler (a signal listener registered with util/signals,
 * as promote's deferral does, that exits 7 after 300 ms),
 * race (print WON/LOST, hold 1 s).
 */
const HOLDER = `
import { acquireLock } from './lock/lock.js';
import { onInterrupt } from './util/signals.js';
const [stateDir, actor, command, mode, wait] = process.argv.slice(2);
let handle;
try {
  handle = await acquireLock(stateDir, { actor, command }, { waitSeconds: Number(wait ?? 0), pollMs: 20 });
} catch (e) {
  console.log(mode === 'race' ? 'LOST' : 'REFUSED ' + e.exitCode + ' ' + e.message);
  process.exit(mode === 'race' ? 0 : e.exitCode);
}
if (mode === 'race') { console.log('WON'); setTimeout(() => handle.release(), 1000); }
else {
  if (mode === 'own-handler') onInterrupt(() => setTimeout(() => process.exit(7), 300));
  console.log('LOCKED');
  process.stdin.on('data', async (d) => { if (String(d).includes('release')) { await handle.release(); console.log('RELEASED'); process.exit(0); } });
  setTimeout(() => {}, 60_000);
}
`;

/**
 * The lock core alone (src/lock/holder*.ts, file-lock.ts). argv: mode path
 * modes: hold (the short file lock, kept until killed), die (take it, then SIGKILL itself without
 * releasing it), race (read the stale holder, print READY, on "go" on stdin break it, slowly, and
 * try to publish once: print WON or LOST, then stay 2 s holding whatever it won).
 */
const CORE = `
import { withFileLock } from './lock/file-lock.js';
import { newHolder } from './lock/holder.js';
import { breakHolderFile, linkHolderFile, prepareHolderFile, readHolderFile, unlinkIfPresent } from './lock/holder-file.js';
const [mode, path] = process.argv.slice(2);
if (mode === 'hold' || mode === 'die') {
  await withFileLock(path, async () => {
    console.log('LOCKED ' + process.pid);
    if (mode === 'die') process.kill(process.pid, 'SIGKILL');
    await new Promise(() => setInterval(() => {}, 60_000));
  }, { command: 'core test ' + mode, timeoutMs: 5_000 });
} else if (mode === 'race') {
  const seen = readHolderFile(path);
  if (seen.state !== 'held') { console.log('NOT-HELD ' + seen.state); process.exit(3); }
  const temp = await prepareHolderFile(path, newHolder('race'));
  console.log('READY');
  process.stdin.once('data', async () => {
    // A slow removal (as a forced release that records it first): widens the window between
    // "is it still the stale file?" and the unlink, where a second breaker must not get in.
    const broke = await breakHolderFile(path, seen.identity, async () => {
      await new Promise((r) => setTimeout(r, 150));
      return unlinkIfPresent(path);
    });
    const won = linkHolderFile(temp, path);
    console.log((won ? 'WON ' : 'LOST ') + process.pid + ' ' + broke);
    setTimeout(() => process.exit(0), 2_000);
  });
}
`;

export async function buildHolder(): Promise<{ dir: string; script: string; core: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sd-lock-holder-'));
  for (const rel of SOURCES) {
    const out = ts.transpileModule(await readFile(join(SRC, rel), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    const target = join(dir, rel.replace(/\.ts$/, '.js'));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, out.outputText);
  }
  await writeFile(join(dir, 'package.json'), '{"type":"module"}\n');
  await writeFile(join(dir, 'holder.js'), HOLDER);
  await writeFile(join(dir, 'core.js'), CORE);
  return { dir, script: join(dir, 'holder.js'), core: join(dir, 'core.js'), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface Holder {
  child: ChildProcessWithoutNullStreams;
  /** Resolves with the first stdout line matching. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything written to stderr so far. */
  stderr(): string;
}

export function startHolder(script: string, args: string[]): Holder {
  const child = spawn(process.execPath, [script, ...args], { stdio: 'pipe' });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitFor = (pattern: RegExp, timeoutMs = 10_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`holder never printed ${pattern}; got: ${out}`)), timeoutMs);
      const check = (): void => {
        const line = out.split('\n').find((l) => pattern.test(l));
        if (line !== undefined) {
          clearTimeout(timer);
          resolve(line);
        } else waiters.push(check);
      };
      void exited.then(() => setTimeout(check, 10));
      check();
    });
  return { child, waitFor, exited, stderr: () => err };
}
