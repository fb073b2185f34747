/**
 * The Docker Swarm engine (`runtime: swarm`): the stack (app replicas, nginx) from docker-stack.yml
 * through `docker stack deploy`, and Swarm's own health-gated rolling update (start-first, failure
 * action rollback) for every change. After each deploy it waits for convergence and reads back how
 * the update ended; anything but `completed` is an OperationFailed naming Swarm's outcome.
 *
 * The OPA sidecar is not a swarm service: a published swarm port listens on every interface of
 * every node (the routing mesh). It runs as the compose path runs it, from docker-compose.yml,
 * published on 127.0.0.1 of the manager only; so `opa` and the app's image build go to a
 * ComposeEngine on the same runner.
 */
import { OperationFailed } from '../errors.js';
import { NGINX_CONF_IN_CONTAINER } from '../render/context.js';
import { pollUntil } from '../util/poll-until.js';
import type { ComposeEngine } from './compose-engine.js';
import { dockerImageId } from './docker-argv.js';
import { dockerDataRoot } from './docker-info.js';
import type { Engine, EngineProject, TrackSnapshots } from './engine.js';
import { TrackAggregates, type Track } from '../metrics/replicas.js';
import type { Snapshot } from '../metrics/types.js';
import { trackReplicaScraper } from './replica-scraper.js';
import { parseJsonListing, type ServiceContainer } from './ps.js';
import { lastLines, runArgvChecked, type RunOptions, type Runner } from './run.js';
import {
  execNginx,
  localTaskContainers,
  serviceInspect,
  serviceLogs,
  serviceRm,
  serviceTaskIds,
  stackDeploy,
  stackNetworks,
  stackRm,
  stackService,
  stackServiceList,
  stackTaskIds,
  stackTasks,
  taskStates,
  swarmNodeState,
} from './swarm-argv.js';
import { judgeConvergence, parseServiceInspect, parseServiceList, type Convergence, type InspectedService } from './swarm-state.js';

export interface SwarmEngineOptions {
  /** How long `up` waits for the stack to converge. */
  convergeTimeoutMs?: number;
  /** Pause between two looks at the stack while waiting. */
  pollIntervalMs?: number;
  /**
   * nginx bind-mounts the project's nginx/ (a manifest with `canary:`, publish: host; see
   * docker-stack.yml.hbs): a changed nginx.conf is reloaded in place. Otherwise nginx.conf is a
   * hash-named docker config and a changed one is a stack deploy that replaces nginx.
   */
  nginxMounted?: boolean;
  /** The app's port inside its containers (services.port), for the per-replica track scrapes. */
  appPort?: number;
  /** services.health_timeout_seconds: how long starting app-canary alone may take to converge. */
  healthTimeoutMs?: number;
}

/** Task states after which a task runs nothing any more (swarmkit's TaskState). */
const TASK_FINAL = new Set(['complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned']);

/** Non-empty trimmed lines (task ids). */
const idLines = (text: string): string[] => text.split('\n').map((l) => l.trim()).filter(Boolean);

// The stack services whose tasks have a healthcheck: Swarm keeps such a task `Starting` until it
// passes, so `Running` means healthy.
const HEALTHCHECKED = new Set(['app', 'app-canary']);

/** The compose engine for the sidecar and the build, and the stack file; connected by lifecycle/engine.ts. */
export async function connectSwarmEngine(project: EngineProject, compose: ComposeEngine, run: Runner, options: SwarmEngineOptions = {}): Promise<SwarmEngine> {
  const state = await run(swarmNodeState(), { timeoutMs: 15_000 });
  const [node, control] = state.stdout.trim().split(' ');
  if (state.exitCode !== 0 || node !== 'active' || control !== 'true') {
    throw new OperationFailed(
      `runtime: swarm needs this Docker engine to be a swarm manager (it says: ${state.stdout.trim() || state.stderr.trim() || 'nothing'}); ` +
        'run `docker swarm init` (docs/swarm.md), or set runtime: compose',
    );
  }
  return new SwarmEngine(project, compose, run, options);
}

export class SwarmEngine implements Engine {
  readonly version: string;
  private readonly stack: string;
  private readonly stackFile: string;
  private readonly env: Record<string, string>;

