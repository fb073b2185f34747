/**
 * `runtime: swarm` on a real single-node swarm (`docker swarm init --advertise-addr 127.0.0.1` when
 * the engine is in none; left again afterwards), through the CLI: deploy 3 replicas; the OPA sidecar
 * answers on loopback and not on the host's other address (while nginx, through the routing mesh,
 * does); promote under steady load with zero failed requests; rollback under load; an update whose
 * new tasks never get healthy is rolled back by Swarm, the old tasks keep serving, and the ledger
 * says so; teardown leaves no service, network, config or secret.
 *
 * Needs: a Docker engine that may join or create a swarm, the local base images and the OPA image
 * (npm run setup). In CI a missing piece fails the suite; elsewhere it skips and says so.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runArgv } from '../../src/runtime/run.js';
import { engineOrSkip } from '../helpers/engines.js';
import { localStackChanges, testManifest } from '../helpers/manifest.js';
import { freePort } from '../helpers/opa-server.mjs';
import { BASE_IMAGES, dockerForTests, uniqueProjectName } from './helpers/docker.js';
import { makeTempProject, type TempProject } from './helpers/project.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repo, 'bin/swiftdeploy');
const APP_IMAGE = 'swiftdeploy-app:e2e';
// Starts and never listens: its healthcheck never passes.
const BROKEN_IMAGE = 'swiftdeploy-app:e2e-never-healthy';

// The routing mesh needs IPVS in the kernel (dockerd says "Could not get ipvs family information
// from the kernel" without it); where it is missing, nginx is published in host mode (docs/swarm.md).
const PUBLISH = process.env.SWIFTDEPLOY_SWARM_PUBLISH ?? (existsSync('/proc/net/ip_vs') ? 'ingress' : 'host');

const docker = await dockerForTests([...BASE_IMAGES, 'swiftdeploy-opa:local']);
const dockerEngine = engineOrSkip('a Docker engine with the local images', docker.available ? 'docker' : null, `${docker.available ? '' : docker.reason}; npm run setup (as root)`);

async function sh(argv: string[]): Promise<string> {
  const r = await runArgv(argv, { timeoutMs: 120_000 });
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A non-loopback IPv4 address of this host (the OPA port must not answer there). */
function otherAddress(): string | undefined {
  return Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}

