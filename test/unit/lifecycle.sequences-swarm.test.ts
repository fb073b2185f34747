/**
 * deploy, promote and teardown on `runtime: swarm` as command sequences: the real lifecycle and the
 * real SwarmEngine on a RecordingRunner, a scripted Swarm (test/helpers/swarm-host.ts) reading the
 * real generated docker-stack.yml, a real OPA, and an nginx stand-in serving the mode Swarm's app
 * tasks run. The Docker e2e (test/e2e/swarm.e2e.test.ts) runs the real thing.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT, exitCodeOf, OperationFailed } from '../../src/errors.js';
import { deploy } from '../../src/lifecycle/deploy.js';
import { swarmEngine } from '../../src/lifecycle/engine.js';
import { promote } from '../../src/lifecycle/promote.js';
import { abortRollout } from '../../src/lifecycle/rollout.js';
import { loadManifest } from '../../src/manifest/load.js';
import { planGenerate } from '../../src/render/generate.js';
import { atStepWeight, newRollout } from '../../src/lifecycle/rollout-state.js';
import { rolloutFileContent, rolloutFileIn } from '../../src/lifecycle/rollout-store.js';
import { teardown } from '../../src/lifecycle/teardown.js';
import type { AppMode } from '../../src/app/config.js';
import { buildApp } from '../../src/app/server.js';
import { requireOpa } from '../helpers/engines.js';
import { opaForSuite } from '../helpers/opa.js';
import { APP_IMAGE, failure, PROJECT, scriptedProject, stages, type ScriptedProject } from '../helpers/scripted-project.js';
import { SwarmHost } from '../helpers/swarm-host.js';
import { whileRequesting } from '../helpers/traffic.js';

const engine = requireOpa();
const DOCKER = { flavour: { command: ['docker', 'compose'], version: '2.24.5' }, engineVersion: '20.10.24' };
const POLLS = new Set(['docker service ls', 'docker service inspect', 'docker stack ps', 'docker network ls', 'docker inspect --type']);
const NODE = ['docker', 'info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'];

interface SwarmProject {
  p: ScriptedProject;
  swarm: SwarmHost;
  stackFile: string;
  /** The commands run, without the polls of the convergence waits. */
  acts(): string[][];
  /** How many times each poll command ran. */
  polls(): number;
}

let current: ScriptedProject | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

async function swarmProject(changes: Record<string, unknown>): Promise<SwarmProject> {
  const p = await scriptedProject({ runtime: 'swarm', 'network.driver_type': 'bridge', 'swarm.replicas': 3, ...changes });
  current = p;
  const swarm = new SwarmHost(p.runner, PROJECT);
  swarm.onMode = (mode) => p.nginx.serve(mode as AppMode | null);
  p.deps.connectEngine = swarmEngine({ run: p.runner.run, docker: DOCKER, pollIntervalMs: 5 });
  const isPoll = (argv: readonly string[]) => POLLS.has(argv.slice(0, 3).join(' '));
  return {
    p,
    swarm,
    stackFile: path.join(p.dir, 'docker-stack.yml'),
    acts: () => p.argvs().filter((a) => !isPoll(a)),
    polls: () => p.argvs().filter(isPoll).length,
  };
}


const stackDeploy = (file: string) => ['docker', 'stack', 'deploy', '--compose-file', file, '--prune', '--resolve-image', 'never', PROJECT];

