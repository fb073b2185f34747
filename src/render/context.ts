import type { Manifest } from '../manifest/schema.js';

/** Where templates/docker-compose.yml.hbs mounts nginx/ and what its nginx is started with (`nginx -c`). */
export const NGINX_CONF_IN_CONTAINER = '/etc/swiftdeploy/nginx/nginx.conf';

/** Where things are on this machine, decided by the caller (kept out of the pure context builder). */
export interface RenderEnvironment {
  /** Directory of Rego policies mounted into the OPA sidecar, relative to the project ("./policies") or absolute. */
  policiesDir: string;
}

/**
 * The one object the templates see. Every field is always present (Handlebars runs in strict mode,
 * so a missing field is an error, not an empty string), and every string in it has already passed
 * the manifest's safe-by-construction patterns.
 */
export function templateContext(m: Manifest, env: RenderEnvironment) {
  const build = m.services.build;
  return {
    project: { name: m.project.name },
    app: {
      host: 'app',
      image: m.services.image,
      port: m.services.port,
      mode: m.services.mode,
      version: m.services.version,
      restart_policy: m.services.restart_policy,
      log_volume: m.services.log_volume,
      build: build
        ? {
            context: build.context,
            dockerfile: build.dockerfile,
            target: build.target ?? false,
            node_image: build.node_image ?? false,
          }
        : false,
    },
    nginx: {
      image: m.nginx.image,
      port: m.nginx.port,
      proxy_timeout: m.nginx.proxy_timeout,
      connect_timeout: 1,
      error_contact: m.nginx.error_contact,
      // Short enough that a recreated app container is found within a couple of seconds.
      resolver_valid: '2s',
    },
    network: { name: m.network.name, driver: m.network.driver_type },
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
