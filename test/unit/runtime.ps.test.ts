import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/errors.js';
import { parseComposePs, parseDockerPs, parseLabels, parseServiceContainers } from '../../src/runtime/ps.js';

// Shapes as compose v2 prints them: an array before v2.21, one object per line from v2.21.
const app = {
  ID: 'a1',
  Name: 'whatever-the-name-is-1',
  Image: 'swiftdeploy-app:1.0.0',
  Service: 'app',
  State: 'running',
  Status: 'Up 5 seconds (healthy)',
  Health: 'healthy',
  ExitCode: 0,
  Labels: 'com.docker.compose.project=shop,com.docker.compose.service=app,com.docker.compose.oneoff=False',
};
const nginx = { ID: 'n1', Name: 'shop-nginx-1', Image: 'nginx', Service: 'nginx', State: 'exited', Status: 'Exited (1) 3 seconds ago', Health: '', ExitCode: 1 };

describe('parseComposePs (v2)', () => {
  const expected = [
    { id: 'a1', service: 'app', state: 'running', status: 'Up 5 seconds (healthy)', health: 'healthy', image: 'swiftdeploy-app:1.0.0' },
    { id: 'n1', service: 'nginx', state: 'exited', status: 'Exited (1) 3 seconds ago', exitCode: 1, image: 'nginx' },
  ];
  it('JSON array form', () => expect(parseComposePs(JSON.stringify([app, nginx]))).toEqual(expected));
  it('one object per line form', () => expect(parseComposePs(`${JSON.stringify(app)}\n${JSON.stringify(nginx)}\n`)).toEqual(expected));
  it.each(['', '\n', '[]', '  \n\n'])('empty project %j', (text) => expect(parseComposePs(text)).toEqual([]));
  it('the service label wins over the Service field and the name', () =>
    expect(parseComposePs(JSON.stringify([{ ...app, Service: 'other', Name: 'shop-nginx-1' }]))[0]?.service).toBe('app'));
  it('labels given as an object', () =>
    expect(parseComposePs(JSON.stringify([{ ...app, Service: undefined, Labels: { 'com.docker.compose.service': 'app' } }]))[0]?.service).toBe('app'));
  it('skips one-off `compose run` containers', () =>
    expect(parseComposePs(JSON.stringify([{ ...app, Labels: 'com.docker.compose.service=app,com.docker.compose.oneoff=True' }]))).toEqual([]));
  it('skips entries without a service', () => expect(parseComposePs(JSON.stringify([{ ID: 'x', State: 'running' }]))).toEqual([]));
  it('a running container has no exit code even if compose says 0', () => expect(parseComposePs(JSON.stringify([app]))[0]).not.toHaveProperty('exitCode'));
  it('garbage is a RuntimeError quoting it', () => expect(() => parseComposePs('Error: no such project')).toThrow(/could not parse docker compose ps output as JSON: Error: no such project/));
  it('a non-object entry is a RuntimeError', () => expect(() => parseComposePs('[1]')).toThrow(RuntimeError));
});

describe('parseLabels', () => {
  it('string form', () => expect(parseLabels('a=1,b=2')).toEqual({ a: '1', b: '2' }));
  it('a value containing a comma continues the previous label', () =>
    expect(parseLabels('com.docker.compose.project.config_files=/p/a.yml,/p/b.yml,com.docker.compose.service=app')).toEqual({
      'com.docker.compose.project.config_files': '/p/a.yml,/p/b.yml',
      'com.docker.compose.service': 'app',
    }));
  it('a value containing "="', () => expect(parseLabels('k=a=b')).toEqual({ k: 'a=b' }));
  it('object form drops non-strings', () => expect(parseLabels({ a: '1', b: 2 })).toEqual({ a: '1' }));
  it.each([undefined, null, '', 5])('nothing from %j', (v) => expect(parseLabels(v)).toEqual({}));
});

describe('parseDockerPs (DOCKER_PS_TEMPLATE, compose v1)', () => {
  const line = (o: Record<string, string>) => JSON.stringify({ id: 'c1', project: 'shop', service: 'app', oneoff: 'False', state: 'running', status: 'Up 2 minutes', image: 'img', ...o });
  it('one object per line', () =>
    expect(parseDockerPs(`${line({})}\n${line({ id: 'c2', service: 'nginx', state: 'exited', status: 'Exited (137) 1 second ago' })}`)).toEqual([
      { id: 'c1', service: 'app', state: 'running', status: 'Up 2 minutes', image: 'img' },
      { id: 'c2', service: 'nginx', state: 'exited', status: 'Exited (137) 1 second ago', exitCode: 137, image: 'img' },
    ]));
  it.each([
    ['Up 3 seconds (health: starting)', 'starting'],
    ['Up 1 minute (healthy)', 'healthy'],
    ['Up 1 minute (unhealthy)', 'unhealthy'],
  ])('health read from status %j', (status, health) => expect(parseDockerPs(line({ status }))[0]?.health).toBe(health));
  it('no healthcheck, no health', () => expect(parseDockerPs(line({}))[0]).not.toHaveProperty('health'));
  it('skips one-off containers', () => expect(parseDockerPs(line({ oneoff: 'True' }))).toEqual([]));
  it('skips containers without the service label', () => expect(parseDockerPs(line({ service: '' }))).toEqual([]));
  it('empty output', () => expect(parseDockerPs('')).toEqual([]));
});

describe('parseServiceContainers picks the parser by flavour', () => {
  it('v1 reads docker ps lines', () =>
    expect(parseServiceContainers({ command: ['docker-compose'], version: '1.29.2' }, '{"id":"c","service":"app","state":"running","status":"Up"}')).toEqual([
      { id: 'c', service: 'app', state: 'running', status: 'Up' },
    ]));
  it('v2 reads compose JSON', () =>
    expect(parseServiceContainers({ command: ['docker', 'compose'], version: '2.24.5' }, JSON.stringify([app]))[0]?.service).toBe('app'));
});
