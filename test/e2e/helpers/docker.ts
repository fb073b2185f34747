/**
 * What end-to-end tests need from Docker: is there an engine and a compose, are the local base images
 * built, and a cleanup that removes everything a test project created, found by compose label, even
 * when the compose file is gone. Tests without Docker skip with the reason returned here.
 */
import { detectDockerEnvironment, type DockerEnvironment } from '../../../src/runtime/detect.js';
import { dockerIdsByProject, dockerImageId, dockerRemove } from '../../../src/runtime/docker-argv.js';
import { runArgv } from '../../../src/runtime/run.js';
import { engineOrSkip } from '../../helpers/engines.js';

export const BASE_IMAGES = ['swiftdeploy-node:local', 'swiftdeploy-nginx:local'] as const;

export type DockerForTests =
  | { available: true; env: DockerEnvironment }
  | { available: false; reason: string };

let cached: Promise<DockerForTests> | undefined;

/**
 * Detect once per test file. `images` lists images that must exist locally (default: the base images);
 * a missing one makes Docker "unavailable" with a reason saying how to build it.
 */
export function dockerForTests(images: readonly string[] = BASE_IMAGES): Promise<DockerForTests> {
  cached ??= (async (): Promise<DockerForTests> => {
    let env: DockerEnvironment;
    try {
      env = await detectDockerEnvironment({ timeoutMs: 10_000 });
    } catch (e) {
      return { available: false, reason: (e as Error).message };
    }
    for (const image of images) {
      const r = await runArgv(dockerImageId(image), { timeoutMs: 10_000 });
      if (r.exitCode !== 0) {
        return { available: false, reason: `image ${image} is missing: build it with scripts/docker/build-base-images.sh (as root)` };
      }
    }
    return { available: true, env };
  })();
  return cached;
}

/**
 * The skip reason as a describe() title suffix, so a skipped suite says why in the report. In CI a
 * missing engine throws instead (test/helpers/engines.ts): there it is a failure, never a skip.
 */
export function skipReason(d: DockerForTests): string {
  return engineOrSkip('Docker', d.available ? 'docker' : null, d.available ? '' : `${d.reason} (npm run setup, as root)`).skipNote;
}

/** A compose project name no other test run on this engine uses. */
export function uniqueProjectName(prefix = 'sdtest'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}`.toLowerCase();
}

/**
 * Remove every container, network and volume labelled with the compose project. Works without the
 * compose file and for both compose flavours; never throws (cleanup must not mask the test's failure),
 * but returns what it could not remove.
 */
export async function removeComposeProject(projectName: string): Promise<string[]> {
  const problems: string[] = [];
  for (const kind of ['container', 'network', 'volume'] as const) {
    try {
      const ids = await runArgv(dockerIdsByProject(kind, projectName), { timeoutMs: 30_000 });
      const list = ids.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
      if (list.length === 0) continue;
      const rm = await runArgv(dockerRemove(kind, list), { timeoutMs: 60_000 });
      if (rm.exitCode !== 0) problems.push(`${kind}: ${rm.stderr.trim()}`);
    } catch (e) {
      problems.push(`${kind}: ${(e as Error).message}`);
    }
  }
  return problems;
}

/**
 * The engines a compose v2 e2e suite needs: a Docker engine with the local base images and the OPA
 * image, and the compose v2 plugin. In CI a missing one fails (engineOrSkip); elsewhere the suite
 * skips and its title says which set-up command brings it.
 */
export async function composeV2ForTests(setup = 'npm run setup (as root)'): Promise<{ compose: ReturnType<typeof engineOrSkip>; version: string | null }> {
  const docker = await dockerForTests([...BASE_IMAGES, 'swiftdeploy-opa:local']);
  const engine = engineOrSkip('a Docker engine with the local images', docker.available ? 'docker' : null, `${docker.available ? '' : docker.reason}; ${setup}`);
  if (!engine.path) return { compose: engine, version: null };
  const version = await detectDockerEnvironment({ env: { SWIFTDEPLOY_COMPOSE: 'plugin' }, timeoutMs: 10_000 }).then(
    (e) => e.flavour.version,
    () => null,
  );
  return { compose: engineOrSkip('docker compose v2', version?.startsWith('2.') ? version : null, `found ${version ?? 'nothing'}; ${setup}`), version };
}