describe.skipIf(!dockerEngine.path)(`runtime: swarm on a real single-node swarm, nginx published ${PUBLISH}${dockerEngine.skipNote}`, () => {
  let project: TempProject;
  let manifest: string;
  let nginxPort: number;
  let opaPort: number;
  let initialisedSwarm = false;

  const cli = (args: string[]) =>
    execa(bin, args, { cwd: project.dir, reject: false, stdin: 'ignore', env: { SWIFTDEPLOY_ACTOR: 'alice@example.com', NO_COLOR: '1' }, timeout: 300_000 });

  /** `extra`: YAML appended after the manifest (the `canary:` section). */
  function writeManifest(changes: Record<string, unknown> = {}, extra = ''): void {
    writeFileSync(
      manifest,
      testManifest({
        ...localStackChanges({ projectName: project.projectName, appImage: APP_IMAGE, nginxPort, opaPort }),
        runtime: 'swarm',
        'swarm.replicas': 3,
        'swarm.publish': PUBLISH,
        'swarm.update.monitor': 5,
        'services.health_timeout_seconds': 120,
        ...changes,
      }) + (extra === '' ? '' : `\n${extra}`),
    );
  }

  const labelled = async (kind: 'service' | 'network' | 'config' | 'secret') =>
    (await sh(['docker', kind, 'ls', '--quiet', '--filter', `label=com.docker.stack.namespace=${project.projectName}`])).split('\n').filter(Boolean);

  function records(): Array<{ payload: Record<string, unknown> & { stage?: string; detail?: string; action?: string } }> {
    return readFileSync(path.join(project.dir, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  }

  /**
   * Steady traffic through nginx: one request at a time, every 20 ms; answers counted per track
   * (X-Track). With `close`, one connection per request, as the compose rollout e2e does: a weight
   * change reloads nginx in place, and its old workers close idle keep-alive connections (README,
   * "Progressive canary").
   */
  function traffic(o: { close?: boolean } = {}): {
    stop: () => Promise<{ ok: number; failed: number; errors: string[]; byTrack: Record<string, number>; failedByTrack: Record<string, number> }>;
  } {
    let on = true;
    let ok = 0;
    let failed = 0;
    const errors: string[] = [];
    const byTrack: Record<string, number> = {};
    // failures per X-Track of the answer; 'network' for a request with no answer
    const failedByTrack: Record<string, number> = {};
    const loop = (async () => {
      while (on) {
        try {
          const res = await fetch(`http://127.0.0.1:${nginxPort}/`, { signal: AbortSignal.timeout(5000), ...(o.close ? { headers: { connection: 'close' } } : {}) });
          await res.arrayBuffer();
          const track = res.headers.get('x-track') ?? 'none';
          if (res.status === 200) {
            ok++;
            byTrack[track] = (byTrack[track] ?? 0) + 1;
          } else {
            failed++;
            failedByTrack[track] = (failedByTrack[track] ?? 0) + 1;
            errors.push(`${track}: HTTP ${res.status}`);
          }
        } catch (e) {
          failed++;
          failedByTrack.network = (failedByTrack.network ?? 0) + 1;
          errors.push((e as Error).message);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    return {
      stop: async () => {
        on = false;
        await loop;
        return { ok, failed, errors: errors.slice(0, 5), byTrack, failedByTrack };
      },
    };
  }

  beforeAll(async () => {
    const state = await sh(['docker', 'info', '--format', '{{.Swarm.LocalNodeState}}']);
    if (state === 'inactive') {
      await sh(['docker', 'swarm', 'init', '--advertise-addr', '127.0.0.1']);
      initialisedSwarm = true;
    }
    project = await makeTempProject(uniqueProjectName('sdswarm'));
    manifest = path.join(project.dir, 'manifest.yaml');
    nginxPort = await freePort();
    opaPort = await freePort();
    if ((await runArgv(['docker', 'image', 'inspect', APP_IMAGE])).exitCode !== 0) {
      await execa('bash', [path.join(repo, 'scripts/stage-app.sh')], { cwd: repo });
      await execa('docker', ['build', '-q', '--target', 'prebuilt', '--build-arg', 'NODE_IMAGE=swiftdeploy-node:local', '-t', APP_IMAGE, '.'], { cwd: repo });
    }
    await execa('docker', ['build', '-q', '-t', BROKEN_IMAGE, '-'], {
      input: `FROM ${APP_IMAGE}\nCMD ["node", "-e", "setInterval(() => {}, 1000)"]\n`,
    });
  }, 600_000);

  afterAll(async () => {
    if (project) {
      await runArgv(['docker', 'stack', 'rm', project.projectName]);
      await project.cleanup();
      // teardown keeps the log volume, as on compose; this test's is removed here, once the last
      // task's container has let go of it (a moment after the stack is gone)
      for (let i = 0; i < 40; i++) {
        if ((await runArgv(['docker', 'volume', 'rm', '--force', `${project.projectName}-logs`])).exitCode === 0) break;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    await runArgv(['docker', 'image', 'rm', BROKEN_IMAGE]);
    if (initialisedSwarm) {
      await runArgv(['docker', 'swarm', 'leave', '--force']);
      // made by `swarm init` and left behind by `swarm leave`
      await runArgv(['docker', 'network', 'rm', 'docker_gwbridge']);
    }
  }, 180_000);

  const step = (name: string, fn: () => Promise<void>, timeout = 300_000) => it(name, { timeout }, fn);

  step('deploy: the stack converges on 3 healthy app replicas behind nginx', async () => {
    writeManifest();
    const r = await cli(['deploy']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/swarm: \S+_app 3\/3/);
    const app = await sh(['docker', 'service', 'ls', '--filter', `name=${project.projectName}_app`, '--format', '{{.Replicas}}']);
    expect(app).toBe('3/3');
    const res = await fetch(`http://127.0.0.1:${nginxPort}/`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { mode: string }).mode).toBe('stable');
    // the sidecar is a local compose container, not a swarm service
    expect(await labelled('service')).toHaveLength(2);
  });

  step('the OPA port answers on loopback only; nginx answers on the other address too', async () => {
    const other = otherAddress();
    expect(other, 'this host needs a non-loopback IPv4 address').toBeDefined();
    expect((await fetch(`http://127.0.0.1:${opaPort}/health`)).status).toBe(200);
    const viaOther = await fetch(`http://${other}:${opaPort}/health`, { signal: AbortSignal.timeout(3000) }).then(
      (res) => `HTTP ${res.status}`,
      (e: Error) => `refused: ${(e.cause as Error | undefined)?.message ?? e.message}`,
    );
    expect(viaOther).toMatch(/^refused/);
    expect((await fetch(`http://${other}:${nginxPort}/healthz`, { signal: AbortSignal.timeout(5000) })).status).toBe(200);
  });

  step('status --once --json scrapes each of the 3 replicas; the window the policies judge is their sum', async () => {
    const load = traffic();
    const r = await cli(['status', '--once', '--json']);
    const seen = await load.stop();
    expect(seen.failed, JSON.stringify(seen)).toBe(0);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const doc = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      window: { requests: number };
      replicas: Array<{ task: string; node?: string; window: { requests: number } | null; error?: string }>;
    };
    expect(doc.replicas, JSON.stringify(doc.replicas)).toHaveLength(3);
    expect(new Set(doc.replicas.map((x) => x.task)).size).toBe(3);
    for (const replica of doc.replicas) {
      expect(replica.error, JSON.stringify(replica)).toBeUndefined();
      expect(replica.window!.requests).toBeGreaterThan(0);
    }
    expect(doc.window.requests).toBe(doc.replicas.reduce((sum, x) => sum + x.window!.requests, 0));
    const recorded = records().at(-1)!.payload as { replicas?: unknown[] };
    expect(recorded.replicas).toHaveLength(3);
  });

  step('promote canary under steady load: a rolling start-first update with zero failed requests', async () => {
    const load = traffic();
    const started = Date.now();
    const r = await cli(['promote', 'canary', '--yes']);
    const tookMs = Date.now() - started;
    const seen = await load.stop();
    expect(r.exitCode, r.stderr).toBe(0);
    expect(seen.failed, JSON.stringify(seen)).toBe(0);
    expect(seen.ok).toBeGreaterThan(50);
    const res = await fetch(`http://127.0.0.1:${nginxPort}/`);
    expect(((await res.json()) as { mode: string }).mode).toBe('canary');
    expect(records().at(-1)!.payload).toMatchObject({ stage: 'confirmed', to_mode: 'canary' });
    console.log(`swarm promote: ${tookMs} ms, ${seen.ok} ok, ${seen.failed} failed`);
  });

  step('rollback under steady load: zero failed requests, stable again', async () => {
    const load = traffic();
    const r = await cli(['rollback', '--yes', '--reason', 'swarm e2e']);
    const seen = await load.stop();
    expect(r.exitCode, r.stderr).toBe(0);
    expect(seen.failed, JSON.stringify(seen)).toBe(0);
    const res = await fetch(`http://127.0.0.1:${nginxPort}/`);
    expect(((await res.json()) as { mode: string }).mode).toBe('stable');
  });

  step('an update whose new tasks never get healthy: Swarm rolls it back, the old tasks keep serving, recorded as such', async () => {
    writeManifest({ 'services.image': BROKEN_IMAGE });
    const load = traffic();
    const r = await cli(['deploy']);
    const seen = await load.stop();
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/Swarm rolled the update back: app:/);
    expect(seen.failed, JSON.stringify(seen)).toBe(0);
    const spec = await sh(['docker', 'service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}} {{.UpdateStatus.State}}', `${project.projectName}_app`]);
    expect(spec).toBe(`${APP_IMAGE} rollback_completed`);
    const failed = records().filter((x) => x.payload.stage === 'failed').at(-1);
    expect(failed?.payload.detail).toMatch(/Swarm rolled the update back/);
    writeManifest();
  });

  // The progressive canary on swarm needs nginx in host mode (docs/swarm.md, "Progressive canary").
  const CANARY = (version: string) => `canary:\n  version: "${version}"\n  steps: [10, 50, 100]\n  step_seconds: 5\n  inconclusive_limit: 1\n  max_duration: 600\n`;
  const canaryPolicy = { 'swarm.publish': 'host', 'policy.canary.max_p99_ratio': 1000, 'policy.canary.max_p99_latency_seconds': 5 };
  const nginxTasks = () => sh(['docker', 'service', 'ps', '--quiet', '--filter', 'desired-state=running', `${project.projectName}_nginx`]);

  step('progressive canary on swarm: weights 10/50/100 reload nginx in place (same task), zero failed requests; promote stable rolls the 3 replicas to its version', async () => {
    writeManifest(canaryPolicy, CANARY('2.0.0'));
    // Adding canary: moves nginx.conf from a docker config to a bind mount: nginx is replaced once here.
    const d = await cli(['deploy']);
    expect(d.exitCode, d.stderr).toBe(0);
    const nginxTask = await nginxTasks();
    expect(nginxTask.split('\n')).toHaveLength(1);

    const load = traffic({ close: true });
    const r = await cli(['promote', 'canary', '--yes']);
    const atHundred = await fetch(`http://127.0.0.1:${nginxPort}/`).then((res) => res.json() as Promise<{ mode: string; version: string }>);
    const duringRollout = await load.stop();
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/rollout: step 1\/3: canary weight 10%/);
    expect(r.stderr).toMatch(/rollout: step 2\/3 at 50%: pass/);
    expect(r.stderr).toMatch(/every step passed/);
    expect(duringRollout.failed, JSON.stringify(duringRollout)).toBe(0);
    expect(duringRollout.byTrack.canary ?? 0).toBeGreaterThan(0);
    expect(duringRollout.byTrack.stable ?? 0).toBeGreaterThan(0);
    expect(atHundred.version).toBe('2.0.0');
    // Every weight was a reload in the same nginx task, not a new one.
    expect(await nginxTasks()).toBe(nginxTask);
    expect((await labelled('service')).length).toBe(3);
    // The step windows are per-track sums over every replica: at 10% the stable track's 3 tasks took
    // ~9x the canary's requests (one stable task alone would be ~3x).
    const analysed = records()
      .map((x) => x.payload.analysis as { weight: number; tracks: Record<'stable' | 'canary', { requests: number }> } | undefined)
      .filter((a) => a !== undefined);
    expect(analysed.map((a) => a.weight)).toEqual([10, 50, 100]);
    const atTen = analysed[0]!.tracks;
    expect(atTen.canary.requests).toBeGreaterThan(0);
    expect(atTen.stable.requests, JSON.stringify(atTen)).toBeGreaterThan(5 * atTen.canary.requests);

    const load2 = traffic({ close: true });
    const p = await cli(['promote', 'stable', '--yes']);
    const afterPromote = await load2.stop();
    expect(p.exitCode, p.stderr).toBe(0);
    expect(afterPromote.failed, JSON.stringify(afterPromote)).toBe(0);
    const spec = await sh(['docker', 'service', 'inspect', '--format', '{{range .Spec.TaskTemplate.ContainerSpec.Env}}{{println .}}{{end}}', `${project.projectName}_app`]);
    expect(spec).toMatch(/^APP_VERSION=2\.0\.0$/m);
    expect(await labelled('service')).toHaveLength(2);
    expect(readFileSync(manifest, 'utf8')).toMatch(/version: "?2\.0\.0"?/);
  });

  step('a failing canary on swarm: judged on its own replica, the rollout aborts itself (exit 3), app-canary is removed, stable never fails', async () => {
    writeManifest({ ...canaryPolicy, 'services.version': '2.0.0' }, CANARY('3.0.0'));
    const load = traffic({ close: true });
    const driver = cli(['promote', 'canary', '--yes']);
    const deadline = Date.now() + 120_000;
    while (!existsSync(path.join(project.dir, '.swiftdeploy/rollout.json')) || !/"weight":\s*10\b/.test(readFileSync(path.join(project.dir, '.swiftdeploy/rollout.json'), 'utf8'))) {
      if (Date.now() > deadline) throw new Error('the rollout never reached 10%');
      await new Promise((res) => setTimeout(res, 200));
    }
    const chaos = await cli(['chaos', 'error', '--rate', '1', '--track', 'canary']);
    expect(chaos.exitCode, chaos.stderr).toBe(0);
    const r = await driver;
    const seen = await load.stop();
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/canary error rate 100%/);
    expect(r.stderr).toMatch(/aborted/);
    // the removal waited for the canary's task (by id: its service was already gone) to stop
    expect(r.stderr).toMatch(/swarm: waiting for 1 task\(s\) of \S+_app-canary to stop/);
    // only the canary's answers failed: no stable error, no request without an answer
    expect(seen.failedByTrack.canary ?? 0, JSON.stringify(seen)).toBeGreaterThan(0);
    expect(Object.keys(seen.failedByTrack), JSON.stringify(seen)).toEqual(['canary']);
    expect(await labelled('service')).toHaveLength(2);
    const app = await fetch(`http://127.0.0.1:${nginxPort}/`).then((res) => res.json() as Promise<{ version: string }>);
    expect(app.version).toBe('2.0.0');
  });

  step('teardown: no service, network, config or secret of the stack remains, nor the sidecar', async () => {
    const r = await cli(['teardown', '--yes']);
    expect(r.exitCode, r.stderr).toBe(0);
    for (const kind of ['service', 'network', 'config', 'secret'] as const) expect(await labelled(kind), kind).toEqual([]);
    const containers = await sh(['docker', 'ps', '--all', '--quiet', '--filter', `label=com.docker.compose.project=${project.projectName}`]);
    expect(containers).toBe('');
  });
});
