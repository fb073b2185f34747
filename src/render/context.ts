import { swarmConfigOf, type Manifest } from '../manifest/schema.js';

/** Where templates/docker-compose.yml.hbs mounts nginx/ and what its nginx is started with (`nginx -c`). */
export const NGINX_CONF_IN_CONTAINER = '/etc/swiftdeploy/nginx/nginx.conf';

/** Where things are on this machine, decided by the caller (kept out of the pure context builder). */
export interface RenderEnvironment {
  /** Directory of Rego policies mounted into the OPA sidecar, relative to the project ("./policies") or absolute. */
  policiesDir: string;
}

/** A progressive rollout in progress: the canary track's share of requests, an integer 0-100. */
export interface Rollout {
  weight: number;
}

/** The compose service and nginx upstream host of each track. */
export const STABLE_HOST = 'app';
export const CANARY_HOST = 'app-canary';
/** The sticky-assignment cookie: a random bucket id that nginx's split_clients hashes. */
export const BUCKET_COOKIE = 'swiftdeploy_bucket';

/** Throws unless `rollout` is undefined or a whole-number weight from 0 to 100. */
export function checkRollout(rollout: Rollout | undefined): void {
  if (rollout === undefined) return;
  const w = rollout.weight;
  if (!Number.isInteger(w) || w < 0 || w > 100) {
    throw new RangeError(`rollout weight: expected an integer from 0 to 100, got ${String(w)}`);
  }
}

/** One app service in docker-compose.yml: the stable track, or the canary track during a rollout. */
export interface AppServiceContext {
  name: string;
  host: string;
  image: string;
  port: number;
  mode: 'stable' | 'canary';
  version: string;
  restart_policy: string;
  log_volume: string;
  /** env TRACK, or false when the manifest has no `canary:` section (no TRACK, as before). */
  track: 'stable' | 'canary' | false;
  build: false | { context: string; dockerfile: string; target: string | false; node_image: string | false };
}

/**
 * The one object the templates see. Every field is always present (Handlebars runs in strict mode,
 * so a missing field is an error, not an empty string), and every string in it has already passed
 * the manifest's safe-by-construction patterns.
 *
 * `rollout` matters only when the manifest has a `canary:` section: then it adds the canary track
 * (an `app-canary` service and nginx's weighted split). Without the section the output is the same
 * whatever `rollout` is.
 */
export function templateContext(m: Manifest, env: RenderEnvironment, rollout?: Rollout) {
  checkRollout(rollout);
  const build = m.services.build;
  const canary = m.canary;
  const stableUrl = `http://${STABLE_HOST}:${m.services.port}`;
  const canaryUrl = `http://${CANARY_HOST}:${m.services.port}`;
  const weight = canary !== undefined && rollout !== undefined ? rollout.weight : undefined;
  const common = {
    port: m.services.port,
    restart_policy: m.services.restart_policy,
    log_volume: m.services.log_volume,
  };
  const stable: AppServiceContext = {
    ...common,
    name: STABLE_HOST,
    host: STABLE_HOST,
    image: m.services.image,
    mode: m.services.mode,
    version: m.services.version,
    // Set whenever the manifest has `canary:`, rollout or not, so starting a rollout never recreates the stable app.
    track: canary === undefined ? false : 'stable',
    build: build
      ? {
          context: build.context,
          dockerfile: build.dockerfile,
          target: build.target ?? false,
          node_image: build.node_image ?? false,
        }
      : false,
  };
  const appServices: AppServiceContext[] = [stable];
  if (canary !== undefined && weight !== undefined) {
    appServices.push({
      ...common,
      name: CANARY_HOST,
      host: CANARY_HOST,
      image: canary.image ?? m.services.image,
      mode: 'canary',
      version: canary.version ?? m.services.version,
      track: 'canary',
      // Never built by compose: the canary image is the stable one or one that already exists.
      build: false,
    });
  }
  return {
    project: { name: m.project.name },
    app: stable,
    app_services: appServices,
    tracks:
      canary === undefined || weight === undefined
        ? (false as const)
        : {
            weight,
            stable_url: stableUrl,
            canary_url: canaryUrl,
            // split_clients refuses 0% and needs no split at 100%: both are a fixed upstream.
            split:
              weight > 0 && weight < 100
                ? { key: canary.sticky ? '${swiftdeploy_bucket}' : '${request_id}', canary_percent: `${weight}%` }
                : (false as const),
            sticky: canary.sticky ? { cookie: BUCKET_COOKIE } : (false as const),
          },
    nginx: {
      image: m.nginx.image,
      port: m.nginx.port,
      proxy_timeout: m.nginx.proxy_timeout,
      connect_timeout: 1,
      error_contact: m.nginx.error_contact,
      // Short enough that a recreated app container is found within a couple of seconds.
      resolver_valid: '2s',
      // Where `location /` sends requests when there is no split (no rollout, or weight 0 or 100).
      upstream: weight === 100 ? canaryUrl : stableUrl,
    },
    network: { name: m.network.name, driver: m.network.driver_type },
    runtime: m.runtime,
    // The stack's settings (docker-stack.yml), or false with runtime: compose.
    swarm: m.runtime === 'swarm' ? swarmContext(m, appServices) : (false as const),
    opa: {
      // An external opa.url means a central OPA: no sidecar is started.
      sidecar: m.opa.url === undefined,
      image: m.opa.image,
      port: m.opa.port,
      policies_dir: env.policiesDir,
    },
  };
}

