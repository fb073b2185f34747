/**
 * The runner against the real engine and compose: a two-service project (node app behind nginx, both
 * on the local base images) brought up, inspected by label, probed over HTTP, changed and torn down.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  composeConfigCheck,
  composeDown,
  composeLogs,
  composeNginxConfigTest,
  composeNginxReload,
  composePs,
  composeRecreateService,
  composeUp,
  type ComposeTarget,
} from '../../src/runtime/compose-argv.js';
import { dockerIdsByProject } from '../../src/runtime/docker-argv.js';
import { pollHealth } from '../../src/runtime/health.js';
import { parseServiceContainers, type ServiceContainer } from '../../src/runtime/ps.js';
import { runArgv, runArgvChecked } from '../../src/runtime/run.js';
import { dockerForTests, skipReason, uniqueProjectName } from '../e2e/helpers/docker.js';
import { makeTempProject, type TempProject } from '../e2e/helpers/project.js';

const docker = await dockerForTests();
if (!docker.available) console.warn(`runtime.compose: skipped: ${docker.reason}`);

const APP = `require('http').createServer((q, s) => {
  s.setHeader('x-mode', process.env.MODE);
  s.end(q.url === '/healthz' ? 'ok' : 'mode=' + process.env.MODE);
}).listen(3000, () => console.log('app listening, mode=' + process.env.MODE));`;

const COMPOSE = `services:
  app:
    image: swiftdeploy-node:local
    command: ["node", "-e", ${JSON.stringify(APP)}]
    environment:
      MODE: \${SDTEST_MODE:-stable}
    init: true
  nginx:
    image: swiftdeploy-nginx:local
    command: ["nginx", "-c", "/etc/swiftdeploy/nginx.conf", "-g", "daemon off;"]
    # The directory, not the file: an atomic rename replaces the inode, which a single-file bind
    # mount would never see.
    volumes: ["./nginx:/etc/swiftdeploy:ro"]
    ports: ["127.0.0.1::80"]
    depends_on: [app]
`;

const NGINX = { configFile: '/etc/swiftdeploy/nginx.conf' };

const nginxConf = (marker: string): string => `events {}
http {
  server {
    listen 80;
    add_header x-conf ${marker} always;
    location / { proxy_pass http://app:3000; }
  }
}
`;

async function writeAtomically(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

describe.skipIf(!docker.available)(`compose runner against the real engine${skipReason(docker)}`, () => {
  let project: TempProject;
  let target: ComposeTarget;
  let baseUrl: string;

  beforeAll(async () => {
    if (!docker.available) return;
    project = await makeTempProject(uniqueProjectName('sdrt'));
    await mkdir(join(project.dir, 'nginx'));
    await writeFile(join(project.dir, 'nginx', 'nginx.conf'), nginxConf('one'));
    await writeFile(join(project.dir, 'docker-compose.yml'), COMPOSE);
    target = { flavour: docker.env.flavour, projectName: project.projectName, composeFile: join(project.dir, 'docker-compose.yml') };
  });
  afterAll(async () => {
    await project?.cleanup();
  });

  const ps = async (): Promise<Map<string, ServiceContainer>> => {
    const r = await runArgvChecked(composePs(target), { timeoutMs: 30_000 });
    return new Map(parseServiceContainers(target.flavour, r.stdout).map((c) => [c.service, c]));
  };
  const get = async (path: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> => {
    const r = await request(`${baseUrl}${path}`, { signal: AbortSignal.timeout(5_000) });
    return { status: r.statusCode, body: await r.body.text(), headers: r.headers };
  };

  it('validates the compose file', async () => {
    const r = await runArgv(composeConfigCheck(target), { timeoutMs: 30_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
  });

  it('brings the stack up; ps finds both services by label; health answers through nginx', async () => {
    await runArgvChecked(composeUp(target), { timeoutMs: 120_000 });
    const services = await ps();
    expect([...services.keys()].sort()).toEqual(['app', 'nginx']);
    expect(services.get('app')?.state).toBe('running');
    // Where nginx's port 80 is published ("127.0.0.1:49153"); only this test needs to ask.
    const port = await runArgvChecked(['docker', 'port', services.get('nginx')!.id, '80'], { timeoutMs: 30_000 });
    expect(port.stdout.trim()).toMatch(/^127\.0\.0\.1:\d+$/);
    baseUrl = `http://${port.stdout.trim()}`;
    const health = await pollHealth(`${baseUrl}/healthz`, { intervalMs: 200, timeoutMs: 20_000 });
    expect(health.healthy, JSON.stringify(health.last)).toBe(true);
    expect(await get('/')).toMatchObject({ status: 200, body: 'mode=stable', headers: { 'x-mode': 'stable', 'x-conf': 'one' } });
  });

  it('recreates only the app, with new settings, leaving nginx running', async () => {
    const before = await ps();
    await runArgvChecked(composeRecreateService(target, 'app'), { timeoutMs: 120_000, env: { SDTEST_MODE: 'canary' } });
    const after = await ps();
    expect(after.get('app')?.id).not.toBe(before.get('app')?.id);
    expect(after.get('nginx')?.id).toBe(before.get('nginx')?.id);
    const health = await pollHealth(`${baseUrl}/healthz`, { intervalMs: 200, timeoutMs: 20_000 });
    expect(health.healthy).toBe(true);
    expect(await get('/')).toMatchObject({ body: 'mode=canary', headers: { 'x-mode': 'canary' } });
  });

  it('reloads nginx after the config is replaced atomically; a broken config fails the test step', async () => {
    await writeAtomically(join(project.dir, 'nginx', 'nginx.conf'), nginxConf('two'));
    await runArgvChecked(composeNginxConfigTest(target, NGINX), { timeoutMs: 30_000 });
    await runArgvChecked(composeNginxReload(target, NGINX), { timeoutMs: 30_000 });
    // The master re-reads the file and starts new workers; allow it a moment.
    const deadline = Date.now() + 5_000;
    let conf: unknown;
    while (Date.now() < deadline && conf !== 'two') {
      conf = (await get('/')).headers['x-conf'];
      if (conf !== 'two') await new Promise((r) => setTimeout(r, 100));
    }
    expect(conf).toBe('two');

    await writeAtomically(join(project.dir, 'nginx', 'nginx.conf'), 'this is not nginx config');
    const broken = await runArgv(composeNginxConfigTest(target, NGINX), { timeoutMs: 30_000 });
    expect(broken.exitCode).not.toBe(0);
    expect(broken.stderr + broken.stdout).toMatch(/nginx.conf/);
  });

  it('shows the last log lines of a service', async () => {
    const r = await runArgvChecked(composeLogs(target, { tail: 5, services: ['app'] }), { timeoutMs: 30_000 });
    expect(r.stdout).toContain('app listening, mode=canary');
    expect(r.stdout).not.toContain('\u001b['); // no ANSI in captured output
  });

  it('tears down containers and networks', async () => {
    await runArgvChecked(composeDown(target, { timeoutSeconds: 2 }), { timeoutMs: 120_000 });
    expect((await ps()).size).toBe(0);
    const networks = await runArgvChecked(dockerIdsByProject('network', target.projectName));
    expect(networks.stdout.trim()).toBe('');
  });
});