  constructor(
    private readonly project: EngineProject,
    private readonly compose: ComposeEngine,
    private readonly run: Runner,
    private readonly options: SwarmEngineOptions = {},
  ) {
    if (project.stackFile === undefined) throw new OperationFailed('runtime: swarm needs the generated docker-stack.yml (run `swiftdeploy init`)');
    this.version = compose.version;
    this.stack = project.projectName;
    this.stackFile = project.stackFile;
    // `docker stack deploy` substitutes ${SWIFTDEPLOY_CHAOS_TOKEN} from its environment, as compose does.
    this.env = { SWIFTDEPLOY_CHAOS_TOKEN: project.chaosToken };
  }

  private runOptions(extra: RunOptions = {}): RunOptions {
    const { onLine } = this.project;
    return { cwd: this.project.projectDir, env: this.env, ...(onLine ? { onLine: (line: string) => onLine(line) } : {}), ...extra };
  }

  /**
   * The OPA sidecar through compose (loopback only); anything else is the stack. app-canary alone
   * (a rollout's start) gets the app's health timeout, as compose's canary does, not the stack's
   * convergence budget: Swarm restarts a task that never gets healthy for ever, so only the wait
   * can end it, and its failure carries the canary's last log lines.
   */
  async startServices(services: readonly string[]): Promise<void> {
    const local = services.filter((s) => s === 'opa');
    if (local.length > 0) await this.compose.startServices(local);
    if (local.length === services.length) return;
    const canaryOnly = services.every((s) => s === 'opa' || s === 'app-canary');
    if (!canaryOnly || this.options.healthTimeoutMs === undefined) return this.up();
    try {
      await this.deployAndWait(Math.min(this.options.healthTimeoutMs, this.options.convergeTimeoutMs ?? 300_000));
    } catch (err) {
      const logs = await this.logs(['app-canary'], 20).catch((e: unknown) => `(no logs: ${(e as Error).message})`);
      throw new OperationFailed(`${stackService(this.stack, 'app-canary')} did not start: ${(err as Error).message}. Last log lines:\n${logs}`);
    }
  }

  async up(): Promise<void> {
    await this.deployAndWait(this.options.convergeTimeoutMs ?? 300_000);
  }

  /**
   * A rolling update of the app through a re-deploy of the stack: Swarm starts each new task beside
   * an old one (start-first), waits for its healthcheck, then stops the old one; a new task that does
   * not get healthy fails the update and Swarm rolls it back (failure_action: rollback). The wait
   * covers the update and a rollback after it.
   */
  async replaceApp(healthTimeoutMs: number): Promise<void> {
    await this.deployAndWait(Math.max(healthTimeoutMs, this.options.convergeTimeoutMs ?? 300_000));
  }

  /**
   * Bind-mounted (nginxMounted): `nginx -t`, then `nginx -s reload`, in nginx's task container on
   * this node (found by its swarm service label), as compose's reload; a broken file is never
   * loaded. Otherwise nginx.conf is a config named by its hash: a changed file is a new config, and
   * a deploy replaces nginx.
   */
  async reloadNginx(): Promise<void> {
    if (!this.options.nginxMounted) {
      await this.up();
      return;
    }
    const r = await runArgvChecked(localTaskContainers(this.stack, 'nginx'), { timeoutMs: 30_000 }, this.run);
    const containers = r.stdout.split('\n').map((l) => l.trim().split(' ')[0] ?? '').filter(Boolean);
    if (containers.length === 0) {
      throw new OperationFailed(
        `no ${stackService(this.stack, 'nginx')} container runs on this node: nginx (publish: host) runs on a manager, and swiftdeploy must run on that one to reload it (docs/swarm.md)`,
      );
    }
    // `nginx -s reload` exits 0 even when the new config is broken: test it first, in every one.
    for (const c of containers) await runArgvChecked(execNginx(c, NGINX_CONF_IN_CONTAINER, ['-t']), { timeoutMs: 30_000 }, this.run);
    for (const c of containers) await runArgvChecked(execNginx(c, NGINX_CONF_IN_CONTAINER, ['-s', 'reload']), { timeoutMs: 30_000 }, this.run);
  }

  /** The stack's services as Swarm reports them now (empty when the stack does not exist). */
  private async inspectStack(): Promise<InspectedService[]> {
    const list = await runArgvChecked(stackServiceList(this.stack), { timeoutMs: 30_000 }, this.run);
    const names = [...parseServiceList(list.stdout).keys()];
    if (names.length === 0) return [];
    const r = await this.run(serviceInspect(names), { timeoutMs: 30_000 });
    // A service removed between the two commands (a --prune): look again next time.
    if (r.exitCode !== 0) return [];
    return parseServiceInspect(r.stdout);
  }

