import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import {
  composeBuild,
  composeConfigCheck,
  composeDown,
  composeLogs,
  composeNginxConfigTest,
  composeNginxReload,
  composePs,
  composeRecreateService,
  composeScaleService,
  composeUp,
  composeUpServices,
  composeVersion,
  DOCKER_PS_TEMPLATE,
  dockerPsByProject,
  type ComposeTarget,
} from '../../src/runtime/compose-argv.js';
import { dockerIdsByProject, dockerImageId, dockerRemove, dockerServerVersion, dockerStop } from '../../src/runtime/docker-argv.js';

const v1: ComposeTarget = { flavour: { command: ['docker-compose'], version: '1.29.2' }, projectName: 'shop', composeFile: '/p/docker-compose.yml' };
const v2: ComposeTarget = { flavour: { command: ['docker', 'compose'], version: '2.24.5' }, projectName: 'shop', composeFile: '/p/docker-compose.yml' };
// Before v2.19 there is no top-level --progress.
const v2old: ComposeTarget = { flavour: { command: ['docker', 'compose'], version: '2.17.2' }, projectName: 'shop', composeFile: '/p/docker-compose.yml' };
const v2standalone: ComposeTarget = { flavour: { command: ['docker-compose'], version: '2.24.5' }, projectName: 'shop', composeFile: '/p/docker-compose.yml' };

const V1 = ['docker-compose', '--ansi', 'never', '--project-name', 'shop', '--file', '/p/docker-compose.yml'];
const V2 = ['docker', 'compose', '--ansi', 'never', '--progress', 'plain', '--project-name', 'shop', '--file', '/p/docker-compose.yml'];
const V2OLD = ['docker', 'compose', '--ansi', 'never', '--project-name', 'shop', '--file', '/p/docker-compose.yml'];

describe('composeVersion', () => {
  it('asks a compose prefix its version, plugin or standalone', () => {
    expect(composeVersion(['docker', 'compose'])).toEqual(['docker', 'compose', 'version', '--short']);
    expect(composeVersion(['docker-compose'])).toEqual(['docker-compose', 'version', '--short']);
  });
});

describe('composeUp', () => {
  it('v1', () => expect(composeUp(v1)).toEqual([...V1, 'up', '--detach', '--remove-orphans']));
  it('v2', () => expect(composeUp(v2)).toEqual([...V2, 'up', '--detach', '--remove-orphans']));
  it('v2 before 2.19 has no --progress', () => expect(composeUp(v2old)).toEqual([...V2OLD, 'up', '--detach', '--remove-orphans']));
  it('standalone v2 binary behaves as v2', () =>
    expect(composeUp(v2standalone)).toEqual(['docker-compose', ...V2.slice(2), 'up', '--detach', '--remove-orphans']));
});

describe('composeUpServices', () => {
  it('one service', () => expect(composeUpServices(v1, ['opa'])).toEqual([...V1, 'up', '--detach', 'opa']));
  it('several services', () => expect(composeUpServices(v2, ['opa', 'app'])).toEqual([...V2, 'up', '--detach', 'opa', 'app']));
  it('refuses an empty list', () => expect(() => composeUpServices(v2, [])).toThrow(UsageError));
  it('refuses a service name that would read as a flag', () => expect(() => composeUpServices(v2, ['--build'])).toThrow(UsageError));
});

describe('composeScaleService', () => {
  it('v1', () =>
    expect(composeScaleService(v1, 'app', 2)).toEqual([...V1, 'up', '--detach', '--no-deps', '--no-recreate', '--scale', 'app=2', 'app']));
  it('v2', () =>
    expect(composeScaleService(v2, 'app', 2)).toEqual([...V2, 'up', '--detach', '--no-deps', '--no-recreate', '--scale', 'app=2', 'app']));
  it('refuses a count outside 1-16 and a flag-like service', () => {
    expect(() => composeScaleService(v1, 'app', 0)).toThrow(/1-16/);
    expect(() => composeScaleService(v1, 'app', 1.5)).toThrow(/1-16/);
    expect(() => composeScaleService(v1, '--x', 2)).toThrow(/service name/);
  });
});

describe('dockerStop', () => {
  it('stops gracefully with a bounded grace period', () => expect(dockerStop(['a', 'b'], 10)).toEqual(['docker', 'stop', '--time', '10', 'a', 'b']));
  it('refuses no ids or a negative timeout', () => {
    expect(() => dockerStop([], 10)).toThrow(/no container ids/);
    expect(() => dockerStop(['a'], -1)).toThrow(/bad timeout/);
  });
});

describe('composeRecreateService', () => {
  it('v1', () => expect(composeRecreateService(v1, 'app')).toEqual([...V1, 'up', '--detach', '--no-deps', '--force-recreate', 'app']));
  it('v2', () => expect(composeRecreateService(v2, 'app')).toEqual([...V2, 'up', '--detach', '--no-deps', '--force-recreate', 'app']));
  it('refuses an empty service name', () => expect(() => composeRecreateService(v2, '')).toThrow(UsageError));
});

describe('composeDown', () => {
  it('removes orphans; networks go with down', () => expect(composeDown(v1)).toEqual([...V1, 'down', '--remove-orphans']));
  it('with volumes', () => expect(composeDown(v2, { removeVolumes: true })).toEqual([...V2, 'down', '--remove-orphans', '--volumes']));
  it('with a stop timeout', () =>
    expect(composeDown(v2, { removeVolumes: true, timeoutSeconds: 3 })).toEqual([...V2, 'down', '--remove-orphans', '--volumes', '--timeout', '3']));
  it('timeout 0 is kept', () => expect(composeDown(v1, { timeoutSeconds: 0 })).toEqual([...V1, 'down', '--remove-orphans', '--timeout', '0']));
  it('refuses a fractional timeout', () => expect(() => composeDown(v1, { timeoutSeconds: 1.5 })).toThrow(UsageError));
});

