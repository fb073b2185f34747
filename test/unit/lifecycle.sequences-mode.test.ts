import path from 'node:path';
/**
 * promote and rollback as exact command sequences: the app is replaced start-before-stop (scale up,
 * wait for healthy, stop the old one, remove it) and every failure is followed by what the code
 * promises: an unhealthy new container is removed and the old one keeps serving, the previous
 * manifest is restored, and history says so. Same set-up as lifecycle.sequences.test.ts.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppMode } from '../../src/app/config.js';
import { DOCKER_PS_TEMPLATE } from '../../src/runtime/compose-argv.js';
import { EXIT, OperationFailed } from '../../src/errors.js';
import { initProject } from '../../src/lifecycle/init.js';
import { promote } from '../../src/lifecycle/promote.js';
import { rollback } from '../../src/lifecycle/rollback.js';
import { requireOpa } from '../helpers/engines.js';
import { opaForSuite } from '../helpers/opa.js';
import { whileRequesting } from '../helpers/traffic.js';
import { APP_IMAGE, detection, PROJECT, scriptedProject, stages, type ScriptedProject, failure } from '../helpers/scripted-project.js';
import type { HostContainer } from '../helpers/compose-host.js';
import { appendRecord } from '../../src/history/ledger.js';
import { status } from '../fixtures/audit/records.js';

const engine = requireOpa();
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

let p: ScriptedProject | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});


/** A project deployed in `mode`: rendered files, app + nginx running, nginx routing to the app. */
async function running(mode: AppMode, opaUrl: string, flavour: 'v2' | 'v1' = 'v2'): Promise<{ project: ScriptedProject; oldApp: HostContainer }> {
  const project = await scriptedProject({ 'opa.url': opaUrl, 'services.mode': mode }, { flavour });
  await initProject(project.manifest, project.operator);
  const oldApp = project.host.add('app', { mode, health: 'healthy', image: APP_IMAGE });
  project.host.add('nginx', { image: 'swiftdeploy-nginx:local' });
  await project.nginx.serve(mode);
  return { project, oldApp };
}


/** The start-before-stop replacement of `oldId` on compose v2. */
function replacement(project: ScriptedProject, oldId: string): string[][] {
  const ps = project.compose('ps', '--all', '--format', 'json');
  return [
    ps,
    project.compose('up', '--detach', '--no-deps', '--no-recreate', '--scale', 'app=2', 'app'),
    ps, // the new container: health: starting
    ps, // healthy
    ['docker', 'stop', '--time', '10', oldId],
    ['docker', 'rm', '--force', '--volumes', oldId],
  ];
}

