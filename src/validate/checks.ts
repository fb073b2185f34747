import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ManifestError } from '../errors.js';
import { NGINX_CONF_IN_CONTAINER } from '../render/context.js';
import type { LoadedManifest } from '../manifest/load.js';
import { COMPOSE_FILE, NGINX_CONF, composeFileOf, type RenderedFile } from '../render/render.js';
import { composeConfigCheck } from '../runtime/compose-argv.js';
import type { EngineProbe } from '../runtime/detect.js';
import { dockerImageId, dockerPublishedPorts, dockerRunOnce } from '../runtime/docker-argv.js';
import type { ComposeFlavour } from '../runtime/flavour.js';
import { nginxConfigTest } from '../runtime/nginx-argv.js';

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  id: string;
  status: CheckStatus;
  detail: string;
}

export interface CommandResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** Set when the program is not installed (the runner's ProgramNotFound). */
  missing?: boolean;
}

/**
 * The I/O validate needs, injected so each check can be tested against real or local stand-ins. The
 * argv comes from src/runtime's builders; probes.ts answers with src/runtime's runner and detector.
 */
export interface ValidateProbes {
  run(argv: readonly string[], options?: { cwd?: string; timeoutMs?: number; discardStdout?: boolean }): Promise<CommandResult>;
  /** Whether an engine answers, and its version (the runtime's probeEngine). */
  engine(): Promise<EngineProbe>;
  /** The compose this machine has (the runtime's detectCompose), or why there is none. */
  compose(): Promise<{ flavour: ComposeFlavour } | { missing: string }>;
  /** Whether `host:port` can be bound right now. */
  portFree(host: string, port: number): Promise<boolean>;
}

export interface ValidateInput {
  load: () => Promise<LoadedManifest>;
  render: (loaded: LoadedManifest) => Promise<RenderedFile[]>;
  generatedState: (loaded: LoadedManifest) => Promise<Array<{ relPath: string; state: string }>>;
  probes: ValidateProbes;
}

const pass = (id: string, detail: string): CheckResult => ({ id, status: 'pass', detail });
const fail = (id: string, detail: string): CheckResult => ({ id, status: 'fail', detail });
const skip = (id: string, detail: string): CheckResult => ({ id, status: 'skip', detail });

/** Runs every check in order; later checks that need an earlier result are skipped with the reason. */
export async function runChecks(input: ValidateInput): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  let loaded: LoadedManifest;
  try {
    loaded = await input.load();
    results.push(pass('manifest', `${path.basename(loaded.file)} is valid (sha256 ${loaded.sha256.slice(0, 12)})`));
  } catch (err) {
    const detail = err instanceof ManifestError ? err.message : `cannot load the manifest: ${(err as Error).message}`;
    results.push(fail('manifest', detail));
    for (const id of ['templates', 'generated', 'nginx-config', 'compose-config', 'ports', 'docker-engine', 'app-image']) {
      results.push(skip(id, 'needs a valid manifest'));
    }
    return results;
  }

  let rendered: RenderedFile[] | undefined;
  try {
    rendered = await input.render(loaded);
    results.push(pass('templates', `rendered ${rendered.map((f) => f.relPath).join(', ')}`));
  } catch (err) {
    results.push(fail('templates', (err as Error).message));
  }

  try {
    const states = await input.generatedState(loaded);
    const bad = states.filter((s) => s.state !== 'intact');
    results.push(
      bad.length === 0
        ? pass('generated', `${states.map((s) => s.relPath).join(', ')} present and match the manifest`)
        : fail('generated', bad.map((s) => `${s.relPath} ${describeState(s.state)}`).join('; ')),
    );
  } catch (err) {
    // A generated path that leads out of the project (a symlink) or onto another owned file.
    results.push(fail('generated', (err as Error).message));
  }

  const engine = await input.probes.engine();
  const engineUp = engine.up;

  results.push(rendered ? await nginxCheck(loaded, rendered, input.probes, engineUp) : skip('nginx-config', 'templates did not render'));
  results.push(await composeCheck(loaded, input.probes));
  results.push(await portsCheck(loaded, input.probes, engineUp));
  results.push(
    engine.up
      ? pass('docker-engine', `engine ${engine.version} reachable`)
      : engine.noCli
        ? fail('docker-engine', 'the docker CLI is not installed (Debian: apt-get install docker.io)')
        : fail('docker-engine', `engine not reachable: ${firstLine(engine.reason) || 'docker version failed'}`),
  );
  results.push(await imageCheck(loaded, input.probes, engineUp));
  return results;
}

function describeState(state: string): string {
  switch (state) {
    case 'missing':
      return 'is missing (run `swiftdeploy init`)';
    case 'stale':
      return 'is out of date with the manifest (run `swiftdeploy init`)';
    case 'drifted':
      return 'was edited by hand (its body no longer matches its header hash)';
    default:
      return 'exists but was not generated by swiftdeploy';
  }
}

