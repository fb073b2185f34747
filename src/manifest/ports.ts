import type { ManifestProblem } from '../errors.js';
import type { Manifest } from './schema.js';

/**
 * Host ports the stack publishes must differ, or it can never start: nginx publishes nginx.port on
 * every address (0.0.0.0) and the OPA sidecar publishes opa.port on 127.0.0.1, and on Linux a socket
 * on 0.0.0.0:P and one on 127.0.0.1:P cannot both be bound.
 *
 * With opa.url set there is no sidecar and opa.port is published nowhere, so it may equal
 * nginx.port (a manifest switched to a central OPA keeps loading). What must not happen then is an
 * opa.url that points at nginx.port on this host: swiftdeploy would put its policy questions to the
 * stack it is deploying.
 *
 * `locate(key)` gives `file:line:col` of a key's value, so a message can name the other key's place.
 */
export function portConflicts(m: Manifest, locate: (key: string) => string): ManifestProblem[] {
  const nginxPort = m.nginx.port;
  if (m.opa.url === undefined) {
    if (m.opa.port !== nginxPort) return [];
    return [
      {
        path: 'opa.port',
        message: `expected a host port other than nginx.port (${nginxPort}, at ${locate('nginx.port')}): both are published on this host, so the stack could never start; change one of them`,
      },
    ];
  }
  const url = new URL(m.opa.url); // the schema admitted only URLs that parse
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  if (port === nginxPort && isThisHost(url.hostname)) {
    return [
      {
        path: 'opa.url',
        message: `expected the URL of a policy engine, got one that points at nginx.port (${nginxPort}, at ${locate('nginx.port')}) on this host: swiftdeploy would ask the stack it deploys for its own policy decisions`,
      },
    ];
  }
  return [];
}

/** Loopback and "any" addresses, by name or number: a port there is this host's port. */
function isThisHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '0.0.0.0' || h === '[::1]' || h === '[::]';
}