  private async deployAndWait(timeoutMs: number): Promise<void> {
    const before = await this.inspectStack();
    await runArgvChecked(stackDeploy(this.stackFile, this.stack), this.runOptions(), this.run);
    const after = await this.inspectStack();
    let shown = '';
    const wait = await pollUntil<Convergence>({
      probe: async () => {
        const [list, now] = await Promise.all([runArgvChecked(stackServiceList(this.stack), { timeoutMs: 30_000 }, this.run), this.inspectStack()]);
        return judgeConvergence(before, after, now, parseServiceList(list.stdout));
      },
      onObservation: (c) => {
        if (c.detail !== shown) this.project.onLine?.(`swarm: ${c.detail}`);
        shown = c.detail;
      },
      until: (c) => c.state !== 'converging',
      intervalMs: this.options.pollIntervalMs ?? 1000,
      timeoutMs,
    });
    const last = wait.last;
    if (last?.state === 'failed') {
      const service = last.service.slice(this.stack.length + 1);
      const what = last.outcome === 'rollback_completed' ? 'Swarm rolled the update back' : `the update stopped (${last.outcome})`;
      const logs = await this.logs([service], 10);
      throw new OperationFailed(
        `${what}: ${service}: ${last.message || 'no message'}` +
          (last.outcome === 'rollback_completed' ? '; the previous tasks keep serving' : '; run `swiftdeploy rollback` or `docker service rollback`') +
          `. Last ${service} log lines:\n${logs}`,
      );
    }
    if (wait.outcome !== 'done') {
      throw new OperationFailed(`the stack did not converge within ${Math.round(timeoutMs / 1000)}s (${last?.detail ?? 'no answer from Swarm'})`);
    }
  }

  async buildApp(): Promise<void> {
    // `docker stack deploy` ignores build: the image is built here with compose (docs/swarm.md for other nodes).
    await this.compose.buildApp();
  }

  async imageExists(image: string): Promise<boolean> {
    return (await this.run(dockerImageId(image), { timeoutMs: 15_000 })).exitCode === 0;
  }

  /** The stack's tasks meant to run (service "app", state from CurrentState), then the local sidecar's container. */
  async services(): Promise<ServiceContainer[]> {
    const r = await this.run(stackTasks(this.stack), { timeoutMs: 30_000 });
    const tasks: ServiceContainer[] =
      r.exitCode !== 0
        ? []
        : parseJsonListing(r.stdout, 'docker stack ps').map((t) => {
            const name = String(t.Name ?? '');
            const service = name.slice(this.stack.length + 1).replace(/\.\d+$/, '');
            const status = String(t.CurrentState ?? '');
            const state = (status.split(' ')[0] ?? '').toLowerCase();
            const health = !HEALTHCHECKED.has(service) ? {} : state === 'running' ? { health: 'healthy' as const } : state === 'starting' ? { health: 'starting' as const } : {};
            return { id: String(t.ID ?? ''), service, state, status, image: String(t.Image ?? ''), ...health };
          });
    return [...tasks, ...(await this.compose.services())];
  }

  async logs(services: readonly string[], tail: number): Promise<string> {
    const parts = await Promise.all(
      services.map(async (s) => {
        if (s === 'opa') return this.compose.logs(['opa'], tail);
        const r = await this.run(serviceLogs(this.stack, s, tail), { timeoutMs: 30_000 });
        return lastLines(`${r.stdout}\n${r.stderr}`, tail);
      }),
    );
    return parts.join('\n');
  }

  /**
   * app-canary after a rollout: `docker service rm` of that service alone, then a wait until each of
   * its tasks has stopped (its stop grace period) or is gone. Not a stack deploy: that would also
   * apply to the stable app whatever the manifest says now, ungated, as compose's removal does not.
   * The stack file no longer lists it, so the next deploy does not bring it back.
   */
  async removeService(service: string): Promise<void> {
    if (service === 'opa') return this.compose.removeService(service);
    const name = stackService(this.stack, service);
    // The task ids first: once the service is gone its tasks are found by id only.
    const listed = await this.run(serviceTaskIds(this.stack, service), { timeoutMs: 30_000 });
    const gone = (text: string) => /no such service|not found/i.test(text);
    if (listed.exitCode !== 0 && !gone(listed.stderr)) throw new OperationFailed(`docker service ps ${name} failed: ${lastLines(listed.stderr || listed.stdout, 5)}`);
    const rm = await this.run(serviceRm(this.stack, service), { timeoutMs: 60_000 });
    // Already gone (an abort retried after a crash): only the wait is left.
    if (rm.exitCode !== 0 && !gone(rm.stderr)) throw new OperationFailed(`docker service rm ${name} failed: ${lastLines(rm.stderr || rm.stdout, 5)}`);
    await this.waitTasksStopped(listed.exitCode === 0 ? idLines(listed.stdout) : [], name);
  }

