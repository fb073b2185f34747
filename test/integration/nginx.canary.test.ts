/**
 * The rendered canary nginx.conf with the real nginx: `nginx -t` on every variant, then the split
 * itself, with two real apps (the stable and the canary track, each answering with its X-Track)
 * behind a real nginx on 127.0.0.1.
 *
 * Outside Docker there is no `app` / `app-canary` name and no resolver at 127.0.0.11, so the running
 * copy of the config changes only what ties it to a container: the two upstream URLs become
 * 127.0.0.1 addresses (an IP in a variable proxy_pass needs no resolver), and `listen`, the pid file
 * and the access log move to this test's own port and temp directory. Every rewrite must match
 * exactly as often as expected, so a template change cannot slip past it. The split itself
 * (split_clients, maps, cookie) runs exactly as rendered.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/manifest/load.js';
import type { Rollout } from '../../src/render/context.js';
import { renderAll } from '../../src/render/render.js';
import { nginxForSuite, suiteTempDirs } from '../helpers/nginx.js';
import { startApp, type RunningApp } from './app.harness.js';
import { freePort } from '../helpers/opa-server.mjs';

const CANARY_MANIFEST = readFileSync(fileURLToPath(new URL('../fixtures/golden/canary/manifest.yaml', import.meta.url)), 'utf8');
const STICKY_MANIFEST = CANARY_MANIFEST.replace('sticky: false', 'sticky: true');

const { nginx: NGINX, skip: NGINX_SKIP } = nginxForSuite();
const tempDir = suiteTempDirs();

async function renderedConf(manifestText: string, rollout?: Rollout): Promise<string> {
  const files = await renderAll(parseManifest(manifestText, 'manifest.yaml'), { policiesDir: './policies' }, rollout);
  return files.find((f) => f.relPath === 'nginx/nginx.conf')!.content;
}

describe.skipIf(NGINX_SKIP !== undefined)('nginx -t on every rendered canary nginx.conf', () => {
  const variants: Array<[string, string, Rollout | undefined]> = [];
  for (const [label, text] of [['split by request', CANARY_MANIFEST], ['sticky', STICKY_MANIFEST]] as const) {
    variants.push([`${label}, no rollout`, text, undefined]);
    for (const weight of [0, 1, 10, 25, 50, 99, 100]) variants.push([`${label}, weight ${weight}`, text, { weight }]);
  }
  for (const [name, text, rollout] of variants) {
    it(`accepts ${name}`, async () => {
      const dir = await tempDir('swiftdeploy-nginx-canary-t-');
      const file = path.join(dir, 'nginx.conf');
      await writeFile(file, await renderedConf(text, rollout));
      const r = await execa(NGINX!, ['-t', '-q', '-c', file], { reject: false, stdout: 'ignore', stdin: 'ignore' });
      expect(r.exitCode, r.stderr).toBe(0);
    });
  }
});

/** A port nothing listens on right now (bound and released). */

/** Replaces every `from` in `text`, insisting that there are exactly `count` of them. */
function replaceExactly(text: string, from: string, to: string, count: number): string {
  const found = text.split(from).length - 1;
  if (found !== count) throw new Error(`expected ${count} of ${JSON.stringify(from)} in the rendered nginx.conf, found ${found}`);
  return text.split(from).join(to);
}

interface Upstreams {
  stable: RunningApp;
  canary: RunningApp;
}

/** The rendered config made runnable on this host (see the file comment), listening on `port`. */
function runnableCopy(conf: string, apps: Upstreams, port: number, dir: string, weight: number): string {
  const portOf = (app: RunningApp) => new URL(app.url).port;
  // Each URL is in the rollout comment and its track's metrics and chaos locations, plus the split's map or the fixed upstream.
  const inSplit = weight > 0 && weight < 100 ? 1 : 0;
  let out = replaceExactly(conf, 'http://app-canary:3000', `http://127.0.0.1:${portOf(apps.canary)}`, 3 + inSplit + (weight === 100 ? 1 : 0));
  out = replaceExactly(out, 'http://app:3000', `http://127.0.0.1:${portOf(apps.stable)}`, 3 + inSplit + (weight === 0 ? 1 : 0));
  out = replaceExactly(out, 'listen 8080;', `listen 127.0.0.1:${port};`, 1);
  out = replaceExactly(out, 'pid /tmp/nginx.pid;', `pid ${path.join(dir, 'nginx.pid')};`, 1);
  out = replaceExactly(out, 'access_log /dev/stdout swiftdeploy;', 'access_log off;', 1);
  return replaceExactly(out, 'access_log /var/log/nginx/access.log swiftdeploy;', `access_log ${path.join(dir, 'access.log')} swiftdeploy;`, 1);
}

