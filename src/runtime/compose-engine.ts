/**
 * The Docker Compose engine: every method is one builder from compose-argv.ts / docker-argv.ts plus
 * one run through the injected Runner (the real one by default), so an operation's command sequence
 * can be recorded and asserted without Docker. The chaos token travels in the environment of each
 * compose call (`${SWIFTDEPLOY_CHAOS_TOKEN}` in docker-compose.yml), never in a file compose reads.
 */
import { existsSync } from 'node:fs';
import { OperationFailed } from '../errors.js';
import { NGINX_CONF_IN_CONTAINER } from '../render/context.js';
import {
  composeBuild,
  composeDown,
  composeLogs,
  composeNginxConfigTest,
  composeNginxReload,
  composePs,
  composeRecreateService,
  composeScaleService,
  composeUp,
  composeUpServices,
  type ComposeTarget,
} from './compose-argv.js';
import { detectDockerEnvironment } from './detect.js';
import { dockerIdsByProject, dockerImageId, dockerRemove, dockerStop } from './docker-argv.js';
import { dockerDataRoot } from './docker-info.js';
import type { Engine, EngineProject } from './engine.js';
import type { ComposeFlavour } from './flavour.js';
import { parseServiceContainers, type ServiceContainer } from './ps.js';
import { lastLines, runArgv, runArgvChecked, type RunOptions, type Runner } from './run.js';
import { pollUntil } from '../util/poll-until.js';

export interface ComposeEngineOptions {
  /** Runs every command; the real runner (runArgv) when absent. */
  run?: Runner;
  /** The compose to use and the engine's version; detected through `run` when absent. */
  docker?: { flavour: ComposeFlavour; engineVersion: string };
}

/** Detect the machine's compose (unless given) and return the engine for one project. */
export async function connectComposeEngine(project: EngineProject, options: ComposeEngineOptions = {}): Promise<ComposeEngine> {
  const run = options.run ?? runArgv;
  const docker = options.docker ?? (await detectDockerEnvironment({ run }));
  return new ComposeEngine(project, docker.flavour, docker.engineVersion, run);
}

export class ComposeEngine implements Engine {
  readonly target: ComposeTarget;
  private readonly env: Record<string, string>;

  constructor(
    private readonly project: EngineProject,
    flavour: ComposeFlavour,
    readonly version: string,
    private readonly run: Runner = runArgv,
  ) {
    this.target = { flavour, projectName: project.projectName, composeFile: project.composeFile };
    this.env = { SWIFTDEPLOY_CHAOS_TOKEN: project.chaosToken };
  }

  private options(extra: RunOptions = {}): RunOptions {
    const { onLine } = this.project;
    return {
      cwd: this.project.projectDir,
      env: this.env,
      ...(onLine ? { onLine: (line: string) => onLine(line) } : {}),
      ...extra,
    };
  }

  private checked(argv: readonly string[], options: RunOptions = {}): Promise<unknown> {
    return runArgvChecked(argv, options, this.run);
  }

  async startServices(services: readonly string[]): Promise<void> {
    await this.checked(composeUpServices(this.target, services), this.options());
  }

  async up(): Promise<void> {
    await this.checked(composeUp(this.target), this.options());
  }

  private async recreateApp(): Promise<void> {
    await this.checked(composeRecreateService(this.target, 'app'), this.options());
  }

  /**
   * Start-before-stop: add a container beside the running one (`--scale app=N+1 --no-recreate`),
   * wait until Docker reports it healthy, then stop the old one gracefully (it drains in-flight
   * requests) and remove it. nginx resolves `app` to every container's address and retries the other
   * on a refused connection, so clients see no gap; measured in bench/README.md (## promote).
   * Compose's `--force-recreate` stops first and starts after, which failed about 12% of requests
   * during a promote under load. A new container that does not become healthy is removed and the old
   * one keeps serving.
   */
  async replaceApp(healthTimeoutMs: number): Promise<void> {
    const old = (await this.services()).filter((c) => c.service === 'app');
    if (old.length === 0) {
      await this.recreateApp();
      return;
    }
    await this.checked(composeScaleService(this.target, 'app', old.length + 1), this.options());
    const oldIds = new Set(old.map((c) => c.id));
    const isFresh = (c: ServiceContainer) => c.service === 'app' && !oldIds.has(c.id);
    const failed = (c: ServiceContainer) => c.state === 'exited' || c.state === 'dead' || c.health === 'unhealthy';
    const wait = await pollUntil({
      probe: async () => (await this.services()).filter(isFresh),
      until: (fresh) => (fresh.length > 0 && fresh.every((c) => c.health === 'healthy')) || fresh.some(failed),
      intervalMs: 500,
      timeoutMs: healthTimeoutMs,
    });
    const fresh = wait.last ?? [];
    if (wait.outcome !== 'done' || fresh.some(failed)) {
      const logs = await this.logs(['app'], 20);
      if (fresh.length > 0) await this.run(dockerRemove('container', fresh.map((c) => c.id)));
      throw new OperationFailed(
        `the new app container did not become healthy (${fresh.map((c) => `${c.state}${c.health ? `/${c.health}` : ''}`).join(', ') || 'not created'}); ` +
          `the old one keeps serving. Last app log lines:\n${logs}`,
      );
    }
    const ids = [...oldIds];
    await this.checked(dockerStop(ids, 10));
    await this.checked(dockerRemove('container', ids));
  }

  async removeService(service: string): Promise<void> {
    const ids = (await this.services()).filter((c) => c.service === service).map((c) => c.id);
    if (ids.length === 0) return;
    await this.checked(dockerStop(ids, 10));
    await this.checked(dockerRemove('container', ids));
  }

  async reloadNginx(): Promise<void> {
    // `nginx -s reload` exits 0 even when the new config is broken: test it first.
    const nginx = { configFile: NGINX_CONF_IN_CONTAINER };
    await this.checked(composeNginxConfigTest(this.target, nginx), this.options({ onLine: undefined }));
    await this.checked(composeNginxReload(this.target, nginx), this.options({ onLine: undefined }));
  }

  async imageExists(image: string): Promise<boolean> {
    return (await this.run(dockerImageId(image), { timeoutMs: 15_000 })).exitCode === 0;
  }

  async buildApp(): Promise<void> {
    await this.checked(composeBuild(this.target, ['app']), this.options());
  }

  async services(): Promise<ServiceContainer[]> {
    const r = await this.run(composePs(this.target), { cwd: this.project.projectDir, env: this.env, timeoutMs: 30_000 });
    if (r.exitCode !== 0) return [];
    return parseServiceContainers(this.target.flavour, r.stdout);
  }

  async logs(services: readonly string[], tail: number): Promise<string> {
    const r = await this.run(composeLogs(this.target, { tail, services }), {
      cwd: this.project.projectDir,
      env: this.env,
      timeoutMs: 30_000,
    });
    return lastLines(`${r.stdout}\n${r.stderr}`, tail * services.length + services.length);
  }

  /** With the compose file gone (an earlier `teardown --clean`), remove by the compose project label. */
  async down(): Promise<void> {
    if (existsSync(this.target.composeFile)) {
      await this.checked(composeDown(this.target), this.options());
      return;
    }
    for (const kind of ['container', 'network'] as const) {
      const r = await runArgvChecked(dockerIdsByProject(kind, this.target.projectName), {}, this.run);
      const ids = r.stdout.split('\n').filter(Boolean);
      if (ids.length > 0) await this.checked(dockerRemove(kind, ids));
    }
  }

  dataRoot(): Promise<string | null> {
    return dockerDataRoot(this.run);
  }
}
