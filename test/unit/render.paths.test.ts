import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPOSE_FILE, GENERATED, NGINX_CONF, composeFileOf, policiesDirFor, policiesPathFor } from '../../src/render/render.js';
import { packageRoot } from '../../src/util/package-root.js';

let bare: string;
let own: string;
beforeAll(async () => {
  bare = await mkdtemp(path.join(os.tmpdir(), 'sd-paths-bare-'));
  own = await mkdtemp(path.join(os.tmpdir(), 'sd-paths-own-'));
  await mkdir(path.join(own, 'policies'));
});
afterAll(async () => {
  await rm(bare, { recursive: true, force: true });
  await rm(own, { recursive: true, force: true });
});

describe('generated file names', () => {
  it('are the two files the templates render, compose file included', () => {
    expect(GENERATED.map((g) => g.relPath)).toEqual([NGINX_CONF, COMPOSE_FILE]);
    expect([NGINX_CONF, COMPOSE_FILE]).toEqual(['nginx/nginx.conf', 'docker-compose.yml']);
    expect(composeFileOf('/srv/shop')).toBe('/srv/shop/docker-compose.yml');
  });
});

describe('the policies directory', () => {
  it("is the project's own, relative for the compose mount and absolute for reading", () => {
    expect(policiesDirFor(own)).toBe('./policies');
    expect(policiesPathFor(own)).toBe(path.join(own, 'policies'));
  });

  it("is swiftdeploy's shipped policies, absolute both ways, when the project has none", () => {
    const shipped = path.join(packageRoot(), 'policies');
    expect(policiesDirFor(bare)).toBe(shipped);
    expect(policiesPathFor(bare)).toBe(shipped);
  });
});
