/**
 * `swiftdeploy policy check` and `policy test` as a user runs them: the built CLI in a real process,
 * a temp project whose manifest points opa.url at a real `opa run --server` (or at nothing), exit
 * codes, output and history.
 */
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requireOpa } from '../helpers/engines.js';
import { testManifest } from '../helpers/manifest.js';
import { deadOpaUrl, freePort, policiesDir, startOpa, type OpaServer } from '../helpers/opa.js';

const engine = requireOpa();

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = process.env.SWIFTDEPLOY_TEST_BIN ?? path.join(ROOT, 'bin/swiftdeploy');
// No skip: `npm test` builds first, so a missing build or an unregistered command is a failure.

type Infra = Record<string, unknown>;
const EASY: Infra = { min_disk_free_gb: 0, max_cpu_load: 1000, min_memory_available_mb: 0 };
const IMPOSSIBLE: Infra = { ...EASY, min_disk_free_gb: 1000000 };
const SHADOWED: Infra = { ...IMPOSSIBLE, mode: 'shadow' };

function manifest(opaUrl: string, infra: Infra): string {
  const changes: Record<string, unknown> = {
    'nginx.port': nginxPort,
    'opa.url': opaUrl,
    'policy.canary.max_error_rate': 0.05,
    'policy.canary.window_seconds': 5,
  };
  for (const [key, value] of Object.entries(infra)) changes[`policy.infrastructure.${key}`] = value;
  return testManifest(changes);
}

let dir: string;
let nginxPort: number;
beforeAll(async () => {
  nginxPort = await freePort();
});
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'swiftdeploy-policy-cli-'));
  return () => rm(dir, { recursive: true, force: true });
});

const run = (args: string[], env: Record<string, string> = {}) =>
  execa(BIN, args, { cwd: dir, reject: false, env: { SWIFTDEPLOY_ACTOR: 'alice@example.com', NO_COLOR: '1', ...env } });
const history = async () => (await readFile(path.join(dir, 'history.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));

describe.skipIf(!engine.path)(`swiftdeploy policy check against real OPA${engine.skipNote}`, () => {
  let opa: OpaServer;
  beforeAll(async () => {
    opa = await startOpa();
  });
  afterAll(async () => {
    await opa?.close();
  });

  it('check infrastructure: [PASS] and exit 0 on a host within thresholds, recorded as policy_check', async () => {
    await writeFile(path.join(dir, 'manifest.yaml'), manifest(opa.url, EASY));
    const r = await run(['policy', 'check', 'infrastructure']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('[PASS] policy/infrastructure (pre_deploy): infrastructure checks passed for pre_deploy');
    const [rec] = await history();
    expect(rec).toMatchObject({ actor: 'alice@example.com', payload: { action: 'policy_check', stage: 'policy_decided',
      decision: { allowed: true, enforcement: 'enforce' } } });
    expect(rec.policy_version).toMatch(/^sha256:/);
  });

  it('check infrastructure: [FAIL], observed vs threshold, exit 3 when denied', async () => {
    await writeFile(path.join(dir, 'manifest.yaml'), manifest(opa.url, IMPOSSIBLE));
    const r = await run(['policy', 'check', 'infrastructure']);
    expect(r.exitCode).toBe(3);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^\[FAIL\] policy\/infrastructure \(pre_deploy\): disk free [\d.]+ GB is below the minimum 1000000 GB$/);
    expect(lines[1]).toMatch(/^ {7}- disk_free_too_low: disk free [\d.]+ GB is below the minimum 1000000 GB \(observed [\d.]+, threshold 1000000\)$/);
  });

  it('check reports the verdict even in shadow mode, and says the action would proceed', async () => {
    await writeFile(path.join(dir, 'manifest.yaml'), manifest(opa.url, SHADOWED));
    const r = await run(['policy', 'check', 'infrastructure']);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toMatch(/mode is shadow: the gated action would proceed/);
  });

  it('check --json prints the decision document', async () => {
    await writeFile(path.join(dir, 'manifest.yaml'), manifest(opa.url, EASY));
    const r = await run(['--json', 'policy', 'check', 'infrastructure', '--question', 'status']);
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ ok: true, decision: { domain: 'infrastructure', question: 'status', allowed: true } });
    expect(doc.decision.observed.sources.disk_free_gb).toMatch(/^statfs:/);
  });

  it('check passes an unknown --question to the policy, which denies it', async () => {
    await writeFile(path.join(dir, 'manifest.yaml'), manifest(opa.url, EASY));
    const r = await run(['policy', 'check', 'infrastructure', '--question', 'pre_lunch']);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toMatch(/- unsupported_question: .*\(observed pre_lunch, threshold null\)/);
  });

  it('check canary exits 1 naming the metrics URL when the stack is not up', async () => {
    await writeFile(path.join(dir, 'manifest.yaml'), manifest(opa.url, EASY));
    const r = await run(['policy', 'check', 'canary']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`cannot scrape http://127.0.0.1:${nginxPort}/metrics`));
  });
});

