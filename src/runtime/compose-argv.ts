/**
 * Every Docker/Compose command swiftdeploy runs, as data. Pure functions of the target: no process is
 * started here (run.ts does that), so each builder is tested as a one-line array assertion.
 *
 * All compose output is meant to be captured: ANSI is off (`--ansi never`, accepted by v1.29 and v2)
 * and progress is plain where the flavour has a switch for it.
 */
import { UsageError } from '../errors.js';
import { isComposeV1, supportsGlobalProgress, type ComposeFlavour } from './flavour.js';
import { assertComposeProjectName } from './project-name.js';

export interface ComposeTarget {
  readonly flavour: ComposeFlavour;
  /** Compose project name (`project.name` in the manifest); scopes containers, networks and volumes. */
  readonly projectName: string;
  /** Path of the generated docker-compose.yml. */
  readonly composeFile: string;
}

/** The compose labels we identify containers by; container names are never parsed. */
export const LABEL_PROJECT = 'com.docker.compose.project';
export const LABEL_SERVICE = 'com.docker.compose.service';
export const LABEL_ONEOFF = 'com.docker.compose.oneoff';

// Service names reach argv positionally; one starting with "-" would be read as a flag.
const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

function service(name: string): string {
  if (!SERVICE_NAME.test(name)) throw new UsageError(`not a compose service name: ${JSON.stringify(name)}`);
  return name;
}

function composeBase(t: ComposeTarget): string[] {
  return [
    ...t.flavour.command,
    '--ansi',
    'never',
    ...(supportsGlobalProgress(t.flavour) ? ['--progress', 'plain'] : []),
    '--project-name',
    assertComposeProjectName(t.projectName),
    '--file',
    t.composeFile,
  ];
}

/**
 * Which compose a command prefix (`docker compose`, `docker-compose`) is: prints "2.24.5" (v2) or
 * "1.29.2" (v1); both accept `--short`. Needs no project, so it takes the prefix, not a target.
 */
export function composeVersion(command: readonly string[]): string[] {
  return [...command, 'version', '--short'];
}

/** Converge the whole stack: create/recreate what changed, remove containers of services no longer defined. */
export function composeUp(t: ComposeTarget): string[] {
  return [...composeBase(t), 'up', '--detach', '--remove-orphans'];
}

/** Start some services (and whatever they depend on), e.g. the OPA sidecar before the policy gate. */
export function composeUpServices(t: ComposeTarget, services: readonly string[]): string[] {
  if (services.length === 0) throw new UsageError('composeUpServices: no service named');
  return [...composeBase(t), 'up', '--detach', ...services.map(service)];
}

/** Replace one service's container without touching its dependencies (promote/rollback recreate the app only). */
export function composeRecreateService(t: ComposeTarget, name: string): string[] {
  return [...composeBase(t), 'up', '--detach', '--no-deps', '--force-recreate', service(name)];
}

/**
 * Start-before-stop for one service: add containers up to `count` WITHOUT touching the running ones
 * (`--no-recreate`), so the new container (with the new configuration) serves beside the old one
 * until the caller stops the old one. Dependencies are left alone (`--no-deps`).
 */
export function composeScaleService(t: ComposeTarget, name: string, count: number): string[] {
  if (!Number.isInteger(count) || count < 1 || count > 16) throw new UsageError(`composeScaleService: count must be 1-16, got ${count}`);
  const svc = service(name);
  return [...composeBase(t), 'up', '--detach', '--no-deps', '--no-recreate', '--scale', `${svc}=${count}`, svc];
}

export interface DownOptions {
  /** Also remove named volumes declared by the project (the e2e cleanup does; `teardown` does not). */
  removeVolumes?: boolean;
  /** Seconds each container gets to stop after SIGTERM; compose's default (10) when absent. */
  timeoutSeconds?: number;
}

/** Stop and remove the project's containers and networks (compose removes its networks on down), orphans included. */
export function composeDown(t: ComposeTarget, options: DownOptions = {}): string[] {
  const argv = [...composeBase(t), 'down', '--remove-orphans'];
  if (options.removeVolumes) argv.push('--volumes');
  if (options.timeoutSeconds !== undefined) {
    if (!Number.isInteger(options.timeoutSeconds) || options.timeoutSeconds < 0) {
      throw new UsageError(`composeDown: timeout must be a whole number of seconds, got ${options.timeoutSeconds}`);
    }
    argv.push('--timeout', String(options.timeoutSeconds));
  }
  return argv;
}

