/**
 * Detection against stand-in `docker` / `docker-compose` programs (real executables on a private PATH)
 * for each missing piece, and once against whatever this machine really has.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/errors.js';
import { detectCompose, detectDockerEnvironment, probeEngine } from '../../src/runtime/detect.js';
import { dockerForTests, skipReason } from '../e2e/helpers/docker.js';

let bin: string;
beforeAll(async () => {
  bin = await mkdtemp(join(tmpdir(), 'sd-detect-'));
});
afterAll(() => rm(bin, { recursive: true, force: true }));

/** A fake docker that has an engine when ENGINE=1 and a compose plugin when PLUGIN=1. */
const FAKE_DOCKER = `#!/bin/sh
case "$1 $2" in
  "--version "*) echo "Docker version 28.2.2, build e6534b4"; exit 0 ;;
  "version --format") if [ "$ENGINE" = 1 ]; then echo "20.10.24"; exit 0; fi
     echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1 ;;
  "compose version") if [ "$PLUGIN" = 1 ]; then echo "v2.24.5"; exit 0; fi
     echo "docker: unknown command: docker compose" >&2; exit 1 ;;
esac
exit 2
`;
const FAKE_COMPOSE_V1 = `#!/bin/sh
[ "$1 $2" = "version --short" ] && { echo "1.29.2"; exit 0; }
exit 2
`;

async function pathWith(dir: string, programs: Record<string, string>): Promise<string> {
  const d = join(bin, dir);
  await mkdir(d, { recursive: true });
  for (const [name, text] of Object.entries(programs)) {
    await writeFile(join(d, name), text);
    await chmod(join(d, name), 0o755);
  }
  return d;
}

describe('detectDockerEnvironment names what is missing', () => {
  it('no docker CLI', async () => {
    const empty = await pathWith('empty', {});
    const err = await detectDockerEnvironment({ env: { PATH: empty } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as Error).message).toMatch(/^no docker CLI: .*docker not found on PATH.*apt-get install docker\.io/);
  });

  it('CLI but no engine', async () => {
    const p = await pathWith('cli', { docker: FAKE_DOCKER });
    const err = await detectDockerEnvironment({ env: { PATH: p, ENGINE: '0', DOCKER_HOST: 'unix:///nowhere.sock' } }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^no Docker engine reachable at DOCKER_HOST=unix:\/\/\/nowhere\.sock: Cannot connect to the Docker daemon/);
    expect((err as Error).message).toContain('ensure-engine.sh');
  });

  it('engine but no compose at all', async () => {
    const p = await pathWith('cli', { docker: FAKE_DOCKER });
    const err = await detectDockerEnvironment({ env: { PATH: p, ENGINE: '1', PLUGIN: '0' } }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^no Docker Compose: neither the `docker compose` plugin nor `docker-compose`/);
  });

  it('prefers the v2 plugin', async () => {
    const p = await pathWith('both', { docker: FAKE_DOCKER, 'docker-compose': FAKE_COMPOSE_V1 });
    expect(await detectDockerEnvironment({ env: { PATH: p, ENGINE: '1', PLUGIN: '1' } })).toEqual({
      flavour: { command: ['docker', 'compose'], version: '2.24.5' },
      engineVersion: '20.10.24',
    });
  });

  it('SWIFTDEPLOY_COMPOSE=standalone uses docker-compose although the plugin answers', async () => {
    const p = await pathWith('both', { docker: FAKE_DOCKER, 'docker-compose': FAKE_COMPOSE_V1 });
    expect(await detectDockerEnvironment({ env: { PATH: p, ENGINE: '1', PLUGIN: '1', SWIFTDEPLOY_COMPOSE: 'standalone' } })).toEqual({
      flavour: { command: ['docker-compose'], version: '1.29.2' },
      engineVersion: '20.10.24',
    });
  });

  it('SWIFTDEPLOY_COMPOSE=plugin never falls back to docker-compose', async () => {
    const p = await pathWith('both', { docker: FAKE_DOCKER, 'docker-compose': FAKE_COMPOSE_V1 });
    const err = await detectDockerEnvironment({ env: { PATH: p, ENGINE: '1', PLUGIN: '0', SWIFTDEPLOY_COMPOSE: 'plugin' } }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^no Docker Compose: the `docker compose` plugin did not answer `version --short` \(SWIFTDEPLOY_COMPOSE chose it\)\./);
    expect((err as Error).message).toContain('(SWIFTDEPLOY_COMPOSE chose it)');
  });

  it('an unknown SWIFTDEPLOY_COMPOSE is refused by name', async () => {
    const p = await pathWith('both', { docker: FAKE_DOCKER, 'docker-compose': FAKE_COMPOSE_V1 });
    const err = await detectDockerEnvironment({ env: { PATH: p, ENGINE: '1', PLUGIN: '1', SWIFTDEPLOY_COMPOSE: 'v3' } }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('SWIFTDEPLOY_COMPOSE="v3": expected "plugin" (docker compose) or "standalone" (docker-compose)');
  });

  it('falls back to docker-compose v1', async () => {
    const p = await pathWith('both', { docker: FAKE_DOCKER, 'docker-compose': FAKE_COMPOSE_V1 });
    expect(await detectDockerEnvironment({ env: { PATH: p, ENGINE: '1', PLUGIN: '0' } })).toEqual({
      flavour: { command: ['docker-compose'], version: '1.29.2' },
      engineVersion: '20.10.24',
    });
  });
});

describe('the detector\'s parts, as validate uses them', () => {
  it('probeEngine: no CLI, CLI without engine, engine up; it never throws', async () => {
    const empty = await pathWith('empty', {});
    expect(await probeEngine({ env: { PATH: empty } })).toMatchObject({ up: false, noCli: true, reason: expect.stringMatching(/^docker not found on PATH/) });
    const p = await pathWith('cli', { docker: FAKE_DOCKER });
    expect(await probeEngine({ env: { PATH: p, ENGINE: '0' } })).toEqual({
      up: false,
      noCli: false,
      reason: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?',
    });
    expect(await probeEngine({ env: { PATH: p, ENGINE: '1' } })).toEqual({ up: true, version: '20.10.24' });
  });

  it('detectCompose needs no engine', async () => {
    const p = await pathWith('both', { docker: FAKE_DOCKER, 'docker-compose': FAKE_COMPOSE_V1 });
    expect(await detectCompose({ env: { PATH: p, ENGINE: '0', PLUGIN: '1' } })).toEqual({ command: ['docker', 'compose'], version: '2.24.5' });
    expect(await detectCompose({ env: { PATH: p, ENGINE: '0', PLUGIN: '0' } })).toEqual({ command: ['docker-compose'], version: '1.29.2' });
  });
});

const real = await dockerForTests([]);
describe.skipIf(!real.available)(`detectDockerEnvironment on this machine${skipReason(real)}`, () => {
  it('finds an engine and a compose it can describe', async () => {
    const env = await detectDockerEnvironment();
    expect(env.engineVersion).toMatch(/^\d+\.\d+/);
    expect(env.flavour.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect([['docker', 'compose'], ['docker-compose']]).toContainEqual(env.flavour.command);
  });
});
