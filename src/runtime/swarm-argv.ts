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
