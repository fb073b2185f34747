import { UsageError } from '../errors.js';

/**
 * Compose project names as both compose v1 and v2 accept them unchanged. v1 silently normalises other
 * names (drops characters, lower-cases), which would make its labels disagree with what we asked for.
 */
export const COMPOSE_PROJECT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function assertComposeProjectName(name: string): string {
  if (!COMPOSE_PROJECT_NAME.test(name)) {
    throw new UsageError(
      `project.name: expected a compose project name (lower-case letters, digits, "-" and "_", ` +
        `starting with a letter or digit, at most 63 characters), got ${JSON.stringify(name)}`,
    );
  }
  return name;
}
