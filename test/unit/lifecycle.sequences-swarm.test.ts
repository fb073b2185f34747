/**
 * deploy, promote and teardown on `runtime: swarm` as command sequences: the real lifecycle and the
 * real SwarmEngine on a RecordingRunner, a scripted Swarm (test/helpers/swarm-host.ts) reading the
 * real generated docker-stack.yml, a real OPA, and an nginx stand-in serving the mode Swarm's app
 * tasks run. The Docker e2e (test/e2e/swarm.e2e.test.ts) runs the real thing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT, exitCodeOf, OperationFailed } from '../../src/errors.js';
import { deploy } from '../../src/lifecycle/deploy.js';
import { swarmEngine } from '../../src/lifecycle/engine.js';
import { promote } from '../../src/lifecycle/promote.js';
import { teardown } from '../../src/lifecycle/teardown.js';
import type { AppMode } from '../../src/app/config.js';
import { requireOpa } from '../helpers/engines.js';
import { opaForSuite } from '../helpers/opa.js';
import { APP_IMAGE, failure, PROJECT, scriptedProject, stages, type ScriptedProject } from '../helpers/scripted-project.js';
import { SwarmHost } from '../helpers/swarm-host.js';

const engine = requireOpa();
const DOCKER = { flavour: { command: ['docker', 'compose'], version: '2.24.5' }, engineVersion: '20.10.24' };
const POLLS = new Set(['docker service ls', 'docker service inspect', 'docker stack ps', 'docker network ls']);
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

/** Client traffic through the nginx port while `fn` runs, so the canary window has requests to judge. */
async function withTraffic<T>(p: ScriptedProject, fn: () => Promise<T>): Promise<T> {
  let on = true;
  const traffic = (async () => {
    while (on) {
      await fetch(`http://127.0.0.1:${p.nginx.port}/`).then((r) => r.arrayBuffer()).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    return await fn();
  } finally {
    on = false;
    await traffic;
  }
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
    const code = await withTraffic(s.p, () => promote(s.p.manifest, 'canary', s.p.operator, {}, s.p.deps));
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
    const err = await failure(withTraffic(s.p, () => promote(s.p.manifest, 'canary', s.p.operator, {}, s.p.deps)));
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
    expect(after[1]).toBe(`docker stack rm ${PROJECT}`);
    // polled until the tasks (2 looks) and the network (3 looks) were gone, then compose down
    expect(after.filter((a) => a.startsWith('docker network ls')).length).toBe(3);
    expect(after.indexOf(s.p.compose('down', '--remove-orphans').join(' '))).toBeGreaterThan(after.lastIndexOf(`docker network ls --quiet --filter label=com.docker.stack.namespace=${PROJECT}`));
    expect(s.swarm.services.size).toBe(0);
    expect(s.p.text()).toMatch(/removed nginx\/nginx\.conf, docker-compose\.yml, docker-stack\.yml/);
  }, 30_000);
});
