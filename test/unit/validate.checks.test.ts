/**
 * validate's checks against stand-in probes: the exact commands each check runs (built by
 * src/runtime, Kamal-style sequence assertions) and the verdict it draws from each answer.
 */
import { describe, expect, it } from 'vitest';
import { parseManifest, type LoadedManifest } from '../../src/manifest/load.js';
import type { EngineProbe } from '../../src/runtime/detect.js';
import { runChecks, type CommandResult, type ValidateProbes } from '../../src/validate/checks.js';
import { testManifest } from '../helpers/manifest.js';

const loaded = (): LoadedManifest => {
  const text = testManifest();
  return { file: '/p/manifest.yaml', projectDir: '/p', text, sha256: 'a'.repeat(64), manifest: parseManifest(text, '/p/manifest.yaml') };
};

interface Call {
  argv: readonly string[];
  options: { cwd?: string; timeoutMs?: number; discardStdout?: boolean };
}

function stand(o: { engine: EngineProbe; answer: (argv: readonly string[]) => CommandResult; freePorts?: boolean }) {
  const calls: Call[] = [];
  const probes: ValidateProbes = {
    run: async (argv, options = {}) => {
      calls.push({ argv, options });
      return o.answer(argv);
    },
    engine: async () => o.engine,
    compose: async () => ({ flavour: { command: ['docker', 'compose'], version: '2.24.5' } }),
    portFree: async () => o.freePorts ?? true,
  };
  const run = () =>
    runChecks({
      load: async () => loaded(),
      render: async () => [{ relPath: 'nginx/nginx.conf', template: 'nginx.conf.hbs', content: 'events {}\n' }],
      generatedState: async () => [{ relPath: 'nginx/nginx.conf', state: 'intact' }],
      probes,
    });
  return { calls, run };
}

const ok = (stdout = ''): CommandResult => ({ exitCode: 0, stdout, stderr: '' });
const notInstalled: CommandResult = { exitCode: undefined, stdout: '', stderr: 'nginx not found on PATH', missing: true };
const COMPOSE_CONFIG = ['docker', 'compose', '--ansi', 'never', '--progress', 'plain', '--project-name', 'swiftdeploy', '--file', '/p/docker-compose.yml', 'config', '--quiet'];

describe('validate with an engine, no local nginx', () => {
  it('runs nginx -t locally, then in the nginx image, compose config, docker image inspect: exactly these commands', async () => {
    const s = stand({
      engine: { up: true, version: '20.10.24' },
      answer: (argv) => (argv[0] === 'nginx' ? notInstalled : argv[1] === 'image' ? ok('sha256:0123456789abcdef0123') : ok()),
    });
    const results = await s.run();
    expect(s.calls).toEqual([
      { argv: ['nginx', '-t', '-q', '-c', expect.stringMatching(/swiftdeploy-nginx-.*\/nginx\.conf$/)], options: { timeoutMs: 15_000, discardStdout: true } },
      {
        argv: ['docker', 'run', '--rm', '--pull=never', '-v', expect.stringMatching(/swiftdeploy-nginx-.*:\/etc\/swiftdeploy\/nginx:ro$/), 'nginx:1.27-alpine', 'nginx', '-t', '-q', '-c', '/etc/swiftdeploy/nginx/nginx.conf'],
        options: { timeoutMs: 60_000 },
      },
      { argv: COMPOSE_CONFIG, options: { cwd: '/p', timeoutMs: 30_000 } },
      { argv: ['docker', 'image', 'inspect', '--format', '{{.Id}}', 'swiftdeploy-app:1.0.0'], options: { timeoutMs: 10_000 } },
    ]);
    expect(results.map((r) => [r.id, r.status, r.detail])).toEqual([
      ['manifest', 'pass', `manifest.yaml is valid (sha256 ${'a'.repeat(12)})`],
      ['templates', 'pass', 'rendered nginx/nginx.conf'],
      ['generated', 'pass', 'nginx/nginx.conf present and match the manifest'],
      ['nginx-config', 'pass', 'nginx -t accepts the rendered nginx.conf (image nginx:1.27-alpine)'],
      ['compose-config', 'pass', 'docker compose config accepts docker-compose.yml'],
      ['ports', 'pass', 'nginx 8080, opa 8181 free'],
      ['docker-engine', 'pass', 'engine 20.10.24 reachable'],
      ['app-image', 'pass', 'swiftdeploy-app:1.0.0 exists locally (0123456789ab)'],
    ]);
  });

  it('a busy port is asked of docker ps by the project label, and one held by this stack passes', async () => {
    const s = stand({
      engine: { up: true, version: '20.10.24' },
      freePorts: false,
      answer: (argv) => (argv[1] === 'ps' ? ok('0.0.0.0:8080->80/tcp\n127.0.0.1:8181->8181/tcp') : ok()),
    });
    const ports = (await s.run()).find((r) => r.id === 'ports');
    expect(s.calls.map((c) => c.argv)).toContainEqual(['docker', 'ps', '--filter', 'label=com.docker.compose.project=swiftdeploy', '--format', '{{.Ports}}']);
    expect(ports).toEqual({ id: 'ports', status: 'pass', detail: 'nginx 8080, opa 8181 held by this stack' });
  });
});

describe('validate without Docker', () => {
  it('no docker CLI: docker-engine fails naming the package; nothing asks the engine', async () => {
    const s = stand({ engine: { up: false, noCli: true, reason: 'docker not found on PATH' }, answer: () => ok() });
    const byId = Object.fromEntries((await s.run()).map((r) => [r.id, r]));
    expect(byId['docker-engine']).toEqual({ id: 'docker-engine', status: 'fail', detail: 'the docker CLI is not installed (Debian: apt-get install docker.io)' });
    expect(byId['app-image']).toEqual({ id: 'app-image', status: 'skip', detail: 'no Docker engine to ask' });
    expect(byId['nginx-config']!.detail).toBe('nginx -t accepts the rendered nginx.conf (local nginx)');
    expect(s.calls.map((c) => c.argv[0])).toEqual(['nginx', 'docker']);
    expect(s.calls[1]!.argv).toEqual(COMPOSE_CONFIG);
  });

  it("an engine that does not answer: docker's own words", async () => {
    const s = stand({
      engine: { up: false, noCli: false, reason: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' },
      answer: (argv) => (argv[0] === 'nginx' ? notInstalled : ok()),
    });
    const byId = Object.fromEntries((await s.run()).map((r) => [r.id, r]));
    expect(byId['docker-engine']!.detail).toBe('engine not reachable: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?');
    expect(byId['nginx-config']).toEqual({ id: 'nginx-config', status: 'skip', detail: 'no local nginx binary and no Docker engine to run the nginx image' });
  });
});
