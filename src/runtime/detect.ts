/**
 * Find out what this machine can run: the docker CLI, a reachable engine, and a compose (the v2
 * plugin first, then the standalone docker-compose, which may itself be v1 or v2).
 */
import { RuntimeError } from '../errors.js';
import { dockerServerVersion } from './docker-argv.js';
import { parseComposeVersion, type ComposeFlavour } from './flavour.js';
import { lastLines, runArgv, type RunOptions, type Runner } from './run.js';

export interface DockerEnvironment {
  flavour: ComposeFlavour;
  engineVersion: string;
}

export interface DetectOptions {
  /** Environment for the probes (PATH, DOCKER_HOST); the process's own when absent. */
  env?: RunOptions['env'];
  /** Per-probe limit; a hung engine socket must not hang the CLI. */
  timeoutMs?: number;
  run?: Runner;
}

async function probe(run: Runner, argv: string[], options: RunOptions): Promise<{ ok: boolean; out: string; err: string }> {
  try {
    const r = await run(argv, options);
    return { ok: r.exitCode === 0, out: r.stdout.trim(), err: r.stderr.trim() };
  } catch (e) {
    // A missing program or a timeout is an answer here: "not this one".
    return { ok: false, out: '', err: e instanceof Error ? e.message : String(e) };
  }
}

async function composeVersion(run: Runner, command: string[], options: RunOptions): Promise<ComposeFlavour | undefined> {
  // `version --short` prints "2.24.5" (v2) or "1.29.2" (v1); both accept it.
  const r = await probe(run, [...command, 'version', '--short'], options);
  if (!r.ok) return undefined;
  const v = parseComposeVersion(r.out);
  if (!v) return undefined;
  return { command, version: `${v.major}.${v.minor}.${v.patch}` };
}

/** SWIFTDEPLOY_COMPOSE's values and the compose each one means. */
export const COMPOSE_CHOICES = { plugin: ['docker', 'compose'], standalone: ['docker-compose'] } as const;

/**
 * The compose commands to try, in order: the v2 plugin, then the standalone `docker-compose` (v1, or
 * a v2 installed standalone); SWIFTDEPLOY_COMPOSE=plugin|standalone names exactly one.
 */
export function composeCandidates(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env): Array<readonly string[]> {
  const choice = env.SWIFTDEPLOY_COMPOSE;
  if (choice === undefined || choice === '') return [COMPOSE_CHOICES.plugin, COMPOSE_CHOICES.standalone];
  if (choice === 'plugin' || choice === 'standalone') return [COMPOSE_CHOICES[choice]];
  throw new RuntimeError(`SWIFTDEPLOY_COMPOSE=${JSON.stringify(choice)}: expected "plugin" (docker compose) or "standalone" (docker-compose)`);
}

export async function detectDockerEnvironment(options: DetectOptions = {}): Promise<DockerEnvironment> {
  const run = options.run ?? runArgv;
  const runOptions: RunOptions = { timeoutMs: options.timeoutMs ?? 15_000, ...(options.env ? { env: options.env } : {}) };

  const cli = await probe(run, ['docker', '--version'], runOptions);
  if (!cli.ok) {
    throw new RuntimeError(
      `no docker CLI: \`docker --version\` failed (${cli.err || 'no output'}). Install Docker (Debian: apt-get install docker.io).`,
    );
  }
  const engine = await probe(run, dockerServerVersion(), runOptions);
  if (!engine.ok || engine.out === '') {
    const host = options.env?.DOCKER_HOST ?? process.env.DOCKER_HOST;
    throw new RuntimeError(
      `no Docker engine reachable${host ? ` at DOCKER_HOST=${host}` : ''}: ${lastLines(engine.err, 2) || 'no answer'}. ` +
        'Start dockerd (as root: scripts/docker/ensure-engine.sh) or point DOCKER_HOST at a running engine.',
    );
  }
  const candidates = composeCandidates({ ...process.env, ...options.env });
  let flavour: ComposeFlavour | undefined;
  for (const command of candidates) {
    flavour = await composeVersion(run, [...command], runOptions);
    if (flavour) break;
  }
  if (!flavour) {
    const tried = candidates.map((c) => (c.length > 1 ? `the \`${c.join(' ')}\` plugin` : `\`${c.join(' ')}\``)).join(' nor ');
    throw new RuntimeError(
      `no Docker Compose: ${candidates.length > 1 ? `neither ${tried} answered` : `${tried} did not answer`} \`version --short\`` +
        `${process.env.SWIFTDEPLOY_COMPOSE || options.env?.SWIFTDEPLOY_COMPOSE ? ' (SWIFTDEPLOY_COMPOSE chose it)' : ''}. ` +
        'Install one (npm run setup builds the v2 plugin; Debian: apt-get install docker-compose).',
    );
  }
  return { flavour, engineVersion: engine.out };
}
