/**
 * Find out what this machine can run: the docker CLI, a reachable engine, and a compose (the v2
 * plugin first, then the standalone docker-compose, which may itself be v1 or v2).
 */
import { RuntimeError } from '../errors.js';
import { composeVersion as composeVersionArgv } from './compose-argv.js';
import { dockerClientVersion, dockerServerVersion } from './docker-argv.js';
import { parseComposeVersion, type ComposeFlavour } from './flavour.js';
import { lastLines, ProgramNotFound, runArgv, type RunOptions, type Runner } from './run.js';

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
  const r = await probe(run, composeVersionArgv(command), options);
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

function runOptionsOf(options: DetectOptions): RunOptions {
  return { timeoutMs: options.timeoutMs ?? 15_000, ...(options.env ? { env: options.env } : {}) };
}

/** What `docker version` says about the engine: its version, or why there is none. Never throws. */
export type EngineProbe = { up: true; version: string } | { up: false; noCli: boolean; reason: string };

/**
 * Ask the engine its version (dockerServerVersion). `noCli` when the docker program itself is not
 * installed; `reason` is docker's own last words (e.g. "Cannot connect to the Docker daemon ..."),
 * empty when it said nothing.
 */
export async function probeEngine(options: DetectOptions = {}): Promise<EngineProbe> {
  const run = options.run ?? runArgv;
  try {
    const r = await run(dockerServerVersion(), runOptionsOf(options));
    const version = r.stdout.trim();
    if (r.exitCode === 0 && version !== '') return { up: true, version };
    return { up: false, noCli: false, reason: lastLines(r.stderr.trim(), 2) };
  } catch (e) {
    return { up: false, noCli: e instanceof ProgramNotFound, reason: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * The first of composeCandidates() that answers `version --short`, as a flavour. Needs no engine
 * (`validate` checks the compose file without one). Throws RuntimeError naming what was tried.
 */
export async function detectCompose(options: DetectOptions = {}): Promise<ComposeFlavour> {
  const run = options.run ?? runArgv;
  const runOptions = runOptionsOf(options);
  const candidates = composeCandidates({ ...process.env, ...options.env });
  for (const command of candidates) {
    const flavour = await composeVersion(run, [...command], runOptions);
    if (flavour) return flavour;
  }
  const tried = candidates.map((c) => (c.length > 1 ? `the \`${c.join(' ')}\` plugin` : `\`${c.join(' ')}\``)).join(' nor ');
  throw new RuntimeError(
    `no Docker Compose: ${candidates.length > 1 ? `neither ${tried} answered` : `${tried} did not answer`} \`version --short\`` +
      `${process.env.SWIFTDEPLOY_COMPOSE || options.env?.SWIFTDEPLOY_COMPOSE ? ' (SWIFTDEPLOY_COMPOSE chose it)' : ''}. ` +
      'Install one (npm run setup builds the v2 plugin; Debian: apt-get install docker-compose).',
  );
}

/** The docker CLI, then a reachable engine, then a compose: each missing piece is a RuntimeError naming it. */
export async function detectDockerEnvironment(options: DetectOptions = {}): Promise<DockerEnvironment> {
  const run = options.run ?? runArgv;
  const cli = await probe(run, dockerClientVersion(), runOptionsOf(options));
  if (!cli.ok) {
    throw new RuntimeError(
      `no docker CLI: \`docker --version\` failed (${cli.err || 'no output'}). Install Docker (Debian: apt-get install docker.io).`,
    );
  }
  const engine = await probeEngine(options);
  if (!engine.up) {
    const host = options.env?.DOCKER_HOST ?? process.env.DOCKER_HOST;
    throw new RuntimeError(
      `no Docker engine reachable${host ? ` at DOCKER_HOST=${host}` : ''}: ${engine.reason || 'no answer'}. ` +
        'Start dockerd (as root: scripts/docker/ensure-engine.sh) or point DOCKER_HOST at a running engine.',
    );
  }
  return { flavour: await detectCompose(options), engineVersion: engine.version };
}
