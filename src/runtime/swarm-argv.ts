/**
 * Every Docker Swarm command swiftdeploy runs, as data (see compose-argv.ts for why builders are
 * pure). A stack is named after `project.name`; Swarm prefixes its services, networks and configs
 * with `<stack>_` and labels them `com.docker.stack.namespace=<stack>`.
 */
import { UsageError } from '../errors.js';
import { assertComposeProjectName } from './project-name.js';

export const LABEL_STACK = 'com.docker.stack.namespace';

// Service names reach argv positionally; one starting with "-" would be read as a flag.
const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

/** The swarm service of a stack's service: `<stack>_<service>`. */
export function stackService(stack: string, service: string): string {
  if (!SERVICE_NAME.test(service)) throw new UsageError(`not a stack service name: ${JSON.stringify(service)}`);
  return `${assertComposeProjectName(stack)}_${service}`;
}

/** Whether this engine is in a swarm, and a manager: "active true" on a manager. */
export function swarmNodeState(): string[] {
  return ['docker', 'info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'];
}

/**
 * Create or update the stack from the stack file; services no longer in it are removed (`--prune`).
 * `--resolve-image never`: images are local (there may be no registry), so Swarm must not try to
 * pin them to a registry digest.
 */
export function stackDeploy(stackFile: string, stack: string): string[] {
  return ['docker', 'stack', 'deploy', '--compose-file', stackFile, '--prune', '--resolve-image', 'never', assertComposeProjectName(stack)];
}

/** Remove the stack's services, networks, configs and secrets (asynchronously: tasks and the network go after). */
export function stackRm(stack: string): string[] {
  return ['docker', 'stack', 'rm', assertComposeProjectName(stack)];
}

/** The stack's services with their running/desired replicas, one JSON object a line. */
export function stackServiceList(stack: string): string[] {
  return ['docker', 'service', 'ls', '--filter', `label=${LABEL_STACK}=${assertComposeProjectName(stack)}`, '--format', '{{json .}}'];
}

/** The full service objects (Spec, PreviousSpec, UpdateStatus) as one JSON array; exit 1 if one does not exist. */
export function serviceInspect(names: readonly string[]): string[] {
  if (names.length === 0) throw new UsageError('serviceInspect: no services');
  return ['docker', 'service', 'inspect', ...names];
}

/** The stack's tasks meant to be running, one JSON object a line (Name "<stack>_app.1", CurrentState, Node). */
export function stackTasks(stack: string): string[] {
  return ['docker', 'stack', 'ps', '--no-trunc', '--filter', 'desired-state=running', '--format', '{{json .}}', assertComposeProjectName(stack)];
}

/** Every task id of one stack service (its history too), one a line; exit 1 when the service does not exist. */
export function serviceTaskIds(stack: string, service: string): string[] {
  return ['docker', 'service', 'ps', '--quiet', '--no-trunc', stackService(stack, service)];
}

/** Every task id of the stack (its history too), one a line; "Nothing found in stack" when it has none. */
export function stackTaskIds(stack: string): string[] {
  return ['docker', 'stack', 'ps', '--quiet', '--no-trunc', assertComposeProjectName(stack)];
}

/**
 * `<id> <state>` a line for each task that still exists. A removed service's tasks keep their id,
 * get desired state `remove` and run out their stop grace period before the manager deletes them:
 * neither their name (the service is gone) nor a `desired-state=running` listing finds them then.
 */
export function taskStates(ids: readonly string[]): string[] {
  if (ids.length === 0) throw new UsageError('taskStates: no task ids');
  return ['docker', 'inspect', '--type', 'task', '--format', '{{.ID}} {{.Status.State}}', ...ids];
}

/** The last `tail` lines of one stack service's log, from every task. */
export function serviceLogs(stack: string, service: string, tail: number): string[] {
  if (!Number.isInteger(tail) || tail < 0) throw new UsageError(`serviceLogs: bad tail ${tail}`);
  return ['docker', 'service', 'logs', '--no-task-ids', '--tail', String(tail), stackService(stack, service)];
}

/** Remove one stack service (its tasks stop gracefully). */
export function serviceRm(stack: string, service: string): string[] {
  return ['docker', 'service', 'rm', stackService(stack, service)];
}

/** Roll a service back to its previous spec (Swarm's own rollback), waiting for it to converge. */
export function serviceRollback(stack: string, service: string): string[] {
  return ['docker', 'service', 'rollback', '--quiet', stackService(stack, service)];
}

/** The stack's networks still present (ids), e.g. the overlay that `stack rm` removes last. */
export function stackNetworks(stack: string): string[] {
  return ['docker', 'network', 'ls', '--quiet', '--filter', `label=${LABEL_STACK}=${assertComposeProjectName(stack)}`];
}

/** Docker's labels on a swarm task's container. */
export const LABEL_SERVICE_NAME = 'com.docker.swarm.service.name';
export const LABEL_TASK_ID = 'com.docker.swarm.task.id';

/** One stack service's tasks meant to be running, on every node, one JSON object a line (ID, Name, Node, CurrentState). */
export function serviceTasks(stack: string, service: string): string[] {
  return ['docker', 'service', 'ps', '--no-trunc', '--filter', 'desired-state=running', '--format', '{{json .}}', stackService(stack, service)];
}

/** The containers of one stack service on this node (the engine asked), one `<container id> <task id>` a line. */
export function localTaskContainers(stack: string, service: string): string[] {
  return ['docker', 'ps', '--no-trunc', '--filter', `label=${LABEL_SERVICE_NAME}=${stackService(stack, service)}`, '--format', `{{.ID}} {{.Label "${LABEL_TASK_ID}"}}`];
}

/**
 * Prints the app's /metrics, fetched inside its container from 127.0.0.1 with the image's own node
 * (the healthcheck does the same): exit 0 and the body on stdout, or exit 1 and why on stderr.
 * Port and budget come in as arguments, so the script is one constant string.
 */
export const SCRAPE_METRICS_SCRIPT =
  "const [port, ms] = process.argv.slice(1); fetch('http://127.0.0.1:' + port + '/metrics', { signal: AbortSignal.timeout(Number(ms)) })" +
  ".then(async (r) => { const body = await r.text(); if (r.status !== 200) { console.error('HTTP ' + r.status); process.exit(1); } process.stdout.write(body); })" +
  ".catch((e) => { console.error(e && e.message ? e.message : String(e)); process.exit(1); })";

const CONTAINER_ID = /^[0-9a-f]{12,64}$/;

/** One task's /metrics through `docker exec` (only a container on this node can be reached so). */
export function execScrapeMetrics(container: string, port: number, timeoutMs: number): string[] {
  if (!CONTAINER_ID.test(container)) throw new UsageError(`not a container id: ${JSON.stringify(container)}`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`execScrapeMetrics: bad port ${port}`);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new UsageError(`execScrapeMetrics: bad timeout ${timeoutMs}`);
  return ['docker', 'exec', container, 'node', '-e', SCRAPE_METRICS_SCRIPT, String(port), String(timeoutMs)];
}

/**
 * nginx inside one of its task containers on this node: `-c` the file it was started with (else
 * `-t` checks, and `-s reload` signals, the image's default), then `nginxArgs` (`-t`, `-s reload`).
 */
export function execNginx(container: string, configFile: string, nginxArgs: readonly string[]): string[] {
  if (!CONTAINER_ID.test(container)) throw new UsageError(`not a container id: ${JSON.stringify(container)}`);
  return ['docker', 'exec', container, 'nginx', '-c', configFile, ...nginxArgs];
}
