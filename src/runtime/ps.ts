/**
 * Parse the container listings of compose v2 (`compose ps --format json`) and of `docker ps` with
 * DOCKER_PS_TEMPLATE (used for compose v1). Services are identified by the compose service label;
 * container names differ between compose versions and are never interpreted.
 */
import { RuntimeError } from '../errors.js';
import { isPlainObject } from '../util/is-plain-object.js';
import { LABEL_ONEOFF, LABEL_SERVICE } from './compose-argv.js';
import { isComposeV1, type ComposeFlavour } from './flavour.js';

export type ContainerHealth = 'healthy' | 'unhealthy' | 'starting';

export interface ServiceContainer {
  id: string;
  /** The `com.docker.compose.service` label. */
  service: string;
  /** Docker's state: created, running, restarting, paused, exited, removing, dead. */
  state: string;
  /** Present only when the image or compose file defines a healthcheck. */
  health?: ContainerHealth;
  /** Docker's human status, e.g. "Up 5 seconds (healthy)", "Exited (1) 3 seconds ago". */
  status: string;
  exitCode?: number;
  image?: string;
}

type JsonObject = Record<string, unknown>;

/**
 * Compose v2 prints a JSON array before v2.21 and one object per line from v2.21 on; an empty
 * project prints `[]`, nothing, or blank lines depending on the version.
 */
export function parseJsonListing(text: string, what: string): JsonObject[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const parse = (s: string): unknown => {
    try {
      return JSON.parse(s);
    } catch {
      throw new RuntimeError(`could not parse ${what} output as JSON: ${s.slice(0, 200)}`);
    }
  };
  const items: unknown[] = trimmed.startsWith('[')
    ? (() => {
        const v = parse(trimmed);
        if (!Array.isArray(v)) throw new RuntimeError(`${what} output is not a JSON array`);
        return v;
      })()
    : trimmed
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '')
        .map(parse);
  return items.map((item) => {
    if (!isPlainObject(item)) throw new RuntimeError(`${what} output holds a non-object entry: ${JSON.stringify(item)}`);
    return item;
  });
}

/**
 * Compose v2 reports labels as an object in some versions and as "k=v,k=v" in others. In the string
 * form a value may contain a comma, so a fragment without "=" continues the previous value.
 */
export function parseLabels(labels: unknown): Record<string, string> {
  if (isPlainObject(labels)) {
    return Object.fromEntries(Object.entries(labels).filter((e): e is [string, string] => typeof e[1] === 'string'));
  }
  const out: Record<string, string> = {};
  if (typeof labels !== 'string' || labels === '') return out;
  let lastKey: string | undefined;
  for (const fragment of labels.split(',')) {
    const eq = fragment.indexOf('=');
    if (eq > 0) {
      lastKey = fragment.slice(0, eq);
      out[lastKey] = fragment.slice(eq + 1);
    } else if (lastKey !== undefined) {
      out[lastKey] += `,${fragment}`;
    }
  }
  return out;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function healthOf(explicit: string | undefined, status: string): ContainerHealth | undefined {
  const h = explicit?.toLowerCase();
  if (h === 'healthy' || h === 'unhealthy' || h === 'starting') return h;
  // docker ps has no health column; it is only in the status text.
  if (/\(health: starting\)/.test(status)) return 'starting';
  if (/\(unhealthy\)/.test(status)) return 'unhealthy';
  if (/\(healthy\)/.test(status)) return 'healthy';
  return undefined;
}

function exitCodeOf(explicit: unknown, state: string, status: string): number | undefined {
  if (typeof explicit === 'number' && state !== 'running') return explicit;
  const m = /^Exited \((-?\d+)\)/.exec(status);
  return m ? Number(m[1]) : undefined;
}

function container(fields: {
  id: string | undefined;
  service: string | undefined;
  oneOff: string | undefined;
  state: string | undefined;
  status: string | undefined;
  health: string | undefined;
  exitCode: unknown;
  image: string | undefined;
}): ServiceContainer | undefined {
  // `compose run` containers are not the service; without the service label it is not ours at all.
  if (!fields.id || !fields.service || fields.oneOff?.toLowerCase() === 'true') return undefined;
  const status = fields.status ?? '';
  const state = (fields.state ?? '').toLowerCase();
  const c: ServiceContainer = { id: fields.id, service: fields.service, state, status };
  const health = healthOf(fields.health, status);
  if (health) c.health = health;
  const exitCode = exitCodeOf(fields.exitCode, state, status);
  if (exitCode !== undefined) c.exitCode = exitCode;
  if (fields.image) c.image = fields.image;
  return c;
}

/** `docker compose ps --all --format json` (v2), either output form. */
export function parseComposePs(text: string): ServiceContainer[] {
  return parseJsonListing(text, 'docker compose ps').flatMap((o) => {
    const labels = parseLabels(o.Labels);
    const c = container({
      id: str(o.ID),
      // The Service field is compose's own reading of the same label, for versions without Labels.
      service: labels[LABEL_SERVICE] ?? str(o.Service),
      oneOff: labels[LABEL_ONEOFF],
      state: str(o.State),
      status: str(o.Status),
      health: str(o.Health),
      exitCode: o.ExitCode,
      image: str(o.Image),
    });
    return c ? [c] : [];
  });
}

/** `docker ps --format DOCKER_PS_TEMPLATE` (used for compose v1). */
export function parseDockerPs(text: string): ServiceContainer[] {
  return parseJsonListing(text, 'docker ps').flatMap((o) => {
    const c = container({
      id: str(o.id),
      service: str(o.service),
      oneOff: str(o.oneoff),
      state: str(o.state),
      status: str(o.status),
      health: undefined,
      exitCode: undefined,
      image: str(o.image),
    });
    return c ? [c] : [];
  });
}

/** Parse the output of composePs(target) for the target's flavour. */
export function parseServiceContainers(flavour: ComposeFlavour, text: string): ServiceContainer[] {
  return isComposeV1(flavour) ? parseDockerPs(text) : parseComposePs(text);
}

/** One line per service for failure reports: "app: running (unhealthy) Up 40 seconds (unhealthy)". */
export function describeServices(services: ServiceContainer[]): string {
  if (services.length === 0) return '  (no containers)';
  return services
    .map((s) => `  ${s.service}: ${s.state}${s.health ? ` (${s.health})` : ''} - ${s.status}`)
    .join('\n');
}
