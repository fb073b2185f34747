/**
 * Which Docker Compose this machine has, and what each version accepts. Pure: detection itself
 * (which runs processes) lives in detect.ts.
 */

export interface ComposeFlavour {
  /** The argv prefix that invokes compose: `['docker', 'compose']` (v2 plugin) or `['docker-compose']`. */
  readonly command: readonly string[];
  /** Compose's own version without a leading "v", e.g. "2.24.5" or "1.29.2". */
  readonly version: string;
}

export interface Semver {
  major: number;
  minor: number;
  patch: number;
}

/** Reads "2.24.5", "v2.24.5", "1.29.2, build unknown" or "2.24.5-desktop.1"; undefined when there is no x.y. */
export function parseComposeVersion(text: string): Semver | undefined {
  const m = /v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0) };
}

function versionOf(flavour: ComposeFlavour): Semver {
  const v = parseComposeVersion(flavour.version);
  // An unparseable version came from a build we could not identify: assume the oldest behaviour.
  return v ?? { major: 1, minor: 0, patch: 0 };
}

function atLeast(v: Semver, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/** v1 (python docker-compose) has no `ps --format json` and no top-level `--progress`. */
export function isComposeV1(flavour: ComposeFlavour): boolean {
  return versionOf(flavour).major < 2;
}

/** The top-level `--progress` flag arrived in compose v2.19 (docker/compose#10690); older builds reject it. */
export function supportsGlobalProgress(flavour: ComposeFlavour): boolean {
  return atLeast(versionOf(flavour), 2, 19);
}