describe.skipIf(!engine.path)(`runtime: swarm: the commands each operation runs${engine.skipNote}`, () => {
  const suite = opaForSuite();

  it('deploy: swarm manager check, data root, image, stack deploy (nginx.conf new: deployed again, a no-op), converged with 3/3, healthy through nginx', async () => {
    const s = await swarmProject({ 'opa.url': suite.opa.url });
    expect(await deploy(s.p.manifest, s.p.operator, {}, s.p.deps)).toBe(EXIT.OK);
    expect(s.acts()).toEqual([
      NODE,
      ['docker', 'info', '--format', '{{.DockerRootDir}}'],
      ['docker', 'image', 'inspect', '--format', '{{.Id}}', APP_IMAGE],
      stackDeploy(s.stackFile),
      stackDeploy(s.stackFile),
    ]);
    // converged: waited until every replica ran (3 app tasks need 3 steps)
    expect(s.swarm.services.get(`${PROJECT}_app`)).toMatchObject({ running: 3, desired: 3 });
    expect(s.polls()).toBeGreaterThanOrEqual(3);
    const deploys = s.p.runner.calls.filter((c) => c.argv.includes('deploy'));
    for (const call of deploys) {
      expect(call.cwd).toBe(s.p.dir);
      expect(call.envKeys).toEqual(['SWIFTDEPLOY_CHAOS_TOKEN']);
    }
    // progress lines reach the operator
    expect(s.p.text()).toMatch(/swarm: sdseq_app 3\/3/);
    expect(stages(await s.p.records()).slice(-2)).toEqual(['executed', 'confirmed']);
  }, 30_000);

  it('deploy with the sidecar: OPA starts through compose (loopback-published), never as a stack service', async () => {
    const s = await swarmProject({ 'opa.port': Number(new URL(suite.opa.url).port) });
    expect(await deploy(s.p.manifest, s.p.operator, {}, s.p.deps)).toBe(EXIT.OK);
    expect(s.acts().slice(0, 2)).toEqual([NODE, s.p.compose('up', '--detach', 'opa')]);
    expect([...s.swarm.services.keys()].sort()).toEqual([`${PROJECT}_app`, `${PROJECT}_nginx`]);
    const compose = readFileSync(s.p.composeFile, 'utf8');
    expect(compose).toMatch(/- "127\.0\.0\.1:\d+:8181"/);
    expect(readFileSync(s.stackFile, 'utf8')).not.toMatch(/^ +opa:/m);
  }, 30_000);

  it('not a swarm manager: refused before anything runs, saying how to fix it', async () => {
    const s = await swarmProject({ 'opa.url': suite.opa.url });
    s.swarm.nodeState = 'inactive false';
    const err = await failure(deploy(s.p.manifest, s.p.operator, {}, s.p.deps));
    expect(err).toBeInstanceOf(OperationFailed);
    expect(err.message).toMatch(/needs this Docker engine to be a swarm manager \(it says: inactive false\); run `docker swarm init`/);
    expect(s.acts()).toEqual([NODE]);
  }, 30_000);

  it('promote stable -> canary: one rolling update of the app (stack re-deploy), read back as completed, confirmed through nginx', async () => {
    const s = await swarmProject({ 'opa.url': suite.opa.url });
    expect(await deploy(s.p.manifest, s.p.operator, {}, s.p.deps)).toBe(EXIT.OK);
    const before = s.acts().length;
    const code = await whileRequesting([`http://127.0.0.1:${s.p.nginx.port}`], () => promote(s.p.manifest, 'canary', s.p.operator, {}, s.p.deps));
    expect(code).toBe(EXIT.OK);
    expect(s.acts().slice(before)).toEqual([NODE, stackDeploy(s.stackFile)]);
    expect(s.swarm.services.get(`${PROJECT}_app`)!.update).toMatchObject({ State: 'completed' });
    // only the app changed: nginx was not updated
    expect(s.swarm.services.get(`${PROJECT}_nginx`)!.update).toBeUndefined();
    expect(readFileSync(s.stackFile, 'utf8')).toMatch(/MODE: "canary"/);
    expect(s.p.text()).toMatch(/swarm: sdseq_app 3\/3 updating, sdseq_nginx 1\/1\n/);
    const records = await s.p.records();
    expect(records.at(-1)!.payload).toMatchObject({ stage: 'confirmed', from_mode: 'stable', to_mode: 'canary' });
  }, 30_000);

  it('promote whose new tasks never get healthy: Swarm rolls the update back, that outcome is read back, the manifest is restored and recorded as rolled back; exit 1', async () => {
    const s = await swarmProject({ 'opa.url': suite.opa.url });
    expect(await deploy(s.p.manifest, s.p.operator, {}, s.p.deps)).toBe(EXIT.OK);
    const stackBefore = readFileSync(s.stackFile, 'utf8');
    s.swarm.nextOutcome = 'rollback_completed';
    const err = await failure(whileRequesting([`http://127.0.0.1:${s.p.nginx.port}`], () => promote(s.p.manifest, 'canary', s.p.operator, {}, s.p.deps)));
    expect(exitCodeOf(err)).toBe(EXIT.FAILED);
    expect(err.message).toMatch(/^promote to canary failed and was rolled back: Swarm rolled the update back: app: rollback completed: update rolled back/);
    // the lifecycle's own rollback re-deployed the stable spec, which Swarm already runs: no second update
    expect(readFileSync(s.stackFile, 'utf8')).toBe(stackBefore);
    expect(readFileSync(s.p.manifest, 'utf8')).toMatch(/^ {2}mode: stable\b/m);
    const deploys = s.p.argvs().filter((a) => a.join(' ') === stackDeploy(s.stackFile).join(' '));
    expect(deploys).toHaveLength(4); // deploy (2), the update, the re-deploy of the stable spec
    expect(s.p.runner.commands()).toContain(`docker service logs --no-task-ids --tail 10 ${PROJECT}_app`);
    const records = await s.p.records();
    const rolledBack = records.find((r) => r.payload.stage === 'rolled_back');
    expect(rolledBack?.payload).toMatchObject({ from_mode: 'canary', to_mode: 'stable' });
    expect(String(rolledBack?.payload.detail)).toMatch(/^automatic rollback: Swarm rolled the update back: app:/);
    const outcomes = records.filter((r) => r.payload.stage === 'unknown' || r.payload.stage === 'not_applied' || r.payload.stage === 'partial');
    expect(outcomes.length).toBeGreaterThan(0);
  }, 30_000);

  it('teardown: stack rm, waits until the tasks and the overlay network are gone, then the sidecar\'s compose down', async () => {
    const s = await swarmProject({ 'opa.url': suite.opa.url });
    expect(await deploy(s.p.manifest, s.p.operator, {}, s.p.deps)).toBe(EXIT.OK);
    const before = s.p.argvs().length;
    expect(await teardown(s.p.manifest, s.p.operator, { clean: true }, s.p.deps)).toBe(EXIT.OK);
    const after = s.p.argvs().slice(before).map((a) => a.join(' '));
    expect(after[0]).toBe(NODE.join(' '));
    // the task ids first (after the rm a removed service's tasks are found by id only), then the rm
    expect(after[1]).toBe(`docker stack ps --quiet --no-trunc ${PROJECT}`);
    expect(after[2]).toBe(`docker stack rm ${PROJECT}`);
    // polled until the 4 tasks had stopped (2 looks running, then shutdown), then the network (3 looks), then compose down
    const looks = after.filter((a) => a.startsWith('docker inspect --type task'));
    expect(looks).toHaveLength(3);
    expect(looks[0]).toBe(`docker inspect --type task --format {{.ID}} {{.Status.State}} ${PROJECT}_app-1 ${PROJECT}_app-2 ${PROJECT}_app-3 ${PROJECT}_nginx-1`);
    expect(s.p.text()).toMatch(/swarm: waiting for 4 task\(s\) of sdseq to stop/);
    expect(after.filter((a) => a.startsWith('docker network ls')).length).toBe(3);
    expect(after.findIndex((a) => a.startsWith('docker network ls'))).toBeGreaterThan(after.lastIndexOf(looks.at(-1)!));
    expect(after.indexOf(s.p.compose('down', '--remove-orphans').join(' '))).toBeGreaterThan(after.lastIndexOf(`docker network ls --quiet --filter label=com.docker.stack.namespace=${PROJECT}`));
    expect(s.swarm.services.size).toBe(0);
    expect(s.p.text()).toMatch(/removed nginx\/nginx\.conf, docker-compose\.yml, docker-stack\.yml/);
  }, 30_000);
});

