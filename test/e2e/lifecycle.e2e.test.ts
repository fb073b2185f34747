/**
 * The whole lifecycle on a real Docker engine, driven through the CLI as a user would, with the OPA
 * sidecar the generated docker-compose.yml starts (the locally built swiftdeploy-opa:local image: the
 * pinned OPA, no external opa.url). The same steps run under docker compose v2 (the plugin) and then
 * v1 (the standalone docker-compose), one stack per flavour shared by its steps: validate, a denied
 * deploy, a shadow deploy, status, promote, chaos, a denied promote, rollback, promote again, audit, a
 * concurrent promote refused by the lock, Ctrl-C during a promote, teardown --clean, and init
 * restoring identical bytes. Each step is its own test, so the first failure does not hide the rest.
 *
 * Needs: a Docker engine, both composes, the local base images and the OPA image (npm run setup).
 * In CI a missing piece fails the suite; elsewhere it skips and says so.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectDockerEnvironment } from '../../src/runtime/detect.js';
import { runArgv } from '../../src/runtime/run.js';
import { engineOrSkip } from '../helpers/engines.js';
import { localStackChanges, testManifest } from '../helpers/manifest.js';
import { BASE_IMAGES, dockerForTests, uniqueProjectName } from './helpers/docker.js';
import { makeTempProject, type TempProject } from './helpers/project.js';
import { freePort } from '../helpers/opa-server.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repo, 'bin/swiftdeploy');
const APP_IMAGE = 'swiftdeploy-app:e2e';
const ACTOR = 'alice@example.com';
const SETUP = 'npm run setup (as root)';

const docker = await dockerForTests([...BASE_IMAGES, 'swiftdeploy-opa:local']);
const dockerEngine = engineOrSkip('a Docker engine with the local images', docker.available ? 'docker' : null, `${docker.available ? '' : docker.reason}; ${SETUP}`);

/** The compose flavours the lifecycle must work under, v2 first; each must be the major it claims. */
const FLAVOURS = [
  { choice: 'plugin', name: 'docker compose v2 (plugin)', major: '2' },
  { choice: 'standalone', name: 'docker-compose v1', major: '1' },
] as const;

async function composeVersion(choice: string): Promise<string | null> {
  try {
    const env = await detectDockerEnvironment({ env: { SWIFTDEPLOY_COMPOSE: choice }, timeoutMs: 10_000 });
    return env.flavour.version;
  } catch {
    return null;
  }
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}


let appImageBuilt: Promise<void> | undefined;
/** The app image, staged on the host (nothing in a container reaches npm here), built once per run. */
function buildAppImage(): Promise<void> {
  appImageBuilt ??= (async () => {
    await execa('bash', [path.join(repo, 'scripts/stage-app.sh')], { cwd: repo });
    await execa('docker', ['build', '-q', '--target', 'prebuilt', '--build-arg', 'NODE_IMAGE=swiftdeploy-node:local', '-t', APP_IMAGE, '.'], { cwd: repo });
  })();
  return appImageBuilt;
}

for (const flavour of FLAVOURS) {
  const version = dockerEngine.path ? await composeVersion(flavour.choice) : null;
  const compose = dockerEngine.path
    ? engineOrSkip(
        flavour.name,
        version?.startsWith(`${flavour.major}.`) ? version : null,
        `SWIFTDEPLOY_COMPOSE=${flavour.choice} found ${version ?? 'nothing'}; ${SETUP}`,
      )
    : dockerEngine;
  describe.skipIf(!compose.path)(`lifecycle on real Docker, ${flavour.name} ${version ?? ''}${compose.skipNote}`, () => {
    lifecycleSteps(flavour.choice);
  });
}

