/**
 * A scripted single-node Swarm behind a RecordingRunner, as ComposeHost is for compose: it reads the
 * real stack file `docker stack deploy` is given, keeps each service's spec (its section of the
 * file), and answers `service ls` / `service inspect` / `stack ps` as Swarm 20.10 does. Time moves
 * one step per `docker service ls`: a new service gains one running task per step; a changed
 * service goes `updating` for `updateSteps` steps and then ends as `nextOutcome` says (on
 * `rollback_completed` its spec returns to the previous one, as Swarm's rollback does).
 * nginx's task container on this node answers `docker ps` by its service label, and `docker exec
 * <it> nginx -c .. -t | -s reload` reads the project's real nginx/nginx.conf (a bind mount): each
 * reload records the canary weight the file then says (`reloads`). `docker service ps`, `docker ps`
 * and `docker exec <task> node -e` answer the replica scraper: each task's /metrics is a real app
 * server's (`metricsUrls`), fetched by the real script.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { runArgv } from '../../src/runtime/run.js';
import type { RecordingRunner } from './recording-runner.js';

export type Outcome = 'completed' | 'rollback_completed' | 'paused';

interface HostService {
  name: string;
  spec: string;
  previous?: string;
  running: number;
  desired: number;
  update?: { State: string; StartedAt: string; Message: string };
  /** Steps left until the update in progress ends. */
  updating: number;
  /** The MODE the running tasks have (app only). */
  mode?: string;
  announced?: boolean;
}

export class SwarmHost {
  readonly services = new Map<string, HostService>();
  nodeState = 'active true';
  nextOutcome: Outcome = 'completed';
  updateSteps = 4;
  /** Tasks of removed services still stopping: id -> looks (`docker inspect --type task`) left. */
  private readonly stoppingTasks = new Map<string, number>();
  /** Polls after `stack rm` until the network is gone. */
  private removal: { networks: number } | undefined;
  private networks = 0;
  private clock = 0;
  /** nginx's container id on this node (a `docker ps` answer while the nginx service runs). */
  readonly nginxContainer = '0123456789abcdef0123';
  /** The canary weight nginx.conf said at each in-place reload (0-100), or null when it had no rollout. */
  readonly reloads: Array<number | null> = [];
  /** Services (`<stack>_app-canary`) whose tasks never get healthy, so never Running. */
  readonly neverHealthy = new Set<string>();
  /** `nginx -t` exits 1 (a broken nginx.conf) while set. */
  nginxTestFails = false;
  /**
   * Per stack service (`app`, `app-canary`), the base URL of a real app server whose /metrics its
   * tasks answer, or one URL per task slot (slot n answers the (n-1)th, round robin).
   */
  metricsUrls: Record<string, string | readonly string[]> = {};
  private projectDir = '';
  /** Called whenever the mode the app's tasks serve changes (for an nginx stand-in). */
  onMode: (mode: string | null) => void | Promise<void> = () => undefined;

