/**
 * `status` and `guard` on `runtime: swarm` during a progressive rollout, through the one wiring both
 * use (sessionStatusWiring): the real SwarmEngine deploys on a scripted Swarm
 * (test/helpers/swarm-host.ts) whose tasks' /metrics are real app servers (three for the stable
 * `app`, one for `app-canary`), fetched by the real scrape script; the rollout signal is the one the
 * CLI reads (rolloutStatusLine over the real state file); ticks are judged by a real OPA.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppMode } from '../../src/app/config.js';
import { EXIT } from '../../src/errors.js';
import { createGuardDeps } from '../../src/guard/deps.js';
import { opaGuardPolicy } from '../../src/guard/policy.js';
import { deploy } from '../../src/lifecycle/deploy.js';
import { swarmEngine } from '../../src/lifecycle/engine.js';
import { abortRollout, rolloutStatusLine } from '../../src/lifecycle/rollout.js';
import { atStepWeight, newRollout } from '../../src/lifecycle/rollout-state.js';
import { rolloutFileContent, rolloutFileIn } from '../../src/lifecycle/rollout-store.js';
import { Session } from '../../src/lifecycle/session.js';
import { sessionStatusWiring } from '../../src/lifecycle/status-wiring.js';
import { loadManifest } from '../../src/manifest/load.js';
import { OpaClient } from '../../src/policy/client.js';
import { planGenerate } from '../../src/render/generate.js';
import { createStatusDeps } from '../../src/status/deps.js';
import { StatusMonitor, type TickResult } from '../../src/status/tick.js';
import { requireOpa } from '../helpers/engines.js';
import { opaForSuite } from '../helpers/opa.js';
import { APP_IMAGE, PROJECT, scriptedProject, type ScriptedProject } from '../helpers/scripted-project.js';
import { SwarmHost } from '../helpers/swarm-host.js';
import { startApp, statusesOf, type RunningApp } from './app.harness.js';

const engine = requireOpa();
const DOCKER = { flavour: { command: ['docker', 'compose'], version: '2.24.5' }, engineVersion: '20.10.24' };
// A window longer than the test, so every figure is the exact count since the window began.
const WINDOW_S = 600;
const CANARY = { 'swarm.publish': 'host', 'policy.canary.window_seconds': WINDOW_S, canary: { image: APP_IMAGE, version: '2.0.0', steps: [50, 100], step_seconds: 5 } };
const ROLLOUT_CONFIG = { steps: [50, 100], failure_limit: 0, inconclusive_limit: 2, on_inconclusive: 'pause' as const, max_duration: 3600 };

let p: ScriptedProject | undefined;
let servers: RunningApp[] = [];
const clients: OpaClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await p?.close();
  p = undefined;
});

interface Stack {
  p: ScriptedProject;
  swarm: SwarmHost;
  stable: RunningApp[];
  /** app-canary's task: started by canaryDeployed, as a new task starts when the rollout deploys it. */
  canary?: RunningApp;
  session: Session;
  client: OpaClient;
  /** Commands run since `from` (an index into the runner's calls), as a shell shows them. */
  since(from: number): string[];
}

/** Deployed on swarm with a `canary:` section (3 stable tasks, each a real app server; app-canary's task a fourth), no rollout yet. */
async function deployedStack(opaUrl: string): Promise<Stack> {
  const made = await scriptedProject({ 'opa.url': opaUrl, runtime: 'swarm', 'network.driver_type': 'bridge', 'swarm.replicas': 3, ...CANARY });
  p = made;
  const swarm = new SwarmHost(made.runner, PROJECT);
  // deploy's health check through nginx: a stand-in serving the mode Swarm's app tasks run
  swarm.onMode = (mode) => made.nginx.serve(mode as AppMode | null);
  made.deps.connectEngine = swarmEngine({ run: made.runner.run, docker: DOCKER, pollIntervalMs: 5 });
  expect(await deploy(made.manifest, made.operator, {}, made.deps)).toBe(EXIT.OK);
  const stable = await Promise.all([0, 1, 2].map(() => startApp({ mode: 'stable' })));
  servers = [...stable];
  swarm.metricsUrls = { app: stable.map((s) => s.url) };
  const session = await Session.open(made.manifest, made.operator, 'policy_check');
  const client = new OpaClient({ url: opaUrl, timeoutMs: 2000 });
  clients.push(client);
  return { p: made, swarm, stable, session, client, since: (from) => made.runner.commands().slice(from) };
}