async function nginxCheck(loaded: LoadedManifest, rendered: RenderedFile[], probes: ValidateProbes, engineUp: boolean): Promise<CheckResult> {
  const conf = rendered.find((f) => f.relPath === NGINX_CONF);
  if (!conf) return skip('nginx-config', 'no nginx.conf is rendered');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'swiftdeploy-nginx-'));
  // The temp dir stands in for the project's nginx/, mounted where the compose file mounts it.
  const inContainer = path.posix.dirname(NGINX_CONF_IN_CONTAINER);
  const name = path.posix.basename(NGINX_CONF_IN_CONTAINER);
  try {
    const file = path.join(dir, name);
    await writeFile(file, conf.content);
    // stdout to /dev/null: nginx opens `access_log /dev/stdout` while testing, which fails on a socket.
    const local = await probes.run(nginxConfigTest(file), { timeoutMs: 15_000, discardStdout: true });
    if (!local.missing) {
      return local.exitCode === 0
        ? pass('nginx-config', 'nginx -t accepts the rendered nginx.conf (local nginx)')
        : fail('nginx-config', `nginx -t rejects the rendered nginx.conf: ${firstLine(local.stderr)}`);
    }
    if (!engineUp) return skip('nginx-config', 'no local nginx binary and no Docker engine to run the nginx image');
    await mkdir(path.join(dir, 'logs'));
    const inImage = dockerRunOnce(loaded.manifest.nginx.image, nginxConfigTest(NGINX_CONF_IN_CONTAINER), [{ host: dir, container: inContainer }]);
    const docker = await probes.run(inImage, { timeoutMs: 60_000 });
    return docker.exitCode === 0
      ? pass('nginx-config', `nginx -t accepts the rendered nginx.conf (image ${loaded.manifest.nginx.image})`)
      : fail('nginx-config', `nginx -t in ${loaded.manifest.nginx.image} failed: ${firstLine(docker.stderr)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `config` parses and validates the file without talking to the engine, so no engine is needed. */
async function composeCheck(loaded: LoadedManifest, probes: ValidateProbes): Promise<CheckResult> {
  const compose = await probes.compose();
  if ('missing' in compose) return skip('compose-config', compose.missing);
  const { flavour } = compose;
  const target = { flavour, projectName: loaded.manifest.project.name, composeFile: composeFileOf(loaded.projectDir) };
  const result = await probes.run(composeConfigCheck(target), { cwd: loaded.projectDir, timeoutMs: 30_000 });
  const program = flavour.command.join(' ');
  if (result.exitCode === 0) return pass('compose-config', `${program} config accepts ${COMPOSE_FILE}`);
  return fail('compose-config', `${program} config rejects ${COMPOSE_FILE}: ${firstLine(result.stderr)}`);
}

async function portsCheck(loaded: LoadedManifest, probes: ValidateProbes, engineUp: boolean): Promise<CheckResult> {
  const wanted: Array<{ name: string; host: string; port: number }> = [{ name: 'nginx', host: '0.0.0.0', port: loaded.manifest.nginx.port }];
  if (loaded.manifest.opa.url === undefined) wanted.push({ name: 'opa', host: '127.0.0.1', port: loaded.manifest.opa.port });
  const busy = [];
  for (const w of wanted) if (!(await probes.portFree(w.host, w.port))) busy.push(w);
  if (busy.length === 0) return pass('ports', wanted.map((w) => `${w.name} ${w.port}`).join(', ') + ' free');
  // A port held by this very stack (it is running) is fine.
  const ours = engineUp ? await publishedByProject(loaded.manifest.project.name, probes) : new Set<number>();
  const foreign = busy.filter((b) => !ours.has(b.port));
  if (foreign.length === 0) return pass('ports', `${busy.map((b) => `${b.name} ${b.port}`).join(', ')} held by this stack`);
  return fail('ports', foreign.map((b) => `${b.name} port ${b.port} is in use by another process`).join('; '));
}

async function publishedByProject(project: string, probes: ValidateProbes): Promise<Set<number>> {
  const ps = await probes.run(dockerPublishedPorts(project), { timeoutMs: 10_000 });
  const ports = new Set<number>();
  for (const m of ps.stdout.matchAll(/:(\d+)->/g)) ports.add(Number(m[1]));
  return ports;
}

async function imageCheck(loaded: LoadedManifest, probes: ValidateProbes, engineUp: boolean): Promise<CheckResult> {
  if (!engineUp) return skip('app-image', 'no Docker engine to ask');
  const image = loaded.manifest.services.image;
  const inspect = await probes.run(dockerImageId(image), { timeoutMs: 10_000 });
  if (inspect.exitCode === 0) return pass('app-image', `${image} exists locally (${inspect.stdout.trim().slice(7, 19)})`);
  if (loaded.manifest.services.build) return pass('app-image', `${image} is not built yet; \`swiftdeploy deploy\` builds it from ${loaded.manifest.services.build.dockerfile}`);
  return fail('app-image', `${image} does not exist locally and services.build is not set`);
}

function firstLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? '';
}

export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