describe('composePs', () => {
  it('v2 asks compose for JSON, stopped containers included', () => expect(composePs(v2)).toEqual([...V2, 'ps', '--all', '--format', 'json']));
  it('v1 asks docker by project label', () =>
    expect(composePs(v1)).toEqual(['docker', 'ps', '--all', '--no-trunc', '--filter', 'label=com.docker.compose.project=shop', '--format', DOCKER_PS_TEMPLATE]));
  it('dockerPsByProject is the same query', () => expect(dockerPsByProject('shop')).toEqual(composePs(v1)));
  it('the template reads the compose labels one by one', () => {
    expect(DOCKER_PS_TEMPLATE).toContain('"project":{{json (.Label "com.docker.compose.project")}}');
    expect(DOCKER_PS_TEMPLATE).toContain('(.Label "com.docker.compose.service")');
    expect(DOCKER_PS_TEMPLATE).toContain('(.Label "com.docker.compose.oneoff")');
  });
});

describe('composeLogs', () => {
  it('tail of named services', () =>
    expect(composeLogs(v1, { tail: 50, services: ['app', 'nginx'] })).toEqual([...V1, 'logs', '--no-color', '--tail', '50', 'app', 'nginx']));
  it('all services', () => expect(composeLogs(v2, { tail: 5 })).toEqual([...V2, 'logs', '--no-color', '--tail', '5']));
  it('refuses a negative tail', () => expect(() => composeLogs(v2, { tail: -1 })).toThrow(UsageError));
});

describe('config, nginx and build', () => {
  it('config check', () => expect(composeConfigCheck(v1)).toEqual([...V1, 'config', '--quiet']));
  it('nginx config test without a TTY', () => expect(composeNginxConfigTest(v2)).toEqual([...V2, 'exec', '-T', 'nginx', 'nginx', '-t']));
  it('nginx reload without a TTY', () => expect(composeNginxReload(v1)).toEqual([...V1, 'exec', '-T', 'nginx', 'nginx', '-s', 'reload']));
  it('nginx reload in a differently named service', () =>
    expect(composeNginxReload(v2, { service: 'proxy' })).toEqual([...V2, 'exec', '-T', 'proxy', 'nginx', '-s', 'reload']));
  it('nginx config test of a non-default config file', () =>
    expect(composeNginxConfigTest(v1, { configFile: '/etc/sd/nginx.conf' })).toEqual([...V1, 'exec', '-T', 'nginx', 'nginx', '-c', '/etc/sd/nginx.conf', '-t']));
  it('nginx reload of a non-default config file', () =>
    expect(composeNginxReload(v2, { configFile: '/etc/sd/nginx.conf' })).toEqual([...V2, 'exec', '-T', 'nginx', 'nginx', '-c', '/etc/sd/nginx.conf', '-s', 'reload']));
  it('build v2 (global progress)', () => expect(composeBuild(v2, ['app'])).toEqual([...V2, 'build', 'app']));
  it('build v2 before 2.19 (build --progress)', () => expect(composeBuild(v2old, ['app'])).toEqual([...V2OLD, 'build', '--progress', 'plain', 'app']));
  it('build v1, every buildable service', () => expect(composeBuild(v1)).toEqual([...V1, 'build']));
  it('never pulls', () => expect(composeBuild(v2).includes('--pull')).toBe(false));
});

describe('project name', () => {
  it.each(['Shop', '-shop', '_shop', 'shop.prod', 'shop prod', '', 'a'.repeat(64)])('refuses %j', (name) => {
    expect(() => composeUp({ ...v2, projectName: name })).toThrow(UsageError);
    expect(() => dockerPsByProject(name)).toThrow(UsageError);
  });
  it.each(['shop', 'shop-prod_2', '0shop', 'a'.repeat(63)])('accepts %j', (name) => {
    expect(composeUp({ ...v1, projectName: name })).toContain(name);
  });
});

describe('docker engine argv', () => {
  it('server version', () => expect(dockerServerVersion()).toEqual(['docker', 'version', '--format', '{{.Server.Version}}']));
  it('image id', () => expect(dockerImageId('swiftdeploy-app:1.0.0')).toEqual(['docker', 'image', 'inspect', '--format', '{{.Id}}', 'swiftdeploy-app:1.0.0']));
  it('image id refuses a flag', () => expect(() => dockerImageId('--all')).toThrow(UsageError));
  it('containers by project', () =>
    expect(dockerIdsByProject('container', 'shop')).toEqual(['docker', 'ps', '--all', '--quiet', '--no-trunc', '--filter', 'label=com.docker.compose.project=shop']));
  it('networks by project', () =>
    expect(dockerIdsByProject('network', 'shop')).toEqual(['docker', 'network', 'ls', '--quiet', '--no-trunc', '--filter', 'label=com.docker.compose.project=shop']));
  it('volumes by project', () =>
    expect(dockerIdsByProject('volume', 'shop')).toEqual(['docker', 'volume', 'ls', '--quiet', '--filter', 'label=com.docker.compose.project=shop']));
  it('remove containers', () => expect(dockerRemove('container', ['a', 'b'])).toEqual(['docker', 'rm', '--force', '--volumes', 'a', 'b']));
  it('remove networks', () => expect(dockerRemove('network', ['n'])).toEqual(['docker', 'network', 'rm', 'n']));
  it('remove volumes', () => expect(dockerRemove('volume', ['v'])).toEqual(['docker', 'volume', 'rm', '--force', 'v']));
  it('remove nothing is an error', () => expect(() => dockerRemove('volume', [])).toThrow(UsageError));
});
