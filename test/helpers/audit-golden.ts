/**
 * Byte comparison with test/fixtures/audit/<name>. With SWIFTDEPLOY_UPDATE_GOLDEN=1 (the same switch as
 * test/unit/render.golden) a differing file is rewritten and its name returned; the caller then fails
 * (expectAuditGoldens does): a rewritten golden never passes before a human has read it.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { writeAuditReport } from '../../src/audit/audit.js';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/audit');

export async function compareAuditGolden(actual: string, name: string): Promise<string | undefined> {
  const file = path.join(FIXTURES, name);
  let golden: string | undefined;
  try {
    golden = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (actual === golden) return undefined;
  if (process.env.SWIFTDEPLOY_UPDATE_GOLDEN === '1') {
    await writeFile(file, actual);
    return `test/fixtures/audit/${name}`;
  }
  if (golden === undefined) {
    throw new Error(`test/fixtures/audit/${name} does not exist: create it with SWIFTDEPLOY_UPDATE_GOLDEN=1 and read it before committing`);
  }
  const a = actual.split('\n');
  const g = golden.split('\n');
  const i = a.findIndex((line, n) => line !== g[n]);
  const at = i < 0 ? Math.min(a.length, g.length) : i;
  throw new Error(
    `${name} differs from test/fixtures/audit/${name} at line ${at + 1}:\n` +
      `  golden:   ${JSON.stringify(g[at])}\n  actual:   ${JSON.stringify(a[at])}\n` +
      'If the change is intended, run `SWIFTDEPLOY_UPDATE_GOLDEN=1 npx vitest run test/integration/audit.report test/integration/audit.rollout` ' +
      'and read the result with `git diff test/fixtures/audit` before committing it.',
  );
}

/** Compares every pair, then fails if any golden was rewritten. */
export async function expectAuditGoldens(pairs: Array<[actual: string, name: string]>): Promise<void> {
  const rewritten: string[] = [];
  for (const [actual, name] of pairs) {
    const file = await compareAuditGolden(actual, name);
    if (file !== undefined) rewritten.push(file);
  }
  // Never a pass: the new golden must be read by a human (git diff) before the next run can pass.
  if (rewritten.length > 0) {
    throw new Error(`rewrote ${rewritten.join(' and ')}: inspect with \`git diff test/fixtures/audit\`, then run the tests again`);
  }
}

/**
 * `report(historyText)` for a suite: the history written to a fresh temp project per test, the real
 * `writeAuditReport`, the Markdown read back.
 */
export function auditReporter(generatedAtMs: number): (historyText: string, extra?: { sinceMs?: number; untilMs?: number }) => Promise<string> {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'swiftdeploy-audit-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return async (historyText, extra = {}) => {
    const historyFile = path.join(dir, 'history.jsonl');
    await writeFile(historyFile, historyText);
    const outFile = path.join(dir, 'audit_report.md');
    await writeAuditReport({ historyFile, projectDir: dir, project: 'shop-api', outFile, generatedAtMs, ...extra });
    return readFile(outFile, 'utf8');
  };
}
