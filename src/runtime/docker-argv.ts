/** Engine-level docker commands (not compose), as data. See compose-argv.ts for why builders are pure. */
import { UsageError } from '../errors.js';
import { LABEL_PROJECT } from './compose-argv.js';
import { assertComposeProjectName } from './project-name.js';

/** Prints the docker CLI's own version; needs no engine. */
export function dockerClientVersion(): string[] {
  return ['docker', '--version'];
}

/** Prints the engine's version; fails when no engine answers. */
export function dockerServerVersion(): string[] {
  return ['docker', 'version', '--format', '{{.Server.Version}}'];
}

/** Docker's data root (`/var/lib/docker`): the filesystem images and containers fill. */
export function dockerDataRootInfo(): string[] {
  return ['docker', 'info', '--format', '{{.DockerRootDir}}'];
}

// Image references reach argv positionally; one starting with "-" would be read as a flag.
function imageRef(image: string): string {
  if (image.length === 0 || image.startsWith('-')) throw new UsageError(`not an image reference: ${JSON.stringify(image)}`);
  return image;
}

/** Exit 0 and the image id when the image exists locally; non-zero when it does not. Never pulls. */
export function dockerImageId(image: string): string[] {
  return ['docker', 'image', 'inspect', '--format', '{{.Id}}', imageRef(image)];
}

export interface Mount {
  /** Absolute host path. */
  host: string;
  /** Absolute path inside the container. */
  container: string;
}

/**
 * Run `command` once in a throwaway container of a local image: removed on exit, never pulled (there
 * may be no registry), with the given host directories mounted read-only.
 */
export function dockerRunOnce(image: string, command: readonly string[], readOnly: readonly Mount[] = []): string[] {
  const volumes = readOnly.flatMap((m) => {
    if (!m.host.startsWith('/') || !m.container.startsWith('/')) throw new UsageError(`dockerRunOnce: mount paths must be absolute: ${m.host}:${m.container}`);
    return ['-v', `${m.host}:${m.container}:ro`];
  });
  return ['docker', 'run', '--rm', '--pull=never', ...volumes, imageRef(image), ...command];
}

/** The published ports of a compose project's running containers, one `{{.Ports}}` line per container. */
export function dockerPublishedPorts(projectName: string): string[] {
  return ['docker', 'ps', '--filter', `label=${LABEL_PROJECT}=${assertComposeProjectName(projectName)}`, '--format', '{{.Ports}}'];
}

/** Ids of a compose project's containers, networks or volumes, found by label (no compose file needed). */
export function dockerIdsByProject(kind: 'container' | 'network' | 'volume', projectName: string): string[] {
  const filter = ['--filter', `label=${LABEL_PROJECT}=${assertComposeProjectName(projectName)}`];
  switch (kind) {
    case 'container':
      return ['docker', 'ps', '--all', '--quiet', '--no-trunc', ...filter];
    case 'network':
      return ['docker', 'network', 'ls', '--quiet', '--no-trunc', ...filter];
    case 'volume':
      return ['docker', 'volume', 'ls', '--quiet', ...filter];
  }
}

/** Remove the given objects by id; containers are killed first (`--force`) and lose anonymous volumes. */
export function dockerRemove(kind: 'container' | 'network' | 'volume', ids: readonly string[]): string[] {
  if (ids.length === 0) throw new UsageError(`dockerRemove: no ${kind} ids`);
  switch (kind) {
    case 'container':
      return ['docker', 'rm', '--force', '--volumes', ...ids];
    case 'network':
      return ['docker', 'network', 'rm', ...ids];
    case 'volume':
      return ['docker', 'volume', 'rm', '--force', ...ids];
  }
}

/** Stop containers gracefully (SIGTERM, then SIGKILL after `timeoutSeconds`): the app drains in-flight requests. */
export function dockerStop(ids: readonly string[], timeoutSeconds: number): string[] {
  if (ids.length === 0) throw new UsageError('dockerStop: no container ids');
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 0) throw new UsageError(`dockerStop: bad timeout ${timeoutSeconds}`);
  return ['docker', 'stop', '--time', String(timeoutSeconds), ...ids];
}