export type TemplateContext = ReturnType<typeof templateContext>;

// restart_policy (compose's words) as a swarm restart condition.
const RESTART_CONDITION = { no: 'none', always: 'any', 'on-failure': 'on-failure', 'unless-stopped': 'any' } as const;

const MANAGER = 'node.role==manager';

/** The canary track's replicas on swarm: one task beside the stable's, as compose runs one container. */
export const SWARM_CANARY_REPLICAS = 1;

function swarmContext(m: Manifest, appServices: readonly AppServiceContext[]) {
  const s = swarmConfigOf(m);
  const onManager = s.placement.constraints.includes(MANAGER) ? s.placement.constraints : [...s.placement.constraints, MANAGER];
  return {
    // The stable app, and app-canary beside it during a rollout (docker-stack.yml renders each).
    // app-canary runs on a manager, beside nginx and swiftdeploy: a step window scrapes its one task
    // with docker exec, which reaches this node's containers only (docs/swarm.md, "Multi-node").
    apps: appServices.map((a) =>
      a.name === CANARY_HOST ? { ...a, replicas: SWARM_CANARY_REPLICAS, constraints: onManager } : { ...a, replicas: s.replicas, constraints: s.placement.constraints },
    ),
    // With a canary: section nginx bind-mounts the project's nginx/ (it is pinned to the manager by
    // publish: host, the schema's rule) and each weight is an in-place reload; otherwise nginx.conf
    // is a hash-named docker config and a changed file replaces nginx.
    nginx_mount: m.canary !== undefined,
    replicas: s.replicas,
    publish: s.publish,
    // A host-mode port can be bound by one task per node: the new nginx cannot start before the old stops.
    nginx_order: s.publish === 'host' ? 'stop-first' : 'start-first',
    // The routing mesh needs a virtual IP; a host-mode port goes without (and so without IPVS).
    nginx_endpoint_mode: s.publish === 'host' ? 'dnsrr' : 'vip',
    update: s.update,
    rollback: s.rollback,
    // A host-mode port answers on nginx's node only, and swiftdeploy reaches nginx on its own
    // loopback: nginx then runs on a manager (docs/swarm.md, "Multi-node"); the app may spread.
    nginx_constraints: s.publish === 'host' ? onManager : s.placement.constraints,
    restart_condition: RESTART_CONDITION[m.services.restart_policy],
  };
}