describe.skipIf(!engine.path)(`promote: the commands it runs, in order${engine.skipNote}`, () => {
  const suite = opaForSuite();

  it('stable -> canary: gate (real OPA, sampled window), then scale up, wait healthy, stop and remove the old app', async () => {
    const { project, oldApp } = await running('stable', suite.opa.url);
    p = project;
    const code = await whileRequesting([`http://127.0.0.1:${p.nginx.port}`], () => promote(p!.manifest, 'canary', p!.operator, {}, p!.deps));
    expect(code).toBe(EXIT.OK);
    expect(p.argvs()).toEqual([...detection(), ...replacement(p, oldApp.id)]);
    // the new container was created from the re-rendered compose file
    expect(p.host.running('app').map((c) => c.mode)).toEqual(['canary']);
    expect(readFileSync(p.manifest, 'utf8')).toMatch(/^ {2}mode: canary\b/m);
    const records = await p.records();
    expect(stages(records).slice(-9)).toEqual([
      'requested',
      'policy_decided',
      'authorised',
      'intent',
      'completed',
      'intent',
      'completed',
      'executed',
      'confirmed',
    ]);
    expect(records.find((r) => r.payload.stage === 'policy_decided')!.payload.decision).toMatchObject({ domain: 'canary', allowed: true });
    expect(records.at(-1)!.payload).toMatchObject({ from_mode: 'stable', to_mode: 'canary' });
  }, 30_000);

  it('a fresh status-loop window, the newest record, is judged instead of sampling (no traffic needed)', async () => {
    const { project, oldApp } = await running('stable', suite.opa.url);
    p = project;
    const tick = status(Date.now(), { requests: 300, errorRate: 0, p99: 0.05 });
    await appendRecord(path.join(p.dir, 'history.jsonl'), { kind: 'status', actor: 'status', policy_version: tick.policy_version, manifest_sha256: tick.manifest_sha256, payload: tick.payload });
    // Without traffic a sampled window has no requests: the gate would deny (min_requests).
    const code = await promote(p.manifest, 'canary', p.operator, {}, p.deps);
    expect(code).toBe(EXIT.OK);
    expect(p.argvs()).toEqual([...detection(), ...replacement(p, oldApp.id)]);
    const records = await p.records();
    expect(records.find((r) => r.payload.stage === 'policy_decided')!.payload.decision).toMatchObject({ domain: 'canary', question: 'pre_promote', allowed: true });
  }, 30_000);

  it('the new container turns unhealthy: it is removed, the old one never stopped; then the automatic rollback restores the manifest and replaces back; exit 1', async () => {
    const { project, oldApp } = await running('stable', suite.opa.url);
    p = project;
    const files = [p.manifest, p.composeFile].map((f) => ({ f, sha: sha(f) }));
    p.host.newAppHealth.push('unhealthy');
    const err = await failure(whileRequesting([`http://127.0.0.1:${p.nginx.port}`], () => promote(p!.manifest, 'canary', p!.operator, {}, p!.deps)));
    expect(err).toBeInstanceOf(OperationFailed);
    expect(err.message).toMatch(/^promote to canary failed and was rolled back: the new app container did not become healthy \(running\/unhealthy\); the old one keeps serving/);

    const argvs = p.argvs();
    const ps = p.compose('ps', '--all', '--format', 'json');
    const scale = p.compose('up', '--detach', '--no-deps', '--no-recreate', '--scale', 'app=2', 'app');
    const removedNew = argvs[detection().length + 5]!;
    expect(argvs).toEqual([
      ...detection(),
      ps,
      scale,
      ps,
      ps,
      p.compose('logs', '--no-color', '--tail', '20', 'app'),
      removedNew,
      // the automatic rollback: the stable app is replaced by one from the restored compose file
      ...replacement(p, oldApp.id),
    ]);
    expect(removedNew.slice(0, 4)).toEqual(['docker', 'rm', '--force', '--volumes']);
    expect(removedNew.slice(4)).not.toContain(oldApp.id);
    // the old app was stopped only by the rollback's replacement, after its new container was healthy
    expect(argvs.findIndex((a) => a[1] === 'stop')).toBeGreaterThan(argvs.lastIndexOf(scale));

    for (const { f, sha: before } of files) expect(sha(f)).toBe(before);
    expect(p.host.running('app').map((c) => c.mode)).toEqual(['stable']);
    const records = await p.records();
    const last = records.at(-1)!;
    expect(last.payload.stage).toBe('rolled_back');
    expect(last.payload.detail).toMatch(/^automatic rollback: the new app container did not become healthy/);
    expect(last.payload).toMatchObject({ from_mode: 'canary', to_mode: 'stable' });
    // the failed replacement's outcome is recorded before the rollback's own intents
    expect(stages(records).slice(-10)).toEqual(['authorised', 'intent', 'completed', 'intent', 'unknown', 'intent', 'completed', 'intent', 'completed', 'rolled_back']);
  }, 40_000);
});

