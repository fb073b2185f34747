/**
 * Engine-level docker, nginx and opa commands, as exact argv (each builder is pure). The compose
 * builders and the docker cleanup/stop builders are in runtime.compose-argv.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { dockerClientVersion, dockerDataRootInfo, dockerPublishedPorts, dockerRunOnce } from '../../src/runtime/docker-argv.js';
import { nginxConfigTest } from '../../src/runtime/nginx-argv.js';
import { opaTest } from '../../src/runtime/opa-argv.js';

describe('engine questions', () => {
  it('client version, no engine needed', () => expect(dockerClientVersion()).toEqual(['docker', '--version']));
  it('data root', () => expect(dockerDataRootInfo()).toEqual(['docker', 'info', '--format', '{{.DockerRootDir}}']));
});

describe('dockerPublishedPorts', () => {
  it('published ports of running containers, by compose project label', () =>
    expect(dockerPublishedPorts('shop')).toEqual(['docker', 'ps', '--filter', 'label=com.docker.compose.project=shop', '--format', '{{.Ports}}']));
  it('refuses a project name compose would rewrite', () => expect(() => dockerPublishedPorts('Shop')).toThrow(UsageError));
});

describe('dockerRunOnce', () => {
  it('a throwaway container of a local image with read-only mounts', () =>
    expect(dockerRunOnce('swiftdeploy-nginx:local', nginxConfigTest('/etc/swiftdeploy/nginx/nginx.conf'), [{ host: '/tmp/x', container: '/etc/swiftdeploy/nginx' }])).toEqual([
      'docker', 'run', '--rm', '--pull=never', '-v', '/tmp/x:/etc/swiftdeploy/nginx:ro', 'swiftdeploy-nginx:local', 'nginx', '-t', '-q', '-c', '/etc/swiftdeploy/nginx/nginx.conf',
    ]));
  it('no mounts', () => expect(dockerRunOnce('busybox', ['true'])).toEqual(['docker', 'run', '--rm', '--pull=never', 'busybox', 'true']));
  it('refuses a relative mount (docker would take it for a named volume)', () =>
    expect(() => dockerRunOnce('busybox', ['true'], [{ host: 'nginx', container: '/etc/x' }])).toThrow(UsageError));
  it('refuses an image that would read as a flag', () => expect(() => dockerRunOnce('-v', ['true'])).toThrow(UsageError));
});

describe('nginx', () => {
  it('config test, quiet, of the given file', () => expect(nginxConfigTest('/tmp/n.conf')).toEqual(['nginx', '-t', '-q', '-c', '/tmp/n.conf']));
});

describe('opa', () => {
  it("the policies' tests, verbose", () => expect(opaTest('/x/opa', '/p/policies')).toEqual(['/x/opa', 'test', '-v', '/p/policies']));
});