  /**
   * `docker stack rm` returns before the tasks have stopped and the overlay network is gone; wait for
   * both (the tasks by id: see `taskStates`), then remove the local sidecar. The log volume is kept,
   * as with compose.
   */
  async down(): Promise<void> {
    const listed = await this.run(stackTaskIds(this.stack), { timeoutMs: 30_000 });
    const ids = listed.exitCode === 0 ? idLines(listed.stdout) : [];
    if (listed.exitCode !== 0 && !/nothing found/i.test(`${listed.stdout}${listed.stderr}`)) {
      throw new OperationFailed(`docker stack ps ${this.stack} failed: ${lastLines(listed.stderr || listed.stdout, 5)}`);
    }
    const rm = await this.run(stackRm(this.stack), this.runOptions());
    if (rm.exitCode !== 0 && !/nothing found/i.test(`${rm.stdout}${rm.stderr}`)) {
      throw new OperationFailed(`docker stack rm ${this.stack} failed: ${rm.stderr.trim()}`);
    }
    await this.waitTasksStopped(ids, this.stack);
    const wait = await pollUntil({
      probe: async () => (await this.run(stackNetworks(this.stack))).stdout.split('\n').filter(Boolean).length,
      until: (left) => left === 0,
      onObservation: (left) => {
        if (left > 0) this.project.onLine?.(`swarm: waiting for ${left} network(s) of ${this.stack} to go`);
      },
      intervalMs: this.options.pollIntervalMs ?? 1000,
      timeoutMs: 120_000,
    });
    if (wait.outcome !== 'done') throw new OperationFailed(`stack ${this.stack} was removed but ${wait.last ?? '?'} network(s) remain after 120s`);
    await this.compose.down();
  }

  /** Until every one of `ids` is gone or in a final state; a look that fails is taken again. */
  private async waitTasksStopped(ids: readonly string[], what: string): Promise<void> {
    if (ids.length === 0) return;
    const wait = await pollUntil<number | string>({
      probe: async () => {
        const r = await this.run(taskStates(ids), { timeoutMs: 30_000 });
        // A task the manager has deleted is "not found" (exit 1): gone. Any other error is a failed look.
        const other = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/not found|no such/i.test(l));
        if (r.exitCode !== 0 && other.length > 0) return `docker inspect failed: ${lastLines(other.join('\n'), 2)}`;
        return r.stdout.split('\n').filter((l) => {
          const state = l.trim().split(' ')[1];
          return state !== undefined && !TASK_FINAL.has(state.toLowerCase());
        }).length;
      },
      until: (left) => left === 0,
      onObservation: (left) => {
        if (left !== 0) this.project.onLine?.(typeof left === 'number' ? `swarm: waiting for ${left} task(s) of ${what} to stop` : `swarm: ${left}`);
      },
      intervalMs: this.options.pollIntervalMs ?? 1000,
      timeoutMs: 120_000,
    });
    if (wait.outcome !== 'done') throw new OperationFailed(`${what} was removed but its tasks had not all stopped after 120s (last look: ${wait.last ?? 'none'})`);
  }

  dataRoot(): Promise<string | null> {
    return dockerDataRoot(this.run);
  }

  /**
   * Each track's replicas scraped on their own (docker exec, as `status` does: nginx's per-track
   * location reaches one of the stable's tasks per request, and alternating tasks' counters would
   * read as resets) and summed by increases per task (metrics/replicas.ts): a cumulative snapshot
   * per track that never goes down. A track with no replica scraped fails the step's measurement.
   * Tasks on other nodes are not reached (docs/swarm.md, multi-node limit).
   */
  trackScraper(windowSeconds: number): () => Promise<TrackSnapshots> {
    const port = this.options.appPort;
    if (port === undefined) throw new OperationFailed('the swarm engine was not given the app port (services.port) to scrape the tracks');
    const scrape = trackReplicaScraper({ stack: this.stack, port, run: this.run });
    const sums = new TrackAggregates(windowSeconds);
    return async () => {
      const summed = sums.add(await scrape());
      const one = (track: Track): Snapshot => {
        const { service, snapshot, why } = summed[track];
        if (snapshot === null) throw new OperationFailed(`no replica of ${service} could be scraped (${why ?? 'no task'})`);
        return snapshot;
      };
      return { stable: one('stable'), canary: one('canary') };
    };
  }
}
