/**
 * Every app replica's own /metrics on `runtime: swarm` (nginx reaches one task per request, so a
 * scrape through it measures one replica). The app service's tasks are listed from the manager
 * (`docker service ps`, every node), matched to this node's containers by their task-id label, and
 * each running one is scraped from inside its container with `docker exec ... node -e` on
 * 127.0.0.1: nothing is published, no proxy route is opened, no container is started.
 *
 * The limit: `docker exec` reaches only the engine's own containers, so a task on another node is
 * listed with its node and "not scraped"; the aggregate then covers this node's replicas only.
 */
import { RuntimeError } from '../errors.js';
import type { ReplicaScrape, Track, TrackScrape } from '../metrics/replicas.js';
import { parsePrometheusText } from '../metrics/parse.js';
import { parseJsonListing } from './ps.js';
import { lastLines, runArgv, runArgvChecked, type Runner } from './run.js';
import { execScrapeMetrics, localTaskContainers, serviceTasks, stackService } from './swarm-argv.js';

export interface ReplicaScraperOptions {
  /** The stack (project.name). */
  stack: string;
  /** The app's port inside its container (services.port). */
  port: number;
  /** The stack service whose tasks are scraped: `app` (default), or `app-canary` during a rollout. */
  service?: string;
  run?: Runner;
  /** Budget for one replica's fetch inside its container. Default 2,000 ms (the compose scrape's). */
  timeoutMs?: number;
  /** Clock for each snapshot's `at`. */
  now?: () => number;
}

/** A task as `docker service ps` lists it. */
export interface ListedTask {
  id: string;
  name: string;
  node: string;
  /** "Running 3 minutes ago", "Starting 2 seconds ago", ... */
  state: string;
}

/** What docker exec and node's start-up may add to the fetch budget. */
const EXEC_OVERHEAD_MS = 8_000;

export function parseServiceTasks(text: string): ListedTask[] {
  return parseJsonListing(text, 'docker service ps').map((row) => {
    const id = String(row.ID ?? '');
    if (id === '') throw new RuntimeError(`docker service ps: a row without ID: ${JSON.stringify(row).slice(0, 200)}`);
    return { id, name: String(row.Name ?? ''), node: String(row.Node ?? ''), state: String(row.CurrentState ?? '') };
  });
}

/** `<container id> <task id>` lines -> task id -> container id. */
export function parseTaskContainers(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [container, task] = line.trim().split(/\s+/);
    if (container && task) out.set(task, container);
  }
  return out;
}

/** Lists the service's tasks and scrapes each one it can reach; throws only when the tasks cannot be listed. */
export function replicaScraper(o: ReplicaScraperOptions): () => Promise<ReplicaScrape[]> {
  const run = o.run ?? runArgv;
  const now = o.now ?? Date.now;
  const timeoutMs = o.timeoutMs ?? 2_000;
  const service = o.service ?? 'app';
  return async () => {
    const [listed, local] = await Promise.all([
      runArgvChecked(serviceTasks(o.stack, service), { timeoutMs: 15_000 }, run),
      runArgvChecked(localTaskContainers(o.stack, service), { timeoutMs: 15_000 }, run),
    ]);
    const containers = parseTaskContainers(local.stdout);
    return Promise.all(
      parseServiceTasks(listed.stdout).map(async (t): Promise<ReplicaScrape> => {
        const who = { task: t.id, name: t.name, ...(t.node !== '' ? { node: t.node } : {}) };
        // A task that is not Running yet has not passed its healthcheck: it serves no traffic.
        if (!/^running\b/i.test(t.state)) return { ...who, snapshot: null, error: `not running: ${t.state || 'no state'}`, pending: true };
        const container = containers.get(t.id);
        if (container === undefined) return { ...who, snapshot: null, error: `not scraped: on node ${t.node || '?'}, and docker exec reaches this node's containers only` };
        try {
          const r = await run(execScrapeMetrics(container, o.port, timeoutMs), { timeoutMs: timeoutMs + EXEC_OVERHEAD_MS });
          if (r.exitCode !== 0) return { ...who, snapshot: null, error: `cannot scrape: ${lastLines(r.stderr || r.stdout, 1) || `exit ${r.exitCode}`}` };
          // `at` when the body has arrived, as the compose scrape takes it.
          const at = now();
          return { ...who, snapshot: { at, samples: parsePrometheusText(r.stdout) } };
        } catch (err) {
          return { ...who, snapshot: null, error: `cannot scrape: ${err instanceof Error ? err.message : String(err)}` };
        }
      }),
    );
  };
}

/** The stack service each track's tasks run as during a progressive rollout (docker-stack.yml.hbs). */
export const TRACK_SERVICES: Readonly<Record<Track, string>> = { stable: 'app', canary: 'app-canary' };

/**
 * Both tracks' tasks during a rollout, each service listed and scraped on its own (summed per track by
 * TrackAggregates). Never throws: a track whose tasks cannot be listed (app-canary before its first
 * deploy has converged) says why.
 */
export function trackReplicaScraper(o: Omit<ReplicaScraperOptions, 'service'>): () => Promise<Record<Track, TrackScrape>> {
  const one = (track: Track): (() => Promise<TrackScrape>) => {
    const service = stackService(o.stack, TRACK_SERVICES[track]);
    const scrape = replicaScraper({ ...o, service: TRACK_SERVICES[track] });
    return () =>
      scrape().then(
        (scrapes): TrackScrape => ({ service, scrapes }),
        (err: unknown): TrackScrape => ({ service, scrapes: null, error: err instanceof Error ? err.message : String(err) }),
      );
  };
  const stable = one('stable');
  const canary = one('canary');
  return async () => {
    const [s, c] = await Promise.all([stable(), canary()]);
    return { stable: s, canary: c };
  };
}