  constructor(
    r: RecordingRunner,
    private readonly stack: string,
  ) {
    r.on(['docker', 'info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'], () => ({ stdout: `${this.nodeState}\n` }));
    r.on(['docker', 'stack', 'deploy'], (argv) => this.deploy(argv[argv.indexOf('--compose-file') + 1]!));
    r.on(['docker', 'service', 'ls'], async () => {
      await this.step();
      return { stdout: [...this.services.values()].map((s) => JSON.stringify({ Name: s.name, Replicas: `${s.running}/${s.desired}` })).join('\n') };
    });
    r.on(['docker', 'service', 'inspect'], (argv) => {
      const names = argv.slice(3);
      const found = names.map((n) => this.services.get(n));
      if (found.some((s) => s === undefined)) return { exitCode: 1, stderr: 'Error: no such service' };
      return { stdout: JSON.stringify(found.map((s) => ({ Spec: { Name: s!.name, TaskTemplate: { Spec: s!.spec } }, ...(s!.update ? { UpdateStatus: s!.update } : {}) }))) };
    });
    // The tasks meant to run (`desired-state=running`): a removed service's stopping tasks are not among them.
    r.on(['docker', 'stack', 'ps'], () => {
      const tasks = [...this.services.keys()].flatMap((name) => this.tasksOf(name));
      return { stdout: tasks.map((t) => JSON.stringify({ ID: t.id, Name: t.name, Image: 'img', CurrentState: 'Running 3 seconds ago', DesiredState: 'Running' })).join('\n') };
    });
    r.on(['docker', 'stack', 'ps', '--quiet', '--no-trunc'], () => {
      const ids = [...this.services.keys()].flatMap((name) => this.tasksOf(name).map((t) => t.id));
      return ids.length > 0 ? { stdout: `${ids.join('\n')}\n` } : { exitCode: 1, stderr: `nothing found in stack: ${stack}` };
    });
    // A task by id: running while its service exists or while it stops (its looks left), then deleted ("not found").
    r.on(['docker', 'inspect', '--type', 'task'], (argv) => {
      const ids = argv.slice(argv.indexOf('--format') + 2);
      const live = new Set([...this.services.keys()].flatMap((name) => this.tasksOf(name).map((t) => t.id)));
      const out: string[] = [];
      const missing: string[] = [];
      for (const id of ids) {
        const left = this.stoppingTasks.get(id);
        if (live.has(id)) out.push(`${id} running`);
        else if (left !== undefined && left > 0) {
          out.push(`${id} running`);
          this.stoppingTasks.set(id, left - 1);
        } else if (left !== undefined) {
          out.push(`${id} shutdown`);
          this.stoppingTasks.delete(id);
        } else missing.push(`Error response from daemon: task ${id} not found`);
      }
      return { exitCode: missing.length > 0 ? 1 : 0, stdout: out.map((l) => `${l}\n`).join(''), stderr: missing.join('\n') };
    });
    // One service removed (app-canary after a rollout): gone from the listing at once, its tasks run one more look.
    r.on(['docker', 'service', 'rm'], (argv) => {
      const name = argv.at(-1)!;
      if (!this.services.has(name)) return { exitCode: 1, stderr: `Error: No such service: ${name}` };
      for (const t of this.tasksOf(name)) this.stoppingTasks.set(t.id, 1);
      this.services.delete(name);
      return { stdout: `${name}\n` };
    });
    // Every service gone at once; the tasks run two more looks, the network three.
    r.on(['docker', 'stack', 'rm'], () => {
      const had = this.services.size > 0 || this.networks > 0;
      for (const name of this.services.keys()) for (const t of this.tasksOf(name)) this.stoppingTasks.set(t.id, 2);
      this.services.clear();
      this.removal = { networks: 3 };
      return had ? { stdout: `Removing service ${stack}_app\n` } : { stdout: `Nothing found in stack: ${stack}\n` };
    });
    r.on(['docker', 'network', 'ls', '--quiet', '--filter'], () => {
      if (this.removal) {
        if (this.removal.networks > 0) this.removal.networks--;
        if (this.removal.networks === 0) this.networks = 0;
      }
      return { stdout: this.networks > 0 ? 'n1\n' : '' };
    });
    // A service's tasks (every one on this node), and its containers here, as the replica scraper lists them.
    // A service the stack does not have is an error, as docker's (`app-canary` outside a rollout).
    r.on(['docker', 'service', 'ps'], (argv) => {
      const name = argv.at(-1)!;
      if (!this.services.has(name)) return { exitCode: 1, stderr: `no such service: ${name}` };
      return {
        stdout: this.tasksOf(name)
          .map((t) => JSON.stringify({ ID: t.id, Name: t.name, Image: 'img', Node: 'node1', DesiredState: 'Running', CurrentState: 'Running 3 seconds ago' }))
          .join('\n'),
      };
    });
    r.on(['docker', 'ps', '--no-trunc', '--filter'], (argv) => {
      const service = argv[argv.indexOf('--filter') + 1]!.replace('label=com.docker.swarm.service.name=', '');
      if (service === `${stack}_nginx`) {
        const nginx = this.services.get(service);
        return { stdout: nginx && nginx.running > 0 ? `${this.nginxContainer} task-nginx-1\n` : '' };
      }
      return { stdout: this.tasksOf(service).map((t) => `${t.container} ${t.id}`).join('\n') };
    });
    // `docker exec <app task> node -e <script> <port> <ms>`: the real script with the real node against
    // the server that plays the task's service (metricsUrls), its port rewritten to that server's.
    r.on(['docker', 'exec'], async (argv) => {
      const task = [...this.services.keys()].flatMap((n) => this.tasksOf(n)).find((t) => t.container === argv[2]);
      const urls = task ? this.metricsUrls[task.service] : undefined;
      const url = task && Array.isArray(urls) ? urls[(task.slot - 1) % urls.length] : (urls as string | undefined);
      if (!task || url === undefined) return { exitCode: 1, stderr: `Error: No such container: ${argv[2]}` };
      const inner = [...argv.slice(3)];
      inner[inner.length - 2] = new URL(url).port;
      const res = await runArgv(inner, { timeoutMs: 10_000 });
      return { exitCode: res.exitCode, stdout: res.stdout, stderr: res.stderr };
    });
    r.on(['docker', 'exec', this.nginxContainer, 'nginx'], (argv) => {
      if (argv.includes('-t')) return this.nginxTestFails ? { exitCode: 1, stderr: 'nginx: [emerg] unexpected "}" in nginx.conf' } : {};
      if (argv.includes('reload')) this.reloads.push(this.weightInConf());
      return {};
    });
    r.on(['docker', 'service', 'logs'], (argv) => ({ stdout: `${argv.at(-1)}: listening on 3000\n` }));
    // (after the JSON listing's rule: the more specific argv is matched first)
    r.on(['docker', 'service', 'ps', '--quiet', '--no-trunc'], (argv) => {
      const name = argv.at(-1)!;
      if (!this.services.has(name)) return { exitCode: 1, stderr: `no such service: ${name}` };
      return { stdout: this.tasksOf(name).map((t) => `${t.id}\n`).join('') };
    });
  }

