/**
 * The Rego in policies/ under the real, pinned OPA: it compiles strictly, is formatted as `opa fmt`
 * wants, its own tests pass with every line of the policy files covered, and those tests are strong
 * enough that flipping any comparison operator in a policy makes them fail (no surviving mutant).
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runArgv } from '../../src/runtime/run.js';
import { requireOpa } from '../helpers/engines.js';

const repo = path.resolve(import.meta.dirname, '../..');
const policiesDir = path.join(repo, 'policies');
const opa = requireOpa();
const policyFiles = readdirSync(policiesDir).filter((f) => f.endsWith('.rego') && !f.endsWith('_test.rego'));

/** Where comparison operators stand in Rego source, outside comments and string literals. */
export function comparisonSites(source: string): Array<{ offset: number; op: string }> {
  const sites: Array<{ offset: number; op: string }> = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === '#') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (c === '"') {
      i++;
      while (i < source.length && source[i] !== '"') i += source[i] === '\\' ? 2 : 1;
      i++;
    } else if (c === '`') {
      i = source.indexOf('`', i + 1) + 1;
      if (i === 0) break;
    } else {
      const two = source.slice(i, i + 2);
      if (two === '<=' || two === '>=' || two === '==' || two === '!=') {
        sites.push({ offset: i, op: two });
        i += 2;
      } else if (c === '<' || c === '>') {
        sites.push({ offset: i, op: c });
        i++;
      } else i++;
    }
  }
  return sites;
}

/** The operator that means the opposite: each mutant inverts one comparison. */
const FLIP: Record<string, string> = { '<': '>=', '>=': '<', '>': '<=', '<=': '>', '==': '!=', '!=': '==' };

describe.skipIf(!opa.path)(`policies/ under the real OPA${opa.skipNote}`, () => {
  const bin = opa.path!;
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'sd-rego-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('is the pinned release', async () => {
    const { OPA_VERSION } = await import('../../src/policy/opa-version.js');
    const r = await runArgv([bin, 'version']);
    expect(r.stdout).toMatch(new RegExp(`^Version: ${OPA_VERSION.replaceAll('.', '\\.')}$`, 'm'));
  });

  it('opa check --strict policies/ is clean', async () => {
    const r = await runArgv([bin, 'check', '--strict', policiesDir]);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
  });

  it('opa fmt --list policies/ lists nothing (every file is formatted)', async () => {
    const r = await runArgv([bin, 'fmt', '--list', policiesDir]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
  });

  it('opa test --coverage: every test passes and every line of the policy files is covered', async () => {
    const r = await runArgv([bin, 'test', '--coverage', '--format=json', policiesDir]);
    expect(r.exitCode, r.stderr + r.stdout.slice(0, 2000)).toBe(0);
    const report = JSON.parse(r.stdout) as {
      coverage: number;
      files: Record<string, { coverage?: number; not_covered?: Array<{ start: { row: number }; end: { row: number } }> }>;
    };
    const lines: string[] = [];
    for (const file of policyFiles) {
      const entry = Object.entries(report.files).find(([name]) => path.basename(name) === file)?.[1];
      expect(entry, `${file} is missing from the coverage report`).toBeDefined();
      const uncovered = (entry!.not_covered ?? []).map((r) => `${file}:${r.start.row}-${r.end.row}`);
      lines.push(`${file} ${entry!.coverage ?? 0}%${uncovered.length ? ` (not covered: ${uncovered.join(', ')})` : ''}`);
      expect(uncovered, `${file}: lines not covered by policies/*_test.rego`).toEqual([]);
      expect(entry!.coverage).toBe(100);
    }
    console.info(`[rego coverage] total ${report.coverage}%; ${lines.join('; ')}`);
  });

  it('no surviving mutant: flipping any comparison in a policy file makes opa test fail', { timeout: 240_000 }, async () => {
    const mutants: Array<{ file: string; line: number; from: string; to: string; source: string }> = [];
    for (const file of policyFiles) {
      const source = readFileSync(path.join(policiesDir, file), 'utf8');
      for (const { offset, op } of comparisonSites(source)) {
        const to = FLIP[op]!;
        mutants.push({
          file,
          line: source.slice(0, offset).split('\n').length,
          from: op,
          to,
          source: source.slice(0, offset) + to + source.slice(offset + op.length),
        });
      }
    }
    expect(mutants.length, 'the policies compare nothing?').toBeGreaterThan(0);
    const survivors: string[] = [];
    let next = 0;
    // Two at a time: one per core.
    const worker = async (slot: number): Promise<void> => {
      const dir = path.join(scratch, `m${slot}`);
      cpSync(policiesDir, dir, { recursive: true });
      for (let m = next++; m < mutants.length; m = next++) {
        const mutant = mutants[m]!;
        const target = path.join(dir, mutant.file);
        const original = readFileSync(target, 'utf8');
        writeFileSync(target, mutant.source);
        const r = await runArgv([bin, 'test', dir], { timeoutMs: 60_000 });
        writeFileSync(target, original);
        if (r.exitCode === 0) survivors.push(`${mutant.file}:${mutant.line} ${mutant.from} -> ${mutant.to}`);
      }
    };
    await Promise.all([worker(0), worker(1)]);
    console.info(`[rego mutation] ${mutants.length} mutants (each comparison flipped), ${mutants.length - survivors.length} killed`);
    expect(survivors, 'mutants the Rego tests did not notice').toEqual([]);
  });

  it('the mutation scanner finds operators in code, never in comments or strings', () => {
    const sites = comparisonSites('# a < b\nx if { y := "p >= q"; a <= b; c != `d > e` }\n');
    expect(sites.map((s) => s.op)).toEqual(['<=', '!=']);
  });
});
