/**
 * The progressive canary on a real Docker engine (compose v2, the OPA sidecar), driven through the
 * CLI: one stack shared by the steps, 5-second step windows. A full rollout to 100% under steady
 * traffic with zero failed requests, then `promote stable`; an automatic abort when the canary track
 * alone fails (stable never does); a pause on too little traffic, then `resume`; `rollback` in the
 * middle of a step; the CLI killed mid-rollout, then `status` and `resume`.
 *
 * Needs: a Docker engine, compose v2, the local base images and the OPA image (npm run setup).
 * In CI a missing piece fails the suite; elsewhere it skips and says so.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runArgv } from '../../src/runtime/run.js';
import { localStackChanges, testManifest } from '../helpers/manifest.js';
import { composeV2ForTests, uniqueProjectName } from './helpers/docker.js';
import { makeTempProject, type TempProject } from './helpers/project.js';
import { freePort } from '../helpers/opa-server.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repo, 'bin/swiftdeploy');
const APP_IMAGE = 'swiftdeploy-app:e2e';
const ACTOR = 'carol@example.com';
const SETUP = 'npm run setup (as root)';

const { compose, version: composeV2 } = await composeV2ForTests(SETUP);


describe.skipIf(!compose.path)(`progressive canary on real Docker, compose ${composeV2 ?? ''}${compose.skipNote}`, () => {
  let project: TempProject;
  let manifest: string;
  let nginxPort: number;
  let opaPort: number;
  /** What the stable track runs: `promote stable` makes it the canary's version. */
  let stableVersion = '1.0.0';

  const cli = (args: string[]) =>
    execa(bin, args, {
      cwd: project.dir,
      reject: false,
      stdin: 'ignore',
      env: { SWIFTDEPLOY_ACTOR: ACTOR, NO_COLOR: '1', SWIFTDEPLOY_COMPOSE: 'plugin' },
      timeout: 240_000,
    });

  /**
   * Steady traffic through nginx; counts answers per track and every failure. One connection per
   * request: at a weight change nginx reloads, and its old workers close their idle keep-alive
   * connections, so a keep-alive client that sends on one at that instant gets a reset and must retry
   * the (idempotent) request, as RFC 9112 9.3.1 lets it and browsers do; Node's fetch does not
   * retry. Measured and explained in bench/README.md (## canary) and the README.
   */
  function traffic(delayMs = 15): { stop: () => Promise<{ ok: number; failed: number; byTrack: Record<string, number>; failures: string[] }> } {
    let running = true;
    let ok = 0;
    let failed = 0;
    const byTrack: Record<string, number> = {};
    const failures: string[] = [];
    const loop = (async () => {
      while (running) {
        try {
          const res = await fetch(`http://127.0.0.1:${nginxPort}/`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(5000) });
          await res.arrayBuffer();
          const track = res.headers.get('x-track') ?? 'none';
          if (res.status === 200) {
            ok++;
            byTrack[track] = (byTrack[track] ?? 0) + 1;
          } else {
            failed++;
            if (failures.length < 10) failures.push(`${track}: HTTP ${res.status}`);
          }
        } catch (err) {
          failed++;
          const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
          if (failures.length < 10) failures.push(`${new Date().toISOString()} ${(err as Error).message} (${cause?.code ?? cause?.message ?? 'no cause'})`);
        }
        await new Promise((r) => setTimeout(r, delayMs));
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
        return { ok, failed, byTrack, failures };
      },
    };
  }

  function writeManifest(canary: string, policy: Record<string, number> = {}): void {
    const changes = localStackChanges({ projectName: project.projectName, appImage: APP_IMAGE, nginxPort, opaPort });
    // Latency on a shared 2-core machine is noise at these rates: the relative p99 rule is exercised by the Rego tests.
    changes['services.version'] = stableVersion;
    changes['policy.canary.max_p99_ratio'] = 1000;
    changes['policy.canary.max_p99_latency_seconds'] = 5;
    for (const [k, v] of Object.entries(policy)) changes[`policy.canary.${k}`] = v;
    writeFileSync(manifest, `${testManifest(changes)}\n${canary}`);
  }

  const CANARY = (extra = '') => `canary:\n  version: "2.0.0"\n  steps: [10, 50, 100]\n  step_seconds: 5\n  inconclusive_limit: 1\n  max_duration: 600\n${extra}`;

  async function services(): Promise<string[]> {
    const r = await runArgv(['docker', 'ps', '--filter', `label=com.docker.compose.project=${project.projectName}`, '--format', '{{.Label "com.docker.compose.service"}}']);
    return r.stdout.split('\n').filter(Boolean).sort();
  }

  function rolloutState(): Record<string, unknown> {
    return JSON.parse(readFileSync(path.join(project.dir, '.swiftdeploy/rollout.json'), 'utf8')) as Record<string, unknown>;
  }

  function records(): Array<{ actor: string; payload: Record<string, unknown> }> {
    return readFileSync(path.join(project.dir, 'history.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { actor: string; payload: Record<string, unknown> });
  }

  /** Wait until the rollout state file says `pred`. */
  async function until(pred: (s: Record<string, unknown>) => boolean, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const file = path.join(project.dir, '.swiftdeploy/rollout.json');
      if (existsSync(file)) {
        try {
          const s = rolloutState();
          if (pred(s)) return s;
        } catch {
          // mid-rename: read again
        }
      }
      if (Date.now() > deadline) throw new Error(`rollout state never matched; last: ${existsSync(file) ? readFileSync(file, 'utf8') : 'none'}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async function untilLockFree(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (existsSync(path.join(project.dir, '.swiftdeploy/lock'))) {
      if (Date.now() > deadline) throw new Error('the project lock was never free');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  beforeAll(async () => {
    project = await makeTempProject(uniqueProjectName('sdroll'));
    manifest = path.join(project.dir, 'manifest.yaml');
    nginxPort = await freePort();
    opaPort = await freePort();
    // The lifecycle suite builds the app image from this checkout; build it here too when run alone.
    await execa('bash', [path.join(repo, 'scripts/stage-app.sh')], { cwd: repo });
    await execa('docker', ['build', '-q', '--target', 'prebuilt', '--build-arg', 'NODE_IMAGE=swiftdeploy-node:local', '-t', APP_IMAGE, '.'], { cwd: repo });
    writeManifest(CANARY());
    const r = await cli(['deploy']);
    expect(r.exitCode, r.stderr).toBe(0);
  }, 300_000);

  afterAll(async () => {
    await project?.cleanup();
  }, 120_000);

  const step = (name: string, fn: () => Promise<void>, timeout = 240_000) => it(name, { timeout }, fn);

  step('a full rollout to 100% under steady traffic fails no request; promote stable makes the canary the stable', async () => {
    const load = traffic();
    const r = await cli(['promote', 'canary', '--yes']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/rollout: step 1\/3: canary weight 10%/);
    expect(r.stderr).toMatch(/rollout: step 2\/3: canary weight 50%/);
    expect(r.stderr).toMatch(/rollout: every step passed/);
    expect(rolloutState()).toMatchObject({ status: 'ready', weight: 100 });
    expect(await services()).toEqual(['app', 'app-canary', 'nginx', 'opa']);
    const p = await cli(['promote', 'stable', '--yes']);
    expect(p.exitCode, p.stderr).toBe(0);
    stableVersion = '2.0.0';
    const seen = await load.stop();
    expect(seen.failed, seen.failures.join('; ')).toBe(0);
    expect(seen.byTrack.canary ?? 0).toBeGreaterThan(0);
    expect(seen.byTrack.stable ?? 0).toBeGreaterThan(0);
    expect(rolloutState()).toMatchObject({ status: 'completed', weight: 0 });
    expect(await services()).toEqual(['app', 'nginx', 'opa']);
    // Two keys changed in the manifest, comments kept; the stable now runs the canary's version.
    const text = readFileSync(manifest, 'utf8');
    expect(text).toMatch(/^ {2}version: "2\.0\.0"/m);
    const root = await fetch(`http://127.0.0.1:${nginxPort}/`);
    expect(root.headers.get('x-track')).toBe('stable');
    expect(((await root.json()) as { version: string }).version).toBe('2.0.0');
    // The ledger has each step's analysis with per-track figures.
    const analysed = records().filter((rec) => rec.payload.analysis !== undefined);
    expect(analysed.length).toBeGreaterThanOrEqual(3);
    expect(analysed.map((rec) => (rec.payload.analysis as { weight: number }).weight)).toEqual(expect.arrayContaining([10, 50, 100]));
  });

  step('chaos on the canary track only: the rollout aborts itself (exit 3), the canary is removed, stable never fails', async () => {
    writeManifest(CANARY().replace('version: "2.0.0"', 'version: "3.0.0"'));
    const load = traffic();
    const started = cli(['promote', 'canary', '--yes']);
    await until((s) => s.status === 'running' && s.weight === 10);
    const chaos = await cli(['chaos', 'error', '--rate', '1', '--track', 'canary']);
    expect(chaos.exitCode, chaos.stderr).toBe(0);
    const r = await started;
    const seen = await load.stop();
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/canary_all_errors|error_rate_too_high/);
    expect(rolloutState()).toMatchObject({ status: 'aborted', weight: 0 });
    expect(await services()).toEqual(['app', 'nginx', 'opa']);
    // Only the canary failed: every failure was a canary answer.
    expect(seen.failures.every((f) => f.startsWith('canary')), seen.failures.join('; ')).toBe(true);
    expect(seen.byTrack.stable ?? 0).toBeGreaterThan(0);
  });

  step('too little traffic: the step is extended, then paused (exit 8); resume with traffic finishes it', async () => {
    writeManifest(CANARY().replace('version: "2.0.0"', 'version: "4.0.0"'));
    const r = await cli(['promote', 'canary', '--yes']);
    expect(r.exitCode, r.stderr).toBe(8);
    expect(r.stderr).toContain('too_few_requests');
    expect(rolloutState()).toMatchObject({ status: 'paused', weight: 10 });
    const load = traffic();
    const resumed = await cli(['resume', '--yes']);
    const seen = await load.stop();
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    expect(rolloutState()).toMatchObject({ status: 'ready', weight: 100 });
    expect(seen.failed, seen.failures.join('; ')).toBe(0);
  });

  step('rollback in the middle of a step: weight 0, canary removed at once; the driver stops', async () => {
    // The ready rollout of the step before is ended by rollback, then a new one is rolled back mid-step.
    let r = await cli(['rollback', '--reason', 'start over', '--yes']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(rolloutState()).toMatchObject({ status: 'aborted', weight: 0 });
    writeManifest(CANARY().replace('version: "2.0.0"', 'version: "5.0.0"'));
    const load = traffic();
    const driver = cli(['promote', 'canary', '--yes']);
    await until((s) => s.status === 'running' && s.weight === 10);
    r = await cli(['rollback', '--reason', 'changed my mind', '--yes']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(rolloutState()).toMatchObject({ status: 'aborted', weight: 0 });
    expect(await services()).toEqual(['app', 'nginx', 'opa']);
    const d = await driver;
    const seen = await load.stop();
    expect(d.exitCode, d.stderr).toBe(1);
    expect(d.stderr).toContain('was aborted by another command');
    expect(seen.failed, seen.failures.join('; ')).toBe(0);
    const rolledBack = records().filter((rec) => rec.payload.action === 'rollback' && rec.payload.stage === 'rolled_back');
    expect(rolledBack.at(-1)).toMatchObject({ actor: ACTOR, payload: { reason: 'changed my mind' } });
  });

  step('the CLI killed mid-rollout: the stack stays at the weight, status shows it, resume continues', async () => {
    writeManifest(CANARY().replace('version: "2.0.0"', 'version: "6.0.0"'));
    const load = traffic();
    const driver = cli(['promote', 'canary', '--yes']);
    await until((s) => s.status === 'running' && s.weight === 10);
    // Killed during the analysis window (the lock is free then); a kill inside a transition leaves a
    // stale lock that `lock release --force` settles (covered by the wal suites).
    await untilLockFree();
    driver.kill('SIGKILL');
    await driver;
    const st = await cli(['status', '--once']);
    expect(st.stdout + st.stderr).toMatch(/rollout r-[a-z0-9-]+: .* step 1\/3, canary weight 10%, running/);
    expect(st.stdout + st.stderr).toContain('driver gone');
    const resumed = await cli(['resume', '--yes']);
    const seen = await load.stop();
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain("the rollout's driver is gone");
    expect(rolloutState()).toMatchObject({ status: 'ready', weight: 100 });
    expect(seen.failed, seen.failures.join('; ')).toBe(0);
    const a = await cli(['abort', '--reason', 'end of test', '--yes']);
    expect(a.exitCode, a.stderr).toBe(0);
    expect(await services()).toEqual(['app', 'nginx', 'opa']);
  });
});