function lifecycleSteps(composeChoice: string): void {
  let project: TempProject;
  let manifest: string;
  let historyFile: string;
  let nginxPort: number;
  let opaPort: number;

  const cli = (args: string[], extraEnv: Record<string, string> = {}) =>
    execa(bin, args, {
      cwd: project.dir,
      reject: false,
      stdin: 'ignore',
      env: { SWIFTDEPLOY_ACTOR: ACTOR, NO_COLOR: '1', SWIFTDEPLOY_COMPOSE: composeChoice, ...extraEnv },
      timeout: 240_000,
    });

  // Steady client traffic through nginx, so every canary window has requests to judge.
  let traffic: { stop: () => Promise<{ ok: number; failed: number }> } | undefined;
  function startTraffic(): void {
    let running = true;
    let ok = 0;
    let failed = 0;
    const loop = (async () => {
      for (let i = 0; running && i < 20_000; i++) {
        try {
          const res = await fetch(`http://127.0.0.1:${nginxPort}/`, { signal: AbortSignal.timeout(5000) });
          await res.arrayBuffer();
          if (res.status === 200) ok++;
          else failed++;
        } catch {
          failed++;
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    traffic = {
      stop: async () => {
        running = false;
        await loop;
        return { ok, failed };
      },
    };
  }

  function writeManifest(overrides: { minDiskFreeGb?: number; infrastructureMode?: 'shadow' } = {}): void {
    const changes = localStackChanges({ projectName: project.projectName, appImage: APP_IMAGE, nginxPort, opaPort });
    if (overrides.minDiskFreeGb !== undefined) changes['policy.infrastructure.min_disk_free_gb'] = overrides.minDiskFreeGb;
    if (overrides.infrastructureMode) changes['policy.infrastructure.mode'] = overrides.infrastructureMode;
    writeFileSync(manifest, testManifest(changes));
  }

  async function containers(): Promise<string[]> {
    const r = await runArgv(['docker', 'ps', '--filter', `label=com.docker.compose.project=${project.projectName}`, '--format', '{{.Label "com.docker.compose.service"}}']);
    return r.stdout.split('\n').filter(Boolean).sort();
  }

  async function getRoot(): Promise<{ mode: string; xMode: string | null; deployedBy: string | null }> {
    const res = await fetch(`http://127.0.0.1:${nginxPort}/`);
    const body = (await res.json()) as { mode: string };
    return { mode: body.mode, xMode: res.headers.get('x-mode'), deployedBy: res.headers.get('x-deployed-by') };
  }

  function records(): Array<{
    seq: number;
    kind: string;
    actor: string;
    payload: Record<string, unknown> & { action?: string; stage?: string; detail?: string; intent_id?: string; intent_seq?: number };
  }> {
    return readFileSync(historyFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
  }

  beforeAll(async () => {
    project = await makeTempProject(uniqueProjectName(`sde2e-${composeChoice}`));
    manifest = path.join(project.dir, 'manifest.yaml');
    historyFile = path.join(project.dir, 'history.jsonl');
    nginxPort = await freePort();
    opaPort = await freePort();
    await buildAppImage();
  }, 300_000);

  afterAll(async () => {
    await traffic?.stop();
    await project?.cleanup();
  }, 120_000);

  const step = (name: string, fn: () => Promise<void>, timeout = 240_000) => it(name, { timeout }, fn);

  step('init renders the files and validate passes every check under this compose', async () => {
    writeManifest();
    let r = await cli(['init']);
    expect(r.exitCode, r.stderr).toBe(0);
    const composeFile = readFileSync(path.join(project.dir, 'docker-compose.yml'), 'utf8');
    expect(composeFile).toMatch(/^ {2}opa:\n {4}image: "swiftdeploy-opa:local"/m);
    r = await cli(['validate']);
    expect(r.stdout).toMatch(/\[PASS\] manifest:/);
    expect(r.stdout).toMatch(/\[PASS\] nginx-config:/);
    expect(r.stdout).toMatch(new RegExp(`\\[PASS\\] compose-config: ${composeChoice === 'plugin' ? 'docker compose' : 'docker-compose'} config`));
    expect(r.stdout).toMatch(/\[PASS\] app-image:/);
    expect(r.exitCode, r.stdout).toBe(0);
  });

  step('a deploy denied by the sidecar (impossible disk threshold) creates neither app nor nginx', async () => {
    writeManifest({ minDiskFreeGb: 1_000_000 });
    const r = await cli(['deploy']);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toContain('starting the OPA sidecar (swiftdeploy-opa:local)');
    expect(r.stderr).toContain('disk_free_too_low');
    expect(r.stderr).toContain('deploy stopped before the app and nginx were created');
    expect(await containers()).toEqual(['opa']);
    // The sidecar is the real OPA: it answers on the loopback port only, with the pinned version.
    const health = await fetch(`http://127.0.0.1:${opaPort}/health`);
    expect(health.status).toBe(200);
    const last = records().at(-1)!;
    expect(last.payload).toMatchObject({ action: 'deploy', decision: { domain: 'infrastructure', allowed: false } });
  });

  step('the same threshold in shadow mode: evaluated, printed, recorded, not enforced', async () => {
    writeManifest({ minDiskFreeGb: 1_000_000, infrastructureMode: 'shadow' });
    const r = await cli(['deploy']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain('[SHADOW] would have blocked: disk_free_too_low');
    expect(await containers()).toEqual(['app', 'nginx', 'opa']);
    const shadowRecord = records().find((rec) => (rec.payload.decision as { enforcement?: string } | undefined)?.enforcement === 'shadow');
    expect(shadowRecord).toMatchObject({
      actor: 'shadow',
      payload: { action: 'deploy', operator: ACTOR, decision: { allowed: false, would_have_blocked: ['disk_free_too_low'] } },
    });
    writeManifest();
    expect(await getRoot()).toEqual({ mode: 'stable', xMode: null, deployedBy: 'swiftdeploy' });
    startTraffic();
  });

  step('status --once: one reading judged by the sidecar, one record appended', async () => {
    const before = records().length;
    const r = await cli(['status', '--once', '--json']);
    // 0 allowed or 3 denied (a noisy host may deny); never 1 (scrape) or 4 (engine unavailable).
    expect([0, 3], r.stderr + r.stdout).toContain(r.exitCode);
    const after = records();
    expect(after.length).toBe(before + 1);
    expect(after.at(-1)!.kind).toBe('status');
    const decisions = (after.at(-1)!.payload as { decisions: Record<string, { allowed?: boolean; unavailable?: string }> }).decisions;
    expect(decisions.infrastructure?.unavailable).toBeUndefined();
    expect(typeof decisions.infrastructure?.allowed).toBe('boolean');
  });

  step('promote canary: exactly one manifest line changes, X-Mode: canary confirmed', async () => {
    const beforePromote = readFileSync(manifest, 'utf8').split('\n');
    const r = await cli(['promote', 'canary', '--yes']);
    expect(r.exitCode, r.stderr).toBe(0);
    const afterPromote = readFileSync(manifest, 'utf8').split('\n');
    expect(afterPromote.filter((l, i) => l !== beforePromote[i])).toEqual([afterPromote.find((l) => /^ {2}mode: canary/.test(l))]);
    const root = await getRoot();
    expect([root.mode, root.xMode]).toEqual(['canary', 'canary']);
  });

  step('with chaos on the canary, promote stable is denied and the manifest bytes are untouched', async () => {
    let r = await cli(['chaos', 'error', '--rate', '1.0']);
    expect(r.exitCode, r.stderr).toBe(0);
    const shaBefore = sha256(manifest);
    r = await cli(['promote', 'stable', '--yes']);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toContain('error_rate_too_high');
    expect(r.stderr).toContain('manifest.yaml was not changed');
    expect(sha256(manifest)).toBe(shaBefore);
  });

  step('rollback works although the canary is failing (it is not gated)', async () => {
    const r = await cli(['rollback', '--yes', '--reason', 'canary returns 500s']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await getRoot()).toEqual({ mode: 'stable', xMode: null, deployedBy: 'swiftdeploy' });
  });

  step('promote canary again, recover, promote stable allowed', async () => {
    let r = await cli(['promote', 'canary', '--yes']);
    expect(r.exitCode, r.stderr).toBe(0);
    r = await cli(['chaos', 'recover']);
    expect(r.exitCode, r.stderr).toBe(0);
    r = await cli(['promote', 'stable', '--yes']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await getRoot()).mode).toBe('stable');
  });

  step('audit writes a report and verify finds the chain intact', async () => {
    let r = await cli(['audit']);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = readFileSync(path.join(project.dir, 'audit_report.md'), 'utf8');
    expect(report).toContain('error\\_rate\\_too\\_high');
    expect(report).toContain(ACTOR);
    expect(report).toContain('canary returns 500s');
    r = await cli(['audit', 'verify']);
    expect(r.exitCode, r.stderr).toBe(0);
  });

  step('a second promote while one holds the lock exits 5 naming the holder', async () => {
    const first: ResultPromise = cli(['promote', 'canary', '--yes']);
    const lockFile = path.join(project.dir, '.swiftdeploy', 'lock');
    const deadline = Date.now() + 20_000;
    while (!existsSync(lockFile) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    const second = await cli(['promote', 'canary', '--yes']);
    expect(second.exitCode, second.stderr).toBe(5);
    expect(second.stderr).toMatch(new RegExp(`locked by ${ACTOR} on .+ \\(pid \\d+\\) since .+: promote canary`));
    expect((await first).exitCode).toBe(0);
  });

  step('Ctrl-C after the manifest changed: the switch is undone, not left half way (exit 130)', async () => {
    const canaryBytes = readFileSync(manifest);
    const interrupted = cli(['promote', 'stable', '--yes']);
    const changeDeadline = Date.now() + 60_000;
    while (readFileSync(manifest).equals(canaryBytes) && Date.now() < changeDeadline) await new Promise((res) => setTimeout(res, 100));
    expect(readFileSync(manifest).equals(canaryBytes), 'promote stable never changed the manifest').toBe(false);
    interrupted.kill('SIGINT');
    const aborted = await interrupted;
    expect(aborted.exitCode, aborted.stderr).toBe(130);
    expect(aborted.stderr).toContain('SIGINT received: finishing the current step, then rolling back to canary');
    expect(readFileSync(manifest).equals(canaryBytes)).toBe(true);
    const root = await getRoot();
    expect([root.mode, root.xMode]).toEqual(['canary', 'canary']);
    const last = records().at(-1)!;
    expect(last.payload).toMatchObject({ action: 'promote', stage: 'rolled_back' });
    expect(last.payload.detail).toContain('interrupted by SIGINT');
    expect(existsSync(path.join(project.dir, '.swiftdeploy', 'lock'))).toBe(false);
    const stats = await traffic!.stop();
    traffic = undefined;
    console.info(`e2e (${composeChoice}): client traffic during the scenario: ${stats.ok} ok, ${stats.failed} failed (chaos made some fail on purpose)`);
  });

  step('teardown --clean removes every container; init restores byte-identical files', async () => {
    const generated = ['docker-compose.yml', 'nginx/nginx.conf'].map((f) => path.join(project.dir, f));
    const bytes = generated.map((f) => readFileSync(f));
    let r = await cli(['teardown', '--clean', '--yes']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await containers()).toEqual([]);
    for (const f of generated) expect(existsSync(f)).toBe(false);
    for (const kept of ['manifest.yaml', 'history.jsonl', 'audit_report.md']) expect(existsSync(path.join(project.dir, kept))).toBe(true);
    r = await cli(['init']);
    expect(r.exitCode, r.stderr).toBe(0);
    generated.forEach((f, i) => expect(readFileSync(f).equals(bytes[i]!)).toBe(true));
    const network = await runArgv(['docker', 'network', 'ls', '-q', '--filter', `name=^${project.projectName}-net$`]);
    expect(network.stdout.trim()).toBe('');
  });

  step('write-ahead: every change the scenario made has its intent and exactly one outcome; the chain verifies', async () => {
    const all = records();
    const intents = all.filter((r) => r.payload.stage === 'intent');
    const outcomes = all.filter((r) => typeof r.payload.intent_id === 'string' && r.payload.stage !== 'intent');
    const actions = new Set(intents.map((r) => r.payload.action));
    for (const action of ['init', 'deploy', 'promote', 'rollback', 'chaos', 'teardown']) expect(actions, `no intent for ${action}`).toContain(action);
    for (const intent of intents) {
      const mine = outcomes.filter((o) => o.payload.intent_id === intent.payload.intent_id);
      expect(mine.map((o) => o.payload.intent_seq), `outcomes of intent seq ${intent.seq} (${intent.payload.action})`).toEqual([intent.seq]);
      expect(mine[0]!.seq).toBeGreaterThan(intent.seq);
    }
    // Nothing in this scenario crashed, so nothing needed reconciling.
    expect(outcomes.filter((o) => o.payload.reconciled)).toEqual([]);
    const r = await cli(['audit', 'verify']);
    expect(r.exitCode, r.stderr).toBe(0);
  });
}
