/**
 * Rendering with a progressive rollout: the manifest's `canary:` section and the canary's current
 * weight give two app services and nginx's weighted split. Goldens in test/fixtures/golden/canary/.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { parseManifest } from '../../src/manifest/load.js';
import { templateContext, type Rollout } from '../../src/render/context.js';
import { renderAll } from '../../src/render/render.js';
import { expectGolden } from '../helpers/golden.js';

const DEFAULT_MANIFEST = readFileSync(fileURLToPath(new URL('../../manifest.yaml', import.meta.url)), 'utf8');
const CANARY_MANIFEST = readFileSync(fileURLToPath(new URL('../fixtures/golden/canary/manifest.yaml', import.meta.url)), 'utf8');
const STICKY_MANIFEST = replaceOnce(CANARY_MANIFEST, 'sticky: false', 'sticky: true');
const ENV = { policiesDir: './policies' };

function replaceOnce(text: string, from: string, to: string): string {
  expect(text.split(from).length - 1, `"${from}" should occur exactly once`).toBe(1);
  return text.replace(from, to);
}

async function render(manifestText: string, rollout?: Rollout): Promise<{ nginx: string; compose: string }> {
  const files = await renderAll(parseManifest(manifestText, 'manifest.yaml'), ENV, rollout);
  const byPath = Object.fromEntries(files.map((f) => [f.relPath, f.content]));
  return { nginx: byPath['nginx/nginx.conf']!, compose: byPath['docker-compose.yml']! };
}

interface ComposeService {
  image: string;
  build?: unknown;
  restart: string;
  environment: Record<string, string>;
  depends_on?: unknown;
  [key: string]: unknown;
}
const servicesOf = (compose: string) => (YAML.parse(compose) as { services: Record<string, ComposeService> }).services;

describe('a manifest without canary: renders as before, whatever the rollout', () => {
  for (const rollout of [undefined, { weight: 0 }, { weight: 10 }, { weight: 100 }]) {
    it(`rollout ${JSON.stringify(rollout)}: both files are the default goldens`, async () => {
      const { nginx, compose } = await render(DEFAULT_MANIFEST, rollout);
      expectGolden(nginx, 'nginx.conf');
      expectGolden(compose, 'docker-compose.yml');
    });
  }
});

describe('a manifest with canary: but no rollout: the stable track alone', () => {
  it('nginx.conf is the default one; compose has app only, with TRACK: stable', async () => {
    const { nginx, compose } = await render(CANARY_MANIFEST);
    expectGolden(nginx, 'nginx.conf');
    expectGolden(compose, 'canary/stable-only.docker-compose.yml');
    const services = servicesOf(compose);
    expect(Object.keys(services)).toEqual(['app', 'nginx', 'opa']);
    expect(services.app!.environment.TRACK).toBe('stable');
  });
});

describe('goldens with a rollout', () => {
  for (const [label, text] of [
    ['split by request', CANARY_MANIFEST],
    ['sticky', STICKY_MANIFEST],
  ] as const) {
    const prefix = label === 'sticky' ? 'sticky-' : '';
    for (const weight of [0, 10, 100]) {
      it(`${label}, weight ${weight}: nginx.conf matches canary/${prefix}w${weight}.nginx.conf`, async () => {
        expectGolden((await render(text, { weight })).nginx, `canary/${prefix}w${weight}.nginx.conf`);
      });
    }
  }

  it('docker-compose.yml is one golden for every weight and either assignment', async () => {
    const first = (await render(CANARY_MANIFEST, { weight: 0 })).compose;
    expectGolden(first, 'canary/rollout.docker-compose.yml');
    for (const text of [CANARY_MANIFEST, STICKY_MANIFEST]) {
      for (const weight of [0, 1, 10, 50, 99, 100]) expect((await render(text, { weight })).compose).toBe(first);
    }
  });

  it('rendering twice is byte-identical', async () => {
    for (const weight of [0, 25, 100]) {
      expect(await render(STICKY_MANIFEST, { weight })).toEqual(await render(STICKY_MANIFEST, { weight }));
    }
  });
});

describe('the two tracks in docker-compose.yml', () => {
  it('app-canary has the stable app\'s hardening, healthcheck and network; its own image, version, MODE and TRACK; no build', async () => {
    const services = servicesOf((await render(CANARY_MANIFEST, { weight: 10 })).compose);
    expect(Object.keys(services)).toEqual(['app', 'app-canary', 'nginx', 'opa']);
    const { app, 'app-canary': canary } = services as { app: ComposeService; 'app-canary': ComposeService };
    expect(canary.image).toBe('swiftdeploy-app:1.1.0');
    expect(canary.environment).toEqual({ ...app.environment, MODE: 'canary', TRACK: 'canary', APP_VERSION: '1.1.0' });
    expect(app.environment).toMatchObject({ MODE: 'stable', TRACK: 'stable', APP_VERSION: '1.0.0' });
    expect(canary).not.toHaveProperty('build');
    const { image: _a, build: _b, environment: _c, ...appRest } = app;
    const { image: _d, environment: _e, ...canaryRest } = canary;
    expect(canaryRest).toEqual(appRest); // restart, expose, user, read_only, tmpfs, cap_drop, security_opt, healthcheck, networks
    expect(Object.keys(canaryRest).sort()).toEqual(
      ['cap_drop', 'expose', 'healthcheck', 'networks', 'read_only', 'restart', 'security_opt', 'tmpfs', 'user'].sort(),
    );
  });

  it('canary.image and canary.version default to the stable ones (canary mode, as promote does today)', async () => {
    const text = replaceOnce(replaceOnce(CANARY_MANIFEST, '  image: swiftdeploy-app:1.1.0\n', ''), '  version: "1.1.0"\n  steps', '  steps');
    const canary = servicesOf((await render(text, { weight: 10 })).compose)['app-canary']!;
    expect(canary.image).toBe('swiftdeploy-app:1.0.0');
    expect(canary.environment).toMatchObject({ MODE: 'canary', TRACK: 'canary', APP_VERSION: '1.0.0' });
  });

  it('nginx is the same service with or without a rollout (a weight change never recreates it) and depends on app only', async () => {
    const without = servicesOf((await render(CANARY_MANIFEST)).compose);
    const withRollout = servicesOf((await render(CANARY_MANIFEST, { weight: 50 })).compose);
    expect(withRollout.nginx).toEqual(without.nginx);
    expect(withRollout.app).toEqual(without.app);
    expect(withRollout.nginx!.depends_on).toEqual({ app: { condition: 'service_healthy' } });
  });
});

describe('the split in nginx.conf', () => {
  const splitOf = (nginx: string) => /split_clients "([^"]+)" \$swiftdeploy_track \{\n\s+(\d+)% canary;\n\s+\* {3}stable;\n\s+\}/.exec(nginx);

  it('split_clients over $request_id, the canary range first, at every weight from 1 to 99', async () => {
    for (const weight of [1, 10, 25, 50, 99]) {
      const { nginx } = await render(CANARY_MANIFEST, { weight });
      const split = splitOf(nginx);
      expect(split?.[1], `weight ${weight}`).toBe('${request_id}');
      expect(split?.[2]).toBe(String(weight));
      expect(nginx).toContain('canary  http://app-canary:3000;\n        default http://app:3000;');
      expect(nginx).not.toMatch(/set \$swiftdeploy_app /);
      expect(nginx).not.toContain('Set-Cookie');
    }
  });

  it('sticky: split_clients over the bucket cookie (or this request\'s id without one), and a Set-Cookie for a client without one', async () => {
    const { nginx } = await render(STICKY_MANIFEST, { weight: 25 });
    expect(splitOf(nginx)?.[1]).toBe('${swiftdeploy_bucket}');
    expect(nginx).toContain('map $cookie_swiftdeploy_bucket $swiftdeploy_bucket {\n        ""      $request_id;\n        default $cookie_swiftdeploy_bucket;');
    expect(nginx).toContain('""      "swiftdeploy_bucket=$request_id; Path=/; HttpOnly; SameSite=Lax";');
    expect(nginx).toContain('add_header Set-Cookie $swiftdeploy_set_bucket always;');
  });

  it('weight 0 sends everything to app and weight 100 to app-canary, without split_clients (it refuses 0%)', async () => {
    for (const text of [CANARY_MANIFEST, STICKY_MANIFEST]) {
      const zero = (await render(text, { weight: 0 })).nginx;
      const all = (await render(text, { weight: 100 })).nginx;
      expect(zero).not.toContain('split_clients');
      expect(all).not.toContain('split_clients');
      expect(zero).toContain('set $swiftdeploy_app http://app:3000;');
      expect(all).toContain('set $swiftdeploy_app http://app-canary:3000;');
    }
    // A sticky client still gets its bucket at 0%, so the first step already finds it.
    expect((await render(STICKY_MANIFEST, { weight: 0 })).nginx).toContain('add_header Set-Cookie $swiftdeploy_set_bucket always;');
  });

  it('per-track metrics locations exist with a rollout, at every weight, and not without one', async () => {
    for (const weight of [0, 10, 100]) {
      const { nginx } = await render(CANARY_MANIFEST, { weight });
      expect(nginx).toContain('location = /__swiftdeploy/tracks/stable/metrics {\n            set $swiftdeploy_track_metrics http://app:3000/metrics;');
      expect(nginx).toContain('location = /__swiftdeploy/tracks/canary/metrics {\n            set $swiftdeploy_track_metrics http://app-canary:3000/metrics;');
    }
    expect((await render(CANARY_MANIFEST)).nginx).not.toContain('/__swiftdeploy/tracks/');
  });

  it('services.port reaches both tracks\' upstreams', async () => {
    const { nginx } = await render(replaceOnce(CANARY_MANIFEST, 'port: 3000', 'port: 4321'), { weight: 10 });
    expect(nginx).toContain('canary  http://app-canary:4321;');
    expect(nginx).toContain('default http://app:4321;');
    expect(nginx).not.toContain(':3000');
  });
});

describe('the rollout argument', () => {
  it('is refused unless an integer from 0 to 100', () => {
    const m = parseManifest(CANARY_MANIFEST, 'manifest.yaml');
    for (const weight of [-1, 101, 10.5, Number.NaN]) {
      expect(() => templateContext(m, ENV, { weight })).toThrow(/^rollout weight: expected an integer from 0 to 100, got /);
    }
    expect(() => templateContext(m, ENV, { weight: 0 })).not.toThrow();
  });
});