/** The rollout state file as the driver leaves it at 50% (paused: its driver gone), which the CLI reads as a running rollout. */
function rolloutAt50(s: Stack): void {
  const now = new Date();
  const state = { ...atStepWeight({ ...newRollout('r-status', { image: APP_IMAGE, version: '2.0.0' }, ROLLOUT_CONFIG, { pid: 1, host: 'h' }, now), step: 0 }, now), status: 'paused' as const, driver: null, running_since: null };
  writeFileSync(rolloutFileIn(path.join(s.p.dir, '.swiftdeploy')), rolloutFileContent(state));
}

/** The files at weight 50 and the scripted swarm converged on them: app-canary running beside app (a new process). */
async function canaryDeployed(s: Stack): Promise<void> {
  s.canary = await startApp({ mode: 'canary' });
  servers.push(s.canary);
  s.swarm.metricsUrls['app-canary'] = s.canary.url;
  for (const plan of await planGenerate(await loadManifest(s.p.manifest), { rollout: { weight: 50 }, force: true })) writeFileSync(plan.abs, plan.content);
  await s.p.runner.run(['docker', 'stack', 'deploy', '--compose-file', path.join(s.p.dir, 'docker-stack.yml'), '--prune', '--resolve-image', 'never', PROJECT]);
  for (let i = 0; i < 5; i++) await s.p.runner.run(['docker', 'service', 'ls']);
  expect(s.swarm.services.get(`${PROJECT}_app-canary`)).toMatchObject({ running: 1 });
}

/** The CLI's rollout signal: a rollout with a canary track in the state file. */
const rolloutRunning = (session: Session) => async () => (await rolloutStatusLine(session)) !== undefined;

/** One round of traffic: 5, 10 and 15 requests to the three stable tasks' servers, 4 to the canary's. */
async function round(s: Stack): Promise<void> {
  await Promise.all([statusesOf(`${s.stable[0]!.url}/`, 5), statusesOf(`${s.stable[1]!.url}/`, 10), statusesOf(`${s.stable[2]!.url}/`, 15), statusesOf(`${s.canary!.url}/`, 4)]);
}

const figures = (t: TickResult) => ({
  stack: t.payload.window?.requests,
  stable: t.payload.tracks?.stable?.requests ?? null,
  canary: t.payload.tracks?.canary?.requests ?? null,
});