interface RunningNginx {
  url: string;
  stop(): Promise<void>;
}

/** Starts nginx in the foreground on `conf` and waits until it answers. */
async function startNginx(conf: string, apps: Upstreams, weight: number): Promise<RunningNginx> {
  const dir = await tempDir('swiftdeploy-nginx-canary-run-');
  const port = await freePort();
  const file = path.join(dir, 'nginx.conf');
  await writeFile(file, runnableCopy(conf, apps, port, dir, weight));
  const child: ChildProcess = spawn(NGINX!, ['-c', file, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${stderr}`);
    const ok = await request(`${url}/healthz`).then(
      async (r) => (await r.body.dump(), r.statusCode === 200),
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`nginx did not answer within 10 s: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

interface Answer {
  status: number;
  track: string | undefined;
  setCookie: string | undefined;
}

async function get(url: string, cookie?: string): Promise<Answer> {
  const r = await request(url, { headers: cookie === undefined ? {} : { cookie } });
  await r.body.dump();
  const track = r.headers['x-track'];
  const setCookie = r.headers['set-cookie'];
  return {
    status: r.statusCode,
    track: typeof track === 'string' ? track : undefined,
    setCookie: Array.isArray(setCookie) ? setCookie.join('\n') : setCookie,
  };
}

/** `count` GETs of `url` with at most 16 in flight; the answers in order. */
async function getMany(url: string, count: number): Promise<Answer[]> {
  const answers = new Array<Answer>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      answers[i] = await get(url);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return answers;
}

const BUCKET = /^swiftdeploy_bucket=([0-9a-f]{32}); Path=\/; HttpOnly; SameSite=Lax$/;

describe.skipIf(NGINX_SKIP !== undefined)('the split through a real nginx and two real apps', () => {
  let apps: Upstreams;
  beforeAll(async () => {
    const [stable, canary] = await Promise.all([
      startApp({ mode: 'stable', track: 'stable', version: '1.0.0' }),
      startApp({ mode: 'canary', track: 'canary', version: '1.1.0' }),
    ]);
    apps = { stable, canary };
  });
  afterAll(async () => {
    await Promise.all([apps?.stable.close(), apps?.canary.close()]);
  });

  async function withNginx<T>(text: string, weight: number, body: (nginx: RunningNginx) => Promise<T>): Promise<T> {
    const nginx = await startNginx(await renderedConf(text, { weight }), apps, weight);
    try {
      return await body(nginx);
    } finally {
      await nginx.stop();
    }
  }

  // Each request is assigned by the hash of its random $request_id: the canary count over N requests
  // is Binomial(N, w). With N = 2000 the standard deviation is sqrt(N w (1 - w)): 13.4 at 10%, 19.4 at
  // 25%, 22.4 at 50%. The bound is 4.5 standard deviations (a correct split falls outside it about
  // once in 150,000 runs), i.e. ±60, ±87 and ±101 requests; a split off by 5 points (100 requests)
  // lands outside at 10% and 25% and at the edge at 50%.
  const N = 2000;
  for (const weight of [10, 25, 50]) {
    const sigma = Math.sqrt(N * (weight / 100) * (1 - weight / 100));
    const tolerance = Math.round(4.5 * sigma);
    it(`weight ${weight}: the canary serves ${(N * weight) / 100} ± ${tolerance} of ${N} requests (4.5 sigma), every answer 200 with its track`, async () => {
      await withNginx(CANARY_MANIFEST, weight, async (nginx) => {
        const answers = await getMany(`${nginx.url}/`, N);
        expect(answers.filter((a) => a.status !== 200)).toEqual([]);
        const canary = answers.filter((a) => a.track === 'canary').length;
        const stable = answers.filter((a) => a.track === 'stable').length;
        expect(canary + stable).toBe(N);
        expect(canary).toBeGreaterThanOrEqual((N * weight) / 100 - tolerance);
        expect(canary).toBeLessThanOrEqual((N * weight) / 100 + tolerance);
        expect(answers.every((a) => a.setCookie === undefined)).toBe(true); // not sticky: no cookie
      });
    }, 60_000);
  }

  it('weight 0 sends every request to stable, weight 100 every request to canary', async () => {
    await withNginx(CANARY_MANIFEST, 0, async (nginx) => {
      expect(new Set((await getMany(`${nginx.url}/`, 200)).map((a) => `${a.status} ${a.track}`))).toEqual(new Set(['200 stable']));
    });
    await withNginx(CANARY_MANIFEST, 100, async (nginx) => {
      expect(new Set((await getMany(`${nginx.url}/`, 200)).map((a) => `${a.status} ${a.track}`))).toEqual(new Set(['200 canary']));
    });
  }, 60_000);

  it('the per-track metrics locations reach each track\'s own /metrics, whatever the split', async () => {
    await withNginx(CANARY_MANIFEST, 50, async (nginx) => {
      for (let i = 0; i < 20; i++) {
        for (const track of ['stable', 'canary'] as const) {
          const r = await request(`${nginx.url}/__swiftdeploy/tracks/${track}/metrics`);
          const text = await r.body.text();
          expect(r.statusCode).toBe(200);
          expect(r.headers['x-track']).toBe(track);
          // app_mode is 1 on the canary-mode app, 0 on the stable one.
          expect(text).toMatch(track === 'canary' ? /^app_mode 1$/m : /^app_mode 0$/m);
        }
      }
    });
  }, 60_000);

  /** A new client's first request: its bucket cookie and the track that served it. */
  async function newClient(url: string): Promise<{ cookie: string; track: string }> {
    const first = await get(url);
    expect(first.status).toBe(200);
    const bucket = BUCKET.exec(first.setCookie ?? '');
    expect(bucket, `Set-Cookie: ${String(first.setCookie)}`).not.toBeNull();
    return { cookie: `swiftdeploy_bucket=${bucket![1]}`, track: first.track! };
  }

  it('sticky: a client keeps its first track across 50 requests with its cookie, and gets no new cookie', async () => {
    await withNginx(STICKY_MANIFEST, 25, async (nginx) => {
      const tracks = new Set<string>();
      for (let c = 0; c < 30; c++) {
        const client = await newClient(`${nginx.url}/`);
        tracks.add(client.track);
        for (let i = 0; i < 50; i++) {
          const next = await get(`${nginx.url}/`, client.cookie);
          expect(next.status).toBe(200);
          expect(next.track, `client ${c}, request ${i}`).toBe(client.track);
          expect(next.setCookie).toBeUndefined();
        }
      }
      // 30 clients at 25%: all on one track has probability 0.75^30 + 0.25^30 (about 2e-4).
      expect(tracks).toEqual(new Set(['stable', 'canary']));
    });
  }, 120_000);

  it('sticky: a higher weight moves clients from stable to canary only; a canary client stays canary', async () => {
    const clients: Array<{ cookie: string; track: string }> = [];
    await withNginx(STICKY_MANIFEST, 25, async (nginx) => {
      for (let c = 0; c < 200; c++) clients.push(await newClient(`${nginx.url}/`));
    });
    const at = async (weight: number) =>
      withNginx(STICKY_MANIFEST, weight, async (nginx) => {
        const tracks: string[] = [];
        for (const client of clients) tracks.push((await get(`${nginx.url}/`, client.cookie)).track!);
        return tracks;
      });
    const at50 = await at(50);
    const at100 = await at(100);
    let moved = 0;
    clients.forEach((client, i) => {
      if (client.track === 'canary') expect(at50[i], `client ${i}`).toBe('canary');
      if (client.track === 'stable' && at50[i] === 'canary') moved++;
      expect(at100[i]).toBe('canary');
    });
    const canaryAt25 = clients.filter((c) => c.track === 'canary').length;
    // About 50 of 200 at 25% and about 100 at 50% (each Binomial, sigma about 6-7): some clients moved.
    expect(canaryAt25).toBeGreaterThan(0);
    expect(moved).toBeGreaterThan(0);
  }, 120_000);

  it('sticky at weight 0: a new client still gets its bucket, and stable', async () => {
    await withNginx(STICKY_MANIFEST, 0, async (nginx) => {
      const client = await newClient(`${nginx.url}/`);
      expect(client.track).toBe('stable');
      expect((await get(`${nginx.url}/`, client.cookie)).setCookie).toBeUndefined();
    });
  }, 60_000);
});
