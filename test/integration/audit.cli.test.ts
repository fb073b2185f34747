/**
 * `swiftdeploy audit` and `audit verify` as a user runs them: the built CLI in a real process, a
 * temp project with a manifest and a hash-chained history, exit codes and output asserted.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixtureHistoryText } from '../fixtures/audit/fixture-history.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/swiftdeploy');
// No skip: `npm test` builds first, so a missing build or an unregistered command is a failure.

const MANIFEST = `project:
  name: shop-api
services:
  image: swiftdeploy-app:local
  port: 3000
  mode: stable
  version: "1.0.0"
  restart_policy: unless-stopped
  log_volume: app-logs
nginx:
  image: nginx:stable
  port: 8080
  proxy_timeout: 30
  error_contact: ops@example.com
network:
  name: swiftdeploy-net
  driver_type: bridge
opa:
  image: openpolicyagent/opa:latest
  port: 8181
policy:
  infrastructure:
    min_disk_free_gb: 10
    max_cpu_load: 2
  canary:
    max_error_rate: 0.05
    max_p99_latency_seconds: 0.5
    window_seconds: 30
observability:
  history_file: history.jsonl
  audit_report: audit_report.md
  status_interval: 5
`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'swiftdeploy-audit-cli-'));
  await writeFile(path.join(dir, 'manifest.yaml'), MANIFEST);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const run = (args: string[]) => execa(BIN, args, { cwd: dir, reject: false, env: { NO_COLOR: '1' } });

describe('swiftdeploy audit (CLI)', () => {
  it('verify: prints the record count and head hash, exit 0', async () => {
    const history = fixtureHistoryText();
    await writeFile(path.join(dir, 'history.jsonl'), history);
    const lastHash = (JSON.parse(history.trimEnd().split('\n').at(-1)!) as { hash: string }).hash;
    const r = await run(['audit', 'verify']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('OK history.jsonl: 467 records, hash chain intact');
    expect(r.stdout).toContain(`head ${lastHash}`);
  });

  it('verify: names the first bad line and why, exit 6, for each kind of tampering', async () => {
    const lines = fixtureHistoryText().trimEnd().split('\n');
    const cases: Array<[string, string[], RegExp]> = [
      ['edited', lines.map((l, i) => (i === 99 ? l.replace('"requests":300', '"requests":3') : l)), /history\.jsonl:100: edited/],
      ['deleted', lines.filter((_, i) => i !== 199), /history\.jsonl:200: deleted/],
      ['swapped', lines.map((l, i) => (i === 49 ? lines[50]! : i === 50 ? lines[49]! : l)), /history\.jsonl:50: reordered: seq 51 and seq 50 are swapped/],
      ['inserted', [...lines.slice(0, 10), lines[5]!, ...lines.slice(10)], /history\.jsonl:11: inserted/],
    ];
    for (const [name, tampered, expected] of cases) {
      await writeFile(path.join(dir, 'history.jsonl'), `${tampered.join('\n')}\n`);
      const r = await run(['audit', 'verify']);
      expect(r.exitCode, `${name}: ${r.stderr}`).toBe(6);
      expect(r.stderr, name).toMatch(expected);
    }
  });

  it('verify --json: one document with the verdict', async () => {
    await writeFile(path.join(dir, 'history.jsonl'), fixtureHistoryText());
    const r = await run(['--json', 'audit', 'verify']);
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout) as { ok: boolean; records: number; first_bad: unknown };
    expect(doc).toMatchObject({ ok: true, records: 467, first_bad: null });
  });

  it('audit: writes the report where the manifest says, exit 0', async () => {
    await writeFile(path.join(dir, 'history.jsonl'), fixtureHistoryText());
    const r = await run(['audit', '--since', '2024-05-01T10:15:00Z']);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = await readFile(path.join(dir, 'audit_report.md'), 'utf8');
    expect(report).toContain('# Audit report: shop-api');
    expect(report).toContain('requested 2024-05-01T10:15:00Z to the end');
  });

  it('audit: refuses a path outside the project and bad times with exit 2, writing nothing', async () => {
    await writeFile(path.join(dir, 'history.jsonl'), fixtureHistoryText());
    const outside = await run(['audit', '--out', '../elsewhere.md']);
    expect(outside.exitCode).toBe(2);
    expect(outside.stderr).toMatch(/outside the project directory/);
    const badTime = await run(['audit', '--since', 'last tuesday']);
    expect(badTime.exitCode).toBe(2);
    expect(badTime.stderr).toMatch(/--since: expected an ISO 8601 time/);
    expect(existsSync(path.join(dir, 'audit_report.md'))).toBe(false);
  });

  it('verify and audit over the original swiftdeploy\'s history: unverifiable, not corrupt, exit 0', async () => {
    await writeFile(path.join(dir, 'history.jsonl'), await readFile(path.join(ROOT, 'test/fixtures/audit/legacy-history.jsonl')));
    const verify = await run(['audit', 'verify']);
    expect(verify.exitCode, verify.stderr).toBe(0);
    expect(verify.stdout).toContain('UNVERIFIABLE history.jsonl: 14 records written before hash chaining; nothing to verify (not evidence of tampering)');
    const json = await run(['--json', 'audit', 'verify']);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, records: 14, head: null, unverifiable: true, legacy_records: 14, first_bad: null });
    const audit = await run(['audit']);
    expect(audit.exitCode, audit.stderr).toBe(0);
    expect(audit.stdout).toContain('(14 records in period)');
    expect(await readFile(path.join(dir, 'audit_report.md'), 'utf8')).toContain('| **Legacy records** | 14 (lines 1–14)');
  });

  it('verify over a forged value hidden before the original (a member given twice): exit 6, naming the line', async () => {
    const lines = fixtureHistoryText().trimEnd().split('\n');
    lines[2] = lines[2]!.replace('{"actor":', '{"actor":"forged@example.com","actor":');
    await writeFile(path.join(dir, 'history.jsonl'), `${lines.join('\n')}\n`);
    const r = await run(['audit', 'verify']);
    expect(r.exitCode).toBe(6);
    expect(r.stderr).toMatch(/FAILED history\.jsonl:3: not canonical: at byte 30: member "actor" appears twice/);
  });

  it('audit over a tampered history: the report names the break, exit 6', async () => {
    const lines = fixtureHistoryText().split('\n');
    lines[20] = lines[20]!.replace('"stable"', '"canary"');
    await writeFile(path.join(dir, 'history.jsonl'), lines.join('\n'));
    const r = await run(['audit']);
    expect(r.exitCode).toBe(6);
    expect(await readFile(path.join(dir, 'audit_report.md'), 'utf8')).toContain('❌ FAILED at line 21: edited');
  });
});