/**
 * The Go template for `docker ps` under compose v1, which has no `ps --format json`. `.Label` reads one
 * label exactly; `{{json .}}` would give all labels as one comma-joined string, ambiguous when a label
 * value (e.g. config_files) itself contains a comma.
 */
const label = (name: string): string => `{{json (.Label ${JSON.stringify(name)})}}`;
export const DOCKER_PS_TEMPLATE =
  `{"id":{{json .ID}},"project":${label(LABEL_PROJECT)},"service":${label(LABEL_SERVICE)},"oneoff":${label(LABEL_ONEOFF)},` +
  '"state":{{json .State}},"status":{{json .Status}},"image":{{json .Image}}}';

/**
 * List the project's containers, stopped ones included. v2: `compose ps --format json` (parse with
 * parseComposePs). v1: `docker ps` filtered by the project label, one JSON object per line.
 */
export function composePs(t: ComposeTarget): string[] {
  if (isComposeV1(t.flavour)) {
    return dockerPsByProject(assertComposeProjectName(t.projectName));
  }
  return [...composeBase(t), 'ps', '--all', '--format', 'json'];
}

/** `docker ps` for one compose project, selected by label; the e2e cleanup uses it without a compose file. */
export function dockerPsByProject(projectName: string): string[] {
  return [
    'docker',
    'ps',
    '--all',
    '--no-trunc',
    '--filter',
    `label=${LABEL_PROJECT}=${assertComposeProjectName(projectName)}`,
    '--format',
    DOCKER_PS_TEMPLATE,
  ];
}

export interface LogsOptions {
  /** Last N lines per service. */
  tail: number;
  /** Services to show; all when empty or absent. */
  services?: readonly string[];
}

export function composeLogs(t: ComposeTarget, options: LogsOptions): string[] {
  if (!Number.isInteger(options.tail) || options.tail < 0) {
    throw new UsageError(`composeLogs: tail must be a whole number, got ${options.tail}`);
  }
  return [...composeBase(t), 'logs', '--no-color', '--tail', String(options.tail), ...(options.services ?? []).map(service)];
}

/** Validate the compose file the way compose reads it, printing nothing on success. */
export function composeConfigCheck(t: ComposeTarget): string[] {
  return [...composeBase(t), 'config', '--quiet'];
}

export interface NginxExecOptions {
  /** The compose service running nginx. */
  service?: string;
  /**
   * The config file nginx was started with (`nginx -c`). Both `-t` and `-s reload` read the default
   * /etc/nginx/nginx.conf otherwise: the test checks the wrong file and the reload looks up the wrong pid.
   */
  configFile?: string;
}

function nginxExec(t: ComposeTarget, options: NginxExecOptions, nginxArgs: string[]): string[] {
  const config = options.configFile === undefined ? [] : ['-c', options.configFile];
  return [...composeBase(t), 'exec', '-T', service(options.service ?? 'nginx'), 'nginx', ...config, ...nginxArgs];
}

/**
 * Ask nginx inside its container to check its configuration. Run before a reload: `nginx -s reload`
 * exits 0 even when the new file is broken (the master logs the error and keeps the old config).
 */
export function composeNginxConfigTest(t: ComposeTarget, options: NginxExecOptions = {}): string[] {
  return nginxExec(t, options, ['-t']);
}

/** Make the running nginx pick up a re-rendered nginx.conf without dropping connections. */
export function composeNginxReload(t: ComposeTarget, options: NginxExecOptions = {}): string[] {
  return nginxExec(t, options, ['-s', 'reload']);
}

/** Build images of services that have a `build:` section. Never `--pull`: there may be no registry. */
export function composeBuild(t: ComposeTarget, services: readonly string[] = []): string[] {
  // Before v2.19, plain progress is a `build` flag; from v2.19 the global flag (in composeBase) covers it;
  // v1's legacy builder prints plain lines anyway.
  const progress = !isComposeV1(t.flavour) && !supportsGlobalProgress(t.flavour) ? ['--progress', 'plain'] : [];
  return [...composeBase(t), 'build', ...progress, ...services.map(service)];
}