/**
 * publish: host and a progressive canary (2.0.0 at 50 then 100), the schema's rule on swarm. Latency
 * under a loaded 2-core machine is noise at these rates (a step once failed on p99 in a full run):
 * the latency rules are the Rego tests' and the e2e's, not this command sequence's.
 */
const CANARY = {
  'swarm.publish': 'host',
  'policy.canary.max_p99_ratio': 1000,
  'policy.canary.max_p99_latency_seconds': 5,
  canary: { image: APP_IMAGE, version: '2.0.0', steps: [50, 100], step_seconds: 5 },
};
const ROLLOUT_CONFIG = { steps: [50, 100], failure_limit: 0, inconclusive_limit: 2, on_inconclusive: 'pause' as const, max_duration: 3600 };

describe.skipIf(!engine.path)(`runtime: swarm: a progressive canary as command sequences${engine.skipNote}`, () => {
  const suite = opaForSuite();
  const nginxExec = (s: SwarmProject, ...args: string[]) => ['docker', 'exec', s.swarm.nginxContainer, 'nginx', '-c', '/etc/swiftdeploy/nginx/nginx.conf', ...args];
  const nginxPs = ['docker', 'ps', '--no-trunc', '--filter', `label=com.docker.swarm.service.name=${PROJECT}_nginx`, '--format', '{{.ID}} {{.Label "com.docker.swarm.task.id"}}'];
  const reload = (s: SwarmProject) => [nginxPs, nginxExec(s, '-t'), nginxExec(s, '-s', 'reload')];

  /** Deployed with the canary: section, before any rollout; returns how many commands ran so far. */
  async function deployed(): Promise<{ s: SwarmProject; before: number }> {
    const s = await swarmProject({ 'opa.url': suite.opa.url, ...CANARY });
    expect(await deploy(s.p.manifest, s.p.operator, {}, s.p.deps)).toBe(EXIT.OK);
    expect([...s.swarm.services.keys()]).toEqual([`${PROJECT}_app`, `${PROJECT}_nginx`]);
    // deploy's own reload of the new nginx.conf: in place too (the stack file has no nginx config to change)
    expect(s.acts().slice(-3)).toEqual(reload(s));
    expect(s.swarm.reloads.splice(0)).toEqual([null]);
    return { s, before: s.acts().length };
  }

  /** A rollout state file as the driver leaves it, at `step` (weight from the steps), with `status`. */
  function rolloutAt(s: SwarmProject, step: number, status: 'paused' | 'ready'): void {
    const now = new Date();
    const state = { ...atStepWeight({ ...newRollout('r-swarm', { image: APP_IMAGE, version: '2.0.0' }, ROLLOUT_CONFIG, { pid: 1, host: 'h' }, now), step }, now), status, driver: null, running_since: null };
    writeFileSync(rolloutFileIn(path.join(s.p.dir, '.swiftdeploy')), rolloutFileContent(state));
  }

  it('promote canary to ready: reload at weight 0 in the nginx task container (-t first), app-canary by a stack deploy + convergence (1/1, healthy), each step a reload in place judged on every replica scraped by docker exec; nginx and the stable app never updated', async () => {
    const { s, before } = await deployed();
    const stable = await appServer('stable', '1.0.0');
    const canary = await appServer('canary', '2.0.0');
    try {
      s.swarm.metricsUrls = { app: stable.url, 'app-canary': canary.url };
      const code = await whileRequesting([stable.url, canary.url], () => promote(s.p.manifest, 'canary', s.p.operator, {}, s.p.deps));
      expect(code).toBe(EXIT.OK);
      const isScrape = (a: readonly string[]) =>
        a.slice(0, 3).join(' ') === 'docker service ps' || (a[1] === 'ps' && !a.some((x) => x.endsWith('_nginx'))) || (a[1] === 'exec' && a[3] === 'node');
      const acts = s.acts().slice(before);
      expect(acts.filter((a) => !isScrape(a))).toEqual([NODE, ...reload(s), stackDeploy(s.stackFile), s.p.compose('ps', '--all', '--format', 'json'), ...reload(s), ...reload(s)]);
      expect(s.swarm.reloads).toEqual([0, 50, 100]);
      // every step window listed both tracks' tasks and scraped each of them in its container
      const listed = acts.filter((a) => a.slice(0, 3).join(' ') === 'docker service ps').map((a) => a.at(-1));
      expect(new Set(listed)).toEqual(new Set([`${PROJECT}_app`, `${PROJECT}_app-canary`]));
      const execs = acts.filter((a) => a[1] === 'exec' && a[3] === 'node');
      // 3 stable tasks and 1 canary task per scrape, so 4 execs a scrape
      expect(execs.length % 4).toBe(0);
      expect(execs.length).toBeGreaterThanOrEqual(8);
      expect(s.swarm.services.get(`${PROJECT}_app-canary`)).toMatchObject({ running: 1, desired: 1 });
      expect(s.swarm.services.get(`${PROJECT}_app`)!.update).toBeUndefined();
      expect(s.swarm.services.get(`${PROJECT}_nginx`)!.update).toBeUndefined();
      const stack = readFileSync(s.stackFile, 'utf8');
      expect(stack).toMatch(/^ {2}app-canary:\n {4}image: "swiftdeploy-app:1\.0\.0"/m);
      expect(stack).toContain('- "./nginx:/etc/swiftdeploy/nginx:ro"');
      expect(s.p.text()).toMatch(/app-canary is healthy/);
      expect(JSON.parse(readFileSync(rolloutFileIn(path.join(s.p.dir, '.swiftdeploy')), 'utf8'))).toMatchObject({ status: 'ready', weight: 100 });
      // the step analyses recorded the summed stable replicas: 3 tasks playing one server, so about 3 x
      // its requests, while the canary (1 task) counts its server's once; both servers get the same traffic
      const analyses = (await s.p.records()).flatMap((r) => (r.payload.analysis ? [r.payload.analysis as { outcome: string; tracks: { stable: { requests: number }; canary: { requests: number } } }] : []));
      expect(analyses.map((a) => a.outcome)).toEqual(['pass', 'pass']);
      for (const a of analyses) {
        expect(a.tracks.canary.requests).toBeGreaterThan(0);
        expect(a.tracks.stable.requests).toBeGreaterThanOrEqual(2 * a.tracks.canary.requests);
      }
    } finally {
      await stable.close();
      await canary.close();
    }
  }, 60_000);

  it('one canary sample that fails mid-window (a loaded task missing its fetch budget) does not end the step: the rollout reaches ready', async () => {
    const { s } = await deployed();
    const stable = await appServer('stable', '1.0.0');
    const canary = await appServer('canary', '2.0.0');
    const flaky = await flakyMetrics(canary.url, 3);
    try {
      s.swarm.metricsUrls = { app: stable.url, 'app-canary': flaky.url };
      const code = await whileRequesting([stable.url, canary.url], () => promote(s.p.manifest, 'canary', s.p.operator, {}, s.p.deps));
      expect(flaky.failed()).toBe(1);
      expect(code, s.p.text()).toBe(EXIT.OK);
      expect(JSON.parse(readFileSync(rolloutFileIn(path.join(s.p.dir, '.swiftdeploy')), 'utf8'))).toMatchObject({ status: 'ready', weight: 100 });
      const analyses = (await s.p.records()).flatMap((r) => (r.payload.analysis ? [r.payload.analysis as { outcome: string; tracks: { canary: { requests: number } } }] : []));
      expect(analyses.map((a) => a.outcome)).toEqual(['pass', 'pass']);
      for (const a of analyses) expect(a.tracks.canary.requests).toBeGreaterThan(0);
    } finally {
      await flaky.close();
      await stable.close();
      await canary.close();
    }
  }, 60_000);

  it('a step whose canary task cannot be scraped pauses the rollout at that weight, naming the task', async () => {
    const { s } = await deployed();
    const stable = await appServer('stable', '1.0.0');
    try {
      s.swarm.metricsUrls = { app: stable.url };
      const err = await failure(promote(s.p.manifest, 'canary', s.p.operator, {}, s.p.deps));
      expect(err.message).toMatch(/^no replica of sdseq_app-canary could be scraped \(sdseq_app-canary\.1: cannot scrape: Error: No such container/);
      expect(s.swarm.reloads).toEqual([0, 50]);
      expect(JSON.parse(readFileSync(rolloutFileIn(path.join(s.p.dir, '.swiftdeploy')), 'utf8'))).toMatchObject({ status: 'paused', weight: 50 });
    } finally {
      await stable.close();
    }
  }, 30_000);

  it('a canary whose task never gets healthy: the start waits services.health_timeout_seconds, not the stack\'s 300 s, then aborts naming app-canary with its log lines', async () => {
    const s = await swarmProject({ 'opa.url': suite.opa.url, ...CANARY, 'services.health_timeout_seconds': 2 });
    expect(await deploy(s.p.manifest, s.p.operator, {}, s.p.deps)).toBe(EXIT.OK);
    s.swarm.neverHealthy.add(`${PROJECT}_app-canary`);
    const started = Date.now();
    const err = await failure(promote(s.p.manifest, 'canary', s.p.operator, {}, s.p.deps));
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(err.message).toMatch(/^sdseq_app-canary did not start: .*within 2s/);
    expect(err.message).toMatch(/Last log lines:\nsdseq_app-canary: listening on 3000/);
    expect(JSON.parse(readFileSync(rolloutFileIn(path.join(s.p.dir, '.swiftdeploy')), 'utf8'))).toMatchObject({ status: 'aborted', weight: 0 });
    // and the aborted start removed it again
    expect(s.acts().map((a) => a.join(' '))).toContain(`docker service rm ${PROJECT}_app-canary`);
    expect(s.swarm.services.has(`${PROJECT}_app-canary`)).toBe(false);
  }, 30_000);

  it('a broken nginx.conf: `nginx -t` fails in the container, no reload is sent, app-canary is never deployed', async () => {
    const { s, before } = await deployed();
    s.swarm.nginxTestFails = true;
    const err = await failure(promote(s.p.manifest, 'canary', s.p.operator, {}, s.p.deps));
    expect(err.message).toMatch(/unexpected "\}"/);
    expect(s.acts().slice(before)).toEqual([NODE, nginxPs, nginxExec(s, '-t')]);
    expect(s.swarm.reloads).toEqual([]);
    expect(s.swarm.services.has(`${PROJECT}_app-canary`)).toBe(false);
  }, 30_000);

  const canaryRm = ['docker', 'service', 'rm', `${PROJECT}_app-canary`];
  const canaryTaskIds = ['docker', 'service', 'ps', '--quiet', '--no-trunc', `${PROJECT}_app-canary`];

  it('abort at 50%: nginx back to the stable track (reload in place), then app-canary alone removed (docker service rm, no stack deploy), waited until its tasks are gone', async () => {
    const { s } = await deployed();
    rolloutAt(s, 0, 'paused');
    // The files and the stack as the rollout left them: app-canary running beside app.
    await renderAt(s, 50);
    expect(s.swarm.services.has(`${PROJECT}_app-canary`)).toBe(true);
    const before = s.acts().length;
    expect(await abortRollout(s.p.manifest, s.p.operator, { reason: 'p99 doubled' }, s.p.deps)).toBe(EXIT.OK);
    expect(s.acts().slice(before)).toEqual([NODE, ...reload(s), canaryTaskIds, canaryRm]);
    expect(s.swarm.reloads).toEqual([null]);
    expect(s.swarm.services.has(`${PROJECT}_app-canary`)).toBe(false);
    expect(readFileSync(s.stackFile, 'utf8')).not.toMatch(/app-canary/);
    // the removal waited on the stack's tasks until app-canary's had stopped (the first look still lists it)
    // its task, by id (the service is gone): running for one look, then shut down
    const after = s.p.argvs().slice(s.p.argvs().findLastIndex((a) => a.join(' ') === canaryRm.join(' ')));
    expect(after.filter((a) => a.join(' ') === `docker inspect --type task --format {{.ID}} {{.Status.State}} ${PROJECT}_app-canary-1`)).toHaveLength(2);
    expect(s.p.text()).toMatch(/swarm: waiting for 1 task\(s\) of sdseq_app-canary to stop/);
    expect(s.swarm.services.get(`${PROJECT}_app`)!.update).toBeUndefined();
  }, 30_000);

  it('abort: a failed look at the stopping tasks is taken again; an app-canary already gone (removed by hand) is nothing to remove or wait for, exit 0', async () => {
    const { s } = await deployed();
    rolloutAt(s, 0, 'paused');
    await renderAt(s, 50);
    // the first look at the stopping task fails (the daemon hiccups): looked at again, not read as "stopped"
    s.p.runner.failNext(/^docker inspect --type task /, { exitCode: 1, stderr: 'error during connect: EOF' });
    expect(await abortRollout(s.p.manifest, s.p.operator, { reason: 'first' }, s.p.deps)).toBe(EXIT.OK);
    expect(s.p.text()).toMatch(/swarm: docker inspect failed: error during connect: EOF/);
    expect(s.p.argvs().filter((a) => a.join(' ').startsWith('docker inspect --type task'))).toHaveLength(3);

    // A rollout at 50% whose app-canary someone already removed by hand: "no such service" is fine.
    rolloutAt(s, 0, 'paused');
    await renderAt(s, 50);
    s.swarm.services.delete(`${PROJECT}_app-canary`);
    const before = s.p.argvs().length;
    expect(await abortRollout(s.p.manifest, s.p.operator, { reason: 'again' }, s.p.deps)).toBe(EXIT.OK);
    const after = s.p.argvs().slice(before).map((a) => a.join(' '));
    expect(after, s.p.text()).toContain(`docker service rm ${PROJECT}_app-canary`);
    expect(after.some((a) => a.startsWith('docker inspect --type task'))).toBe(false);
  }, 30_000);

  it('promote stable of a ready rollout: the stable app rolled to the canary\'s image/version (one update, completed), then nginx back to stable in place and app-canary removed', async () => {
    const { s } = await deployed();
    rolloutAt(s, 1, 'ready');
    await renderAt(s, 100);
    const before = s.acts().length;
    expect(await promote(s.p.manifest, 'stable', s.p.operator, {}, s.p.deps)).toBe(EXIT.OK);
    // replaceApp (stack deploy: the app's spec changed), then the reload and the pruning deploy
    expect(s.acts().slice(before)).toEqual([NODE, stackDeploy(s.stackFile), ...reload(s), canaryTaskIds, canaryRm]);
    expect(s.swarm.services.get(`${PROJECT}_app`)!.update).toMatchObject({ State: 'completed' });
    expect(s.swarm.services.get(`${PROJECT}_nginx`)!.update).toBeUndefined();
    expect(s.swarm.reloads).toEqual([null]);
    expect(s.swarm.services.has(`${PROJECT}_app-canary`)).toBe(false);
    expect(readFileSync(s.stackFile, 'utf8')).toMatch(/APP_VERSION: "2\.0\.0"/);
    expect(readFileSync(s.p.manifest, 'utf8')).toMatch(/^ {2}version: "?2\.0\.0"?/m);
    expect(JSON.parse(readFileSync(rolloutFileIn(path.join(s.p.dir, '.swiftdeploy')), 'utf8'))).toMatchObject({ status: 'completed' });
  }, 30_000);

  /** The generated files at `weight`, and the scripted swarm converged on them (as the rollout's transitions left them). */
  async function renderAt(s: SwarmProject, weight: number): Promise<void> {
    for (const plan of await planGenerate(await loadManifest(s.p.manifest), { rollout: { weight }, force: true })) writeFileSync(plan.abs, plan.content);
    await s.p.runner.run(stackDeploy(s.stackFile));
    for (let i = 0; i < 5; i++) await s.p.runner.run(['docker', 'service', 'ls']);
  }
});

/** A real app server on 127.0.0.1 playing one track's tasks (their /metrics). */
async function appServer(mode: AppMode, version: string): Promise<{ url: string; close: () => Promise<void> }> {
  const app = buildApp({ port: 0, host: '127.0.0.1', mode, track: mode, version, chaosToken: undefined, drainTimeoutMs: 1000 }, { log: () => undefined });
  await app.server.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.server.address();
  if (address === null || typeof address !== 'object') throw new Error('app has no TCP address');
  return { url: `http://127.0.0.1:${address.port}`, close: () => app.server.close() };
}

/** A proxy to `target` whose `failAt`-th request (1-based) has its connection dropped with no answer. */
async function flakyMetrics(target: string, failAt: number): Promise<{ url: string; failed: () => number; close: () => Promise<void> }> {
  let seen = 0;
  let failed = 0;
  const server = http.createServer((req, res) => {
    seen++;
    if (seen === failAt) {
      failed++;
      req.socket.destroy();
      return;
    }
    fetch(`${target}${req.url ?? '/'}`)
      .then(async (r) => {
        res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'text/plain' });
        res.end(Buffer.from(await r.arrayBuffer()));
      })
      .catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, failed: () => failed, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

