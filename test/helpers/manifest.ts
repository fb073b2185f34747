/**
 * Test manifests derived from the repository's manifest.yaml (the reference format), changed key by
 * key with yaml's Document API so each test states only what differs.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Dotted key path -> value; `undefined` deletes the key (e.g. 'services.build'). */
export type ManifestChanges = Record<string, unknown>;

export function testManifest(changes: ManifestChanges = {}): string {
  const doc = parseDocument(readFileSync(path.join(REPO, 'manifest.yaml'), 'utf8'));
  for (const [key, value] of Object.entries(changes)) {
    const segs = key.split('.');
    if (value === undefined) doc.deleteIn(segs);
    else doc.setIn(segs, value);
  }
  return doc.toString();
}

/**
 * A stack of local images, what the Docker tests deploy: with `opaUrl`, talking to an external policy
 * engine; with `opaPort`, running the OPA sidecar from the locally built image (scripts/setup.sh).
 */
export function localStackChanges(
  o: { projectName: string; appImage: string; nginxPort: number } & ({ opaUrl: string } | { opaPort: number }),
): ManifestChanges {
  const opa = 'opaUrl' in o ? { 'opa.url': o.opaUrl } : { 'opa.port': o.opaPort, 'opa.image': 'swiftdeploy-opa:local' };
  return {
    'project.name': o.projectName,
    'services.image': o.appImage,
    'services.build': undefined,
    'services.log_volume': `${o.projectName}-logs`,
    'nginx.image': 'swiftdeploy-nginx:local',
    'nginx.port': o.nginxPort,
    'network.name': `${o.projectName}-net`,
    ...opa,
    // The machines are shared and noisy; these suites are about the lifecycle, not the load gate.
    'policy.infrastructure.min_disk_free_gb': 1,
    'policy.infrastructure.max_cpu_load': 1000,
    'policy.canary.window_seconds': 5,
    'policy.canary.min_requests': 5,
  };
}