  /** A running service's tasks: `<service>.<slot>`, a container id each (hex, as docker's). */
  private tasksOf(name: string): Array<{ id: string; name: string; service: string; slot: number; container: string }> {
    const s = this.services.get(name);
    if (!s) return [];
    const service = name.slice(this.stack.length + 1);
    return Array.from({ length: s.running }, (_, i) => ({
      id: `${name}-${i + 1}`,
      name: `${name}.${i + 1}`,
      service,
      slot: i + 1,
      container: createHash('sha256').update(`${name}-${i + 1}`).digest('hex').slice(0, 16),
    }));
  }

  /** The running app's MODE, or null when nothing runs. */
  mode(): string | null {
    return this.services.get(`${this.stack}_app`)?.mode ?? null;
  }

  /** The weight the project's nginx.conf routes to the canary (see templates/nginx.conf.hbs). */
  private weightInConf(): number | null {
    const conf = readFileSync(path.join(this.projectDir, 'nginx', 'nginx.conf'), 'utf8');
    const m = /^\s*# Progressive rollout: (\d+)% of requests/m.exec(conf);
    return m ? Number(m[1]) : null;
  }

  private async deploy(file: string) {
    this.projectDir = path.dirname(file);
    const doc = YAML.parse(readFileSync(file, 'utf8')) as { services: Record<string, { deploy?: { replicas?: number }; environment?: Record<string, string> }> };
    this.removal = undefined;
    this.networks = 1;
    for (const [key, section] of Object.entries(doc.services)) {
      const name = `${this.stack}_${key}`;
      const spec = JSON.stringify(section);
      const s = this.services.get(name);
      const desired = section.deploy?.replicas ?? 1;
      const mode = section.environment?.MODE;
      if (!s) {
        this.services.set(name, { name, spec, running: 0, desired, updating: 0, ...(mode ? { mode } : {}) });
        continue;
      }
      s.desired = desired;
      if (s.spec !== spec) {
        s.previous = s.spec;
        s.spec = spec;
        s.updating = this.updateSteps;
        s.update = { State: 'updating', StartedAt: `t${++this.clock}`, Message: 'update in progress' };
        (s as HostService & { nextMode?: string }).nextMode = mode;
      }
    }
    for (const name of [...this.services.keys()]) {
      if (!Object.keys(doc.services).some((k) => `${this.stack}_${k}` === name)) this.services.delete(name);
    }
    return { stdout: `Updating service ${this.stack}_app\n` };
  }

  private async step(): Promise<void> {
    for (const s of this.services.values()) {
      // A task that never passes its healthcheck: Swarm restarts it for ever, it is never Running.
      if (this.neverHealthy.has(s.name)) continue;
      if (s.running < s.desired) s.running++;
      if (s.running > s.desired) s.running = s.desired;
      if (s.running > 0 && s.mode && !s.announced) {
        s.announced = true;
        await this.onMode(s.mode);
      }
      if (s.update?.State !== 'updating') continue;
      if (--s.updating > 0) continue;
      const outcome = this.nextOutcome;
      if (outcome === 'completed') {
        s.update = { ...s.update, State: 'completed', Message: 'update completed' };
        const next = (s as HostService & { nextMode?: string }).nextMode;
        if (next) {
          s.mode = next;
          await this.onMode(next);
        }
      } else if (outcome === 'rollback_completed') {
        s.update = { ...s.update, State: 'rollback_completed', Message: 'rollback completed: update rolled back due to failure or early termination of task x' };
        s.spec = s.previous ?? s.spec;
      } else {
        s.update = { ...s.update, State: 'paused', Message: 'update paused due to failure or early termination of task x' };
      }
    }
  }
}