describe.skipIf(!engine.path)(`rollback: the commands it runs, in order${engine.skipNote}`, () => {
  const suite = opaForSuite();

  it('canary -> stable: no gate, the same start-before-stop replacement, confirmed through nginx', async () => {
    const { project, oldApp } = await running('canary', suite.opa.url);
    p = project;
    expect(await rollback(p.manifest, p.operator, { reason: 'canary 5xx spike' }, p.deps)).toBe(EXIT.OK);
    expect(p.argvs()).toEqual([...detection(), ...replacement(p, oldApp.id)]);
    expect(readFileSync(p.manifest, 'utf8')).toMatch(/^ {2}mode: stable\b/m);
    const records = await p.records();
    expect(records.some((r) => r.payload.stage === 'policy_decided')).toBe(false);
    expect(records.at(-1)!.payload).toMatchObject({ stage: 'rolled_back', from_mode: 'canary', to_mode: 'stable', reason: 'canary 5xx spike' });
  });

  it('compose v1: detected after the plugin fails; docker ps by label lists the containers; no --progress flag', async () => {
    const { project, oldApp } = await running('canary', suite.opa.url, 'v1');
    p = project;
    expect(await rollback(p.manifest, p.operator, {}, p.deps)).toBe(EXIT.OK);
    const ps = ['docker', 'ps', '--all', '--no-trunc', '--filter', `label=com.docker.compose.project=${PROJECT}`, '--format', DOCKER_PS_TEMPLATE];
    expect(p.argvs()).toEqual([
      ...detection('v1'),
      ps,
      ['docker-compose', '--ansi', 'never', '--project-name', PROJECT, '--file', p.composeFile, 'up', '--detach', '--no-deps', '--no-recreate', '--scale', 'app=2', 'app'],
      ps,
      ps,
      ['docker', 'stop', '--time', '10', oldApp.id],
      ['docker', 'rm', '--force', '--volumes', oldApp.id],
    ]);
  });

  it('already stable and confirmed through nginx: nothing is run', async () => {
    const { project } = await running('stable', suite.opa.url);
    p = project;
    expect(await rollback(p.manifest, p.operator, {}, p.deps)).toBe(EXIT.OK);
    expect(p.argvs()).toEqual([]);
    expect(p.text()).toContain('already stable (confirmed through nginx)');
  });

  it('the scale-up fails: nothing is stopped, the old canary keeps serving; the manifest already says stable; failed recorded, exit 1', async () => {
    const { project, oldApp } = await running('canary', suite.opa.url);
    p = project;
    p.runner.failNext(['--scale', 'app=2'], { exitCode: 1, stderr: 'Error response from daemon: Conflict. The container name is already in use' });
    const err = await failure(rollback(p.manifest, p.operator, {}, p.deps));
    expect(err).toBeInstanceOf(OperationFailed);
    expect(err.message).toMatch(/^rollback failed: exit 1: docker compose .* --scale app=2 app\nError response from daemon: Conflict/);
    expect(p.argvs()).toEqual([
      ...detection(),
      p.compose('ps', '--all', '--format', 'json'),
      p.compose('up', '--detach', '--no-deps', '--no-recreate', '--scale', 'app=2', 'app'),
    ]);
    expect(p.host.running('app')).toEqual([oldApp]);
    // the file half was done (write-ahead, completed); the container half is unknown
    expect(readFileSync(p.manifest, 'utf8')).toMatch(/^ {2}mode: stable\b/m);
    expect(stages(await p.records()).slice(-5)).toEqual(['intent', 'completed', 'intent', 'unknown', 'failed']);
  });
});

describe.skipIf(!engine.path)(`promote stable of a ready rollout${engine.skipNote}`, () => {
  const suite = opaForSuite();

  it('the new stable does not become healthy: it is removed, manifest.yaml is restored byte for byte, the rollout stays ready; exit 1', async () => {
    const { project } = await running('stable', suite.opa.url);
    p = project;
    // A rollout whose every step passed: the canary (2.0.0) serves 100%.
    writeFileSync(p.manifest, `${readFileSync(p.manifest, 'utf8')}\ncanary:\n  version: "2.0.0"\n  steps: [50, 100]\n  step_seconds: 5\n`);
    const { newRollout, atStepWeight } = await import('../../src/lifecycle/rollout-state.js');
    const { rolloutFileContent, rolloutFileIn } = await import('../../src/lifecycle/rollout-store.js');
    const config = { steps: [50, 100], failure_limit: 0, inconclusive_limit: 2, on_inconclusive: 'pause' as const, max_duration: 3600 };
    const now = new Date();
    const ready = { ...atStepWeight({ ...newRollout('r-test', { image: APP_IMAGE, version: '2.0.0' }, config, { pid: 1, host: 'h' }, now), step: 1 }, now), status: 'ready' as const, driver: null, running_since: null };
    const stateFile = rolloutFileIn(path.join(p.dir, '.swiftdeploy'));
    writeFileSync(stateFile, rolloutFileContent(ready));
    const manifestBefore = sha(p.manifest);
    p.host.newAppHealth.push('unhealthy');

    const err = await failure(promote(p.manifest, 'stable', p.operator, {}, p.deps));
    expect(err).toBeInstanceOf(OperationFailed);
    expect(err.message).toMatch(/^promote stable failed and manifest\.yaml was restored \(the canary still serves 100%/);
    expect(sha(p.manifest)).toBe(manifestBefore);
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toMatchObject({ status: 'ready', weight: 100 });
    const records = await p.records();
    expect(records.at(-1)!.payload).toMatchObject({ action: 'promote', stage: 'failed' });
    expect(String(records.at(-1)!.payload.detail)).toContain('manifest restored');
  }, 30_000);
});