describe.skipIf(!engine.path)(`status and guard on swarm during a progressive rollout${engine.skipNote}`, () => {
  const suite = opaForSuite();

  it("status: outside a rollout app-canary is never asked for; during one each track is its own tasks summed (stable = the 3 stable servers' sum, tick after tick, no reset), the stack covers app-canary too; a failed canary listing neither kills the tick nor counts the canary twice", async () => {
    const s = await deployedStack(suite.opa.url);
    const monitor = new StatusMonitor(createStatusDeps(sessionStatusWiring(s.session, { actor: 'dana@example.com', client: s.client, run: s.p.runner.run, rolloutRunning: rolloutRunning(s.session) })), {
      windowSeconds: WINDOW_S,
      canaryEnforcement: 'enforce',
    });
    const start = s.p.runner.calls.length;

    // No rollout: the stable app's three tasks only, no tracks.
    await monitor.prime();
    await statusesOf(`${s.stable[0]!.url}/`, 7);
    const idle = await monitor.tick();
    expect(idle.payload.error).toBeUndefined();
    expect(figures(idle)).toEqual({ stack: 7, stable: null, canary: null });
    expect(idle.payload.tracks).toBeUndefined();
    expect(idle.payload.replicas?.map((r) => r.name)).toEqual([`${PROJECT}_app.1`, `${PROJECT}_app.2`, `${PROJECT}_app.3`]);
    expect(s.since(start).filter((c) => c.includes('app-canary'))).toEqual([]);

    // The rollout has begun, app-canary not deployed yet ("no such service"): a track, not a throw.
    rolloutAt50(s);
    const begun = await monitor.tick();
    expect(begun.payload.error).toBeUndefined();
    expect(begun.payload.tracks).toEqual({ stable: null, canary: null });
    expect(begun.payload.replicas).toHaveLength(3);

    await canaryDeployed(s);
    await round(s);
    const first = await monitor.tick();
    // the stable track's window started with the rollout (the 7 before it are not in it); the canary
    // task was first seen now, so its track has one scrape and no window yet
    expect(figures(first)).toEqual({ stack: 7 + 30 + 4, stable: 30, canary: null });
    expect(first.payload.replicas?.map((r) => [r.name, r.window?.requests ?? null])).toEqual([
      [`${PROJECT}_app.1`, 7 + 5],
      [`${PROJECT}_app.2`, 10],
      [`${PROJECT}_app.3`, 15],
      [`${PROJECT}_app-canary.1`, null],
    ]);

    const seen: Array<ReturnType<typeof figures>> = [];
    for (let i = 2; i <= 4; i++) {
      await round(s);
      seen.push(figures(await monitor.tick()));
    }
    // every tick: the three stable servers' sum, the canary's own, both in the stack's window
    expect(seen).toEqual([
      { stack: 7 + 2 * 34, stable: 60, canary: 4 },
      { stack: 7 + 3 * 34, stable: 90, canary: 8 },
      { stack: 7 + 4 * 34, stable: 120, canary: 12 },
    ]);
    // each stable task was scraped in its own container every tick: 3 stable + 1 canary execs a tick
    const execs = s.since(start).filter((c) => /^docker exec \S+ node /.test(c));
    expect(execs.length).toBe(3 /* prime */ + 3 /* idle */ + 3 /* begun: no canary task yet */ + 4 * 4);

    // The canary's listing fails once: its track is null, its task keeps its last scrape in the stack
    // (so the next tick counts what it served since, once), the stable track goes on.
    s.p.runner.failNext(new RegExp(`^docker service ps .*${PROJECT}_app-canary$`), { stderr: 'error during connect: EOF' });
    await round(s);
    const blind = await monitor.tick();
    expect(blind.payload.error).toBeUndefined();
    expect(figures(blind)).toEqual({ stack: 7 + 4 * 34 + 30, stable: 150, canary: null });
    expect(blind.payload.replicas?.[3]).toMatchObject({ name: `${PROJECT}_app-canary.1`, window: null, error: expect.stringMatching(new RegExp(`^cannot list the tasks of ${PROJECT}_app-canary: [^]*error during connect: EOF$`)) });
    await round(s);
    expect(figures(await monitor.tick())).toEqual({ stack: 7 + 6 * 34, stable: 180, canary: 20 });

    // The rollout ends (abort removes app-canary): no tracks, and app-canary is not asked for again.
    expect(await abortRollout(s.p.manifest, s.p.operator, { reason: 'done watching' }, s.p.deps)).toBe(EXIT.OK);
    const after = s.p.runner.calls.length;
    await round(s);
    const ended = await monitor.tick();
    expect(ended.payload.tracks).toBeUndefined();
    expect(ended.payload.replicas?.map((r) => r.name)).toEqual([`${PROJECT}_app.1`, `${PROJECT}_app.2`, `${PROJECT}_app.3`]);
    // the canary's counted traffic stays in the window; its last round was never scraped
    expect(ended.payload.window?.requests).toBe(7 + 6 * 34 + 30);
    expect(s.since(after).filter((c) => c.includes('app-canary'))).toEqual([]);
  }, 90_000);

  it('guard: its monitor (the same wiring) sees the same per-track sums during the rollout', async () => {
    const s = await deployedStack(suite.opa.url);
    rolloutAt50(s);
    await canaryDeployed(s);
    const deps = createGuardDeps({
      session: s.session,
      operator: s.p.operator,
      client: s.client,
      policy: opaGuardPolicy(s.client),
      // Never asked on swarm: a closed port, so a scrape through nginx could not pass unnoticed.
      metricsUrl: 'http://127.0.0.1:1/metrics',
      run: s.p.runner.run,
      rolloutRunning: rolloutRunning(s.session),
    });
    await deps.monitor.prime();
    expect(figures(await deps.monitor.tick())).toEqual({ stack: 0, stable: null, canary: null });
    await round(s);
    const second = await deps.monitor.tick();
    expect(figures(second)).toEqual({ stack: 34, stable: 30, canary: 4 });
    await round(s);
    await round(s);
    const third = await deps.monitor.tick();
    expect(figures(third)).toEqual({ stack: 102, stable: 90, canary: 12 });
    expect(third.payload.replicas).toHaveLength(4);
    expect(deps.guardTick(third).error).toBeUndefined();
  }, 90_000);

  it("compose: unchanged, each track through nginx's per-track location during a rollout, nothing outside one, no replica scraper", async () => {
    const made = await scriptedProject({ 'opa.url': suite.opa.url, canary: CANARY.canary });
    p = made;
    const session = await Session.open(made.manifest, made.operator, 'policy_check');
    let on = false;
    const client = new OpaClient({ url: suite.opa.url, timeoutMs: 2000 });
    clients.push(client);
    const w = sessionStatusWiring(session, { actor: 'dana@example.com', client, run: made.runner.run, rolloutRunning: () => on });
    expect(w.scrapeReplicas).toBeUndefined();
    expect(w.scrapeTrackReplicas).toBeUndefined();
    expect(await w.trackMetricsUrls?.()).toBeUndefined();
    on = true;
    const nginx = `http://127.0.0.1:${made.nginx.port}/__swiftdeploy/tracks`;
    expect(await w.trackMetricsUrls?.()).toEqual({ stable: `${nginx}/stable/metrics`, canary: `${nginx}/canary/metrics` });
    expect(made.runner.calls).toEqual([]);
  }, 30_000);
});