describe('swiftdeploy policy check without a usable engine', () => {
  it('check exits 4 and says how the engine failed when OPA is not there', async () => {
    await writeFile(path.join(dir, 'manifest.yaml'), manifest(await deadOpaUrl(), EASY));
    const r = await run(['--json', 'policy', 'check', 'infrastructure']);
    expect(r.exitCode).toBe(4);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, unavailable: { failure: 'not_ready' } });
    expect(r.stderr).toMatch(/not ready after \d+ probes.*connection refused/);
    const [rec] = await history();
    expect(rec.payload).toMatchObject({ stage: 'failed', policy_unavailable: { failure: 'not_ready' } });
  });

  it('check rejects an unknown domain as usage (exit 2)', async () => {
    await writeFile(path.join(dir, 'manifest.yaml'), manifest(await deadOpaUrl(), EASY));
    const r = await run(['policy', 'check', 'network']);
    expect(r.exitCode).toBe(2);
  });
});

describe('swiftdeploy policy test', () => {
  it.skipIf(!engine.path)(`with opa found: runs opa test -v on the shipped policies with it and exits 0${engine.skipNote}`, async () => {
    await writeFile(path.join(dir, 'manifest.yaml'), manifest(await deadOpaUrl(), EASY));
    const r = await run(['policy', 'test']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^PASS: \d+\/\d+$/m);
    const json = await run(['--json', 'policy', 'test']);
    expect(json.exitCode, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, ran: true, policies: policiesDir, opa: engine.path, exit_code: 0 });
  });

  it.skipIf(!engine.path)(`with opa found: a failing Rego test in the project's policies/ exits 1 and names it${engine.skipNote}`, async () => {
    await writeFile(path.join(dir, 'manifest.yaml'), manifest(await deadOpaUrl(), EASY));
    await mkdir(path.join(dir, 'policies'));
    await writeFile(path.join(dir, 'policies', 'broken_test.rego'), 'package broken_test\n\ntest_arithmetic if {\n\t1 + 1 == 3\n}\n');
    const r = await run(['policy', 'test']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/data\.broken_test\.test_arithmetic: FAIL/);
  });

  // Never skipped: with or without an opa on this machine, an explicit SWIFTDEPLOY_OPA that cannot run is exit 1.
  it('SWIFTDEPLOY_OPA naming a file that is not executable: exit 1, says so and how to get the pinned OPA, never a silent pass', async () => {
    await writeFile(path.join(dir, 'manifest.yaml'), manifest(await deadOpaUrl(), EASY));
    const notExecutable = path.join(dir, 'opa');
    await writeFile(notExecutable, '#!/bin/sh\nexit 0\n');
    await chmod(notExecutable, 0o644);
    const r = await run(['policy', 'test'], { SWIFTDEPLOY_OPA: notExecutable });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).not.toMatch(/PASS/);
    expect(r.stderr).toContain(`SWIFTDEPLOY_OPA=${notExecutable} is not an executable file, so the Rego tests were NOT run.`);
    expect(r.stderr).toMatch(/Build the pinned OPA \d+\.\d+\.\d+: npm run setup \(as root/);
    expect(r.stderr).toMatch(/docker run --rm -v .*:\/policies:ro" \S+ test -v \/policies/);
  });
});
