import { existsSync } from 'node:fs';
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
} from '../runtime/compose-argv.js';
import { detectDockerEnvironment } from '../runtime/detect.js';
import { dockerIdsByProject, dockerImageId, dockerRemove, dockerStop } from '../runtime/docker-argv.js';
import { parseServiceContainers, type ServiceContainer } from '../runtime/ps.js';
import { lastLines, runArgv, runArgvChecked, type RunOptions } from '../runtime/run.js';
import { ensureChaosToken } from '../runtime/chaos-token.js';
import { OperationFailed } from '../errors.js';
import type { Session } from './session.js';

/** Where docker-compose.yml mounts nginx/ and what its nginx is started with (`nginx -c`). */
export const NGINX_CONF_IN_CONTAINER = '/etc/swiftdeploy/nginx/nginx.conf';

/**
 * The running stack of one project, as compose sees it. Every method is one builder from
 * src/runtime/ plus one run; the chaos token travels in the environment of each compose call
 * (`${SWIFTDEPLOY_CHAOS_TOKEN}` in docker-compose.yml), never in a file compose reads.
 */
export class Stack {
  private constructor(
    readonly target: ComposeTarget,
    private readonly env: Record<string, string>,
    private readonly session: Session,
    readonly engineVersion: string,
  ) {}

  static async connect(session: Session): Promise<Stack> {
    const docker = await detectDockerEnvironment();
    const token = await ensureChaosToken(session.stateDir);
    return new Stack(
      { flavour: docker.flavour, projectName: session.manifest.project.name, composeFile: session.composeFile() },
      { SWIFTDEPLOY_CHAOS_TOKEN: token },
      session,
      docker.engineVersion,
    );
  }

  private options(extra: RunOptions = {}): RunOptions {
    const out = this.session.out;
    return {
      cwd: this.session.loaded.projectDir,
      env: this.env,
      // compose's progress goes to stderr as plain lines: show it dimmed as it happens
      onLine: (line) => {
        if (line.trim() !== '') out.runtimeOutput(line);
      },
      ...extra,
    };
  }

  startServices(services: string[]): Promise<unknown> {
    return runArgvChecked(composeUpServices(this.target, services), this.options());
  }

  up(): Promise<unknown> {
    return runArgvChecked(composeUp(this.target), this.options());
  }

  recreateApp(): Promise<unknown> {
    return runArgvChecked(composeRecreateService(this.target, 'app'), this.options());
  }

  /**
   * Replace the app container with one built from the current compose file, start-before-stop:
   * add a container beside the running one (`--scale app=N+1 --no-recreate`), wait until Docker
   * reports it healthy, then stop the old one gracefully (it drains in-flight requests) and remove
   * it. nginx resolves `app` to every container's address and retries the other on a refused
   * connection, so clients see no gap; measured in bench/README.md (## promote). Compose's
   * `--force-recreate` stops first and starts after, which failed about 12% of requests during a
   * promote under load. A new container that does not become healthy is removed and the old one
   * keeps serving.
   */
  async replaceApp(healthTimeoutMs: number): Promise<void> {
    const old = (await this.services()).filter((c) => c.service === 'app');
    if (old.length === 0) {
      await this.recreateApp();
      return;
    }
    await runArgvChecked(composeScaleService(this.target, 'app', old.length + 1), this.options());
    const oldIds = new Set(old.map((c) => c.id));
    const deadline = Date.now() + healthTimeoutMs;
    let fresh = (await this.services()).filter((c) => c.service === 'app' && !oldIds.has(c.id));
    while (!(fresh.length > 0 && fresh.every((c) => c.health === 'healthy'))) {
      if (Date.now() > deadline || fresh.some((c) => c.state === 'exited' || c.state === 'dead' || c.health === 'unhealthy')) {
        const logs = await this.logs(['app'], 20);
        if (fresh.length > 0) await runArgv(dockerRemove('container', fresh.map((c) => c.id)));
        throw new OperationFailed(
          `the new app container did not become healthy (${fresh.map((c) => `${c.state}${c.health ? `/${c.health}` : ''}`).join(', ') || 'not created'}); ` +
            `the old one keeps serving. Last app log lines:\n${logs}`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
      fresh = (await this.services()).filter((c) => c.service === 'app' && !oldIds.has(c.id));
    }
    const ids = [...oldIds];
    await runArgvChecked(dockerStop(ids, 10));
    await runArgvChecked(dockerRemove('container', ids));
  }

  async reloadNginx(): Promise<void> {
    // `nginx -s reload` exits 0 even when the new config is broken: test it first.
    const nginx = { configFile: NGINX_CONF_IN_CONTAINER };
    await runArgvChecked(composeNginxConfigTest(this.target, nginx), this.options({ onLine: undefined }));
    await runArgvChecked(composeNginxReload(this.target, nginx), this.options({ onLine: undefined }));
  }

  async imageExists(image: string): Promise<boolean> {
    return (await runArgv(dockerImageId(image), { timeoutMs: 15_000 })).exitCode === 0;
  }

  buildApp(): Promise<unknown> {
    return runArgvChecked(composeBuild(this.target, ['app']), this.options());
  }

  async services(): Promise<ServiceContainer[]> {
    const r = await runArgv(composePs(this.target), { cwd: this.session.loaded.projectDir, env: this.env, timeoutMs: 30_000 });
    if (r.exitCode !== 0) return [];
    return parseServiceContainers(this.target.flavour, r.stdout);
  }

  async logs(services: string[], tail: number): Promise<string> {
    const r = await runArgv(composeLogs(this.target, { tail, services }), {
      cwd: this.session.loaded.projectDir,
      env: this.env,
      timeoutMs: 30_000,
    });
    return lastLines(`${r.stdout}\n${r.stderr}`, tail * services.length + services.length);
  }

  /**
   * Stop and remove the project's containers and network. With the compose file gone (an earlier
   * `teardown --clean`), fall back to removing by the compose project label.
   */
  async down(): Promise<void> {
    if (existsSync(this.target.composeFile)) {
      await runArgvChecked(composeDown(this.target), this.options());
      return;
    }
    for (const kind of ['container', 'network'] as const) {
      const ids = (await runArgvChecked(dockerIdsByProject(kind, this.target.projectName))).stdout.split('\n').filter(Boolean);
      if (ids.length > 0) await runArgvChecked(dockerRemove(kind, ids));
    }
  }
}

/** One line per service for failure reports: "app: running (unhealthy) Up 40 seconds (unhealthy)". */
export function describeServices(services: ServiceContainer[]): string {
  if (services.length === 0) return '  (no containers)';
  return services
    .map((s) => `  ${s.service}: ${s.state}${s.health ? ` (${s.health})` : ''} - ${s.status}`)
    .join('\n');
}
