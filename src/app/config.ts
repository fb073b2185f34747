/**
 * The service is configured only by its environment, which docker-compose.yml sets from the manifest.
 * Every variable is checked at startup: a container that starts with a typo in MODE would report the
 * wrong mode to the canary policy, so a bad value stops the process instead of being defaulted.
 */

export type AppMode = 'stable' | 'canary';
/** Which side of a progressive rollout this process is: nginx splits traffic between the two. */
export type AppTrack = 'stable' | 'canary';

export interface AppConfig {
  readonly port: number;
  readonly host: string;
  readonly mode: AppMode;
  /** Sent as X-Track on every response. */
  readonly track: AppTrack;
  readonly version: string;
  /** undefined: chaos is switched off and POST /chaos answers 404. */
  readonly chaosToken: string | undefined;
  /** Upper bound on the SIGTERM drain; in-flight requests still running after it are cut. */
  readonly drainTimeoutMs: number;
}

export class AppConfigError extends Error {
  override readonly name = 'AppConfigError';
}

export const DEFAULT_PORT = 3000;
/** Below Docker's default 10 s stop grace period, so the app exits on its own terms before SIGKILL. */
export const DEFAULT_DRAIN_TIMEOUT_SECONDS = 8;
/** A guessable token would make chaos an open door; the CLI generates 32 random bytes. */
export const MIN_CHAOS_TOKEN_LENGTH = 16;
const MAX_VERSION_LENGTH = 128;

type Env = Readonly<Record<string, string | undefined>>;

/** Reads the service configuration from `env`; throws AppConfigError naming the variable at fault. */
export function readAppConfig(env: Env): AppConfig {
  return {
    port: readPort(env['PORT']),
    // 0.0.0.0 because inside a container the app must be reachable from nginx on the compose network.
    host: nonEmpty(env['HOST']) ?? '0.0.0.0',
    mode: readMode(env['MODE']),
    track: readTrack(env['TRACK']),
    version: readVersion(env['APP_VERSION']),
    chaosToken: readChaosToken(env['CHAOS_TOKEN']),
    drainTimeoutMs: readDrainTimeout(env['DRAIN_TIMEOUT_SECONDS']),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function readPort(raw: string | undefined): number {
  const value = nonEmpty(raw);
  if (value === undefined) return DEFAULT_PORT;
  // 0 asks the kernel for an ephemeral port: tests use it, and the listening log line says which one.
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new AppConfigError(`PORT: expected an integer 0-65535, got ${JSON.stringify(raw)}`);
  }
  return Number(value);
}

function readMode(raw: string | undefined): AppMode {
  const value = nonEmpty(raw);
  if (value === undefined) return 'stable';
  if (value === 'stable' || value === 'canary') return value;
  throw new AppConfigError(`MODE: expected "stable" or "canary", got ${JSON.stringify(raw)}`);
}

function readTrack(raw: string | undefined): AppTrack {
  const value = nonEmpty(raw);
  if (value === undefined) return 'stable';
  if (value === 'stable' || value === 'canary') return value;
  throw new AppConfigError(`TRACK: expected "stable" or "canary", got ${JSON.stringify(raw)}`);
}

function readVersion(raw: string | undefined): string {
  const value = nonEmpty(raw);
  if (value === undefined) return 'unknown';
  // The version is echoed in every GET / body: keep it printable and short.
  if (value.length > MAX_VERSION_LENGTH || !/^[\x21-\x7e]+$/.test(value)) {
    throw new AppConfigError(
      `APP_VERSION: expected up to ${MAX_VERSION_LENGTH} printable ASCII characters without spaces`,
    );
  }
  return value;
}

function readChaosToken(raw: string | undefined): string | undefined {
  // An empty CHAOS_TOKEN is how a compose file says "no token": chaos stays off.
  if (raw === undefined || raw === '') return undefined;
  if (raw.length < MIN_CHAOS_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(raw)) {
    // Never echo the token itself, not even a bad one.
    throw new AppConfigError(
      `CHAOS_TOKEN: expected at least ${MIN_CHAOS_TOKEN_LENGTH} printable ASCII characters without spaces (got ${raw.length} characters)`,
    );
  }
  return raw;
}

function readDrainTimeout(raw: string | undefined): number {
  const value = nonEmpty(raw);
  if (value === undefined) return DEFAULT_DRAIN_TIMEOUT_SECONDS * 1000;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || seconds <= 0 || seconds > 300) {
    throw new AppConfigError(
      `DRAIN_TIMEOUT_SECONDS: expected a number of seconds in (0, 300], got ${JSON.stringify(raw)}`,
    );
  }
  return Math.round(seconds * 1000);
}
