import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startApp, type RunningApp } from './app.harness.js';

describe('app endpoints (stable mode)', () => {
  let stable: RunningApp;
  beforeAll(async () => {
    stable = await startApp({ mode: 'stable', version: '2.0.1' });
  });
  afterAll(() => stable.close());

  it('GET / answers mode, version, timestamp and the chaos state', async () => {
    const before = Date.now();
    const res = await http(`${stable.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.json as Record<string, unknown>;
    expect(body).toMatchObject({ mode: 'stable', version: '2.0.1', chaos: { mode: 'none' } });
    expect(typeof body['message']).toBe('string');
    const stamp = Date.parse(String(body['timestamp']));
    expect(stamp).toBeGreaterThanOrEqual(before - 1);
    expect(stamp).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('GET /healthz answers ok with a growing uptime', async () => {
    const first = (await http(`${stable.url}/healthz`)).json as { status: string; uptime_seconds: number };
    await new Promise((resolve) => setTimeout(resolve, 30));
    const second = await http(`${stable.url}/healthz`);
    expect(second.status).toBe(200);
    const body = second.json as { status: string; uptime_seconds: number };
    expect(body.status).toBe('ok');
    expect(body.uptime_seconds).toBeGreaterThan(first.uptime_seconds);
  });

  it('GET /metrics serves the Prometheus text format', async () => {
    const res = await http(`${stable.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.text).toMatch(/^# HELP http_requests_total /m);
    expect(res.text).toMatch(/^app_mode 0$/m);
  });

  it('stable responses carry no X-Mode header, whatever the status', async () => {
    for (const path of ['/', '/healthz', '/metrics', '/nope', '/chaos']) {
      const res = await http(`${stable.url}${path}`);
      expect(res.headers['x-mode'], path).toBeUndefined();
    }
  });

  it('unknown paths and methods answer 404 with a JSON error', async () => {
    const unknown = await http(`${stable.url}/does/not/exist?x=1`);
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: 'not found' });
    expect((await http(`${stable.url}/`, { method: 'DELETE' })).status).toBe(404);
  });

  it('an undecodable URL is a 400, not a crash', async () => {
    const res = await http(`${stable.url}/%zz`);
    expect(res.status).toBe(400);
    expect((res.json as { error: string }).error).toContain('%zz');
    expect((await http(`${stable.url}/healthz`)).status).toBe(200);
  });

  it('exposes no framework documentation or OpenAPI routes', async () => {
    for (const path of ['/documentation', '/documentation/json', '/docs', '/openapi.json', '/swagger']) {
      expect((await http(`${stable.url}${path}`)).status, path).toBe(404);
    }
  });

  it('without CHAOS_TOKEN, /chaos does not exist (404), even with a bearer token', async () => {
    const res = await http(`${stable.url}/chaos`, {
      method: 'POST',
      headers: { authorization: 'Bearer anything-at-all-here', 'content-type': 'application/json' },
      body: '{"mode":"error","rate":1}',
    });
    expect(res.status).toBe(404);
    expect((await http(`${stable.url}/`)).status).toBe(200);
  });

  it('logs one JSON line per request with method, path, route, status, duration and mode', async () => {
    stable.logs.length = 0;
    await http(`${stable.url}/healthz?secret=hunter2`);
    await http(`${stable.url}/missing/abc`);
    const lines = stable.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(stable.logs.every((line) => line.endsWith('\n') && line.indexOf('\n') === line.length - 1)).toBe(true);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ event: 'request', method: 'GET', path: '/healthz', route: '/healthz', status: 200, mode: 'stable' });
    expect(lines[1]).toMatchObject({ path: '/missing/abc', route: 'other', status: 404 });
    expect(typeof lines[0]?.['duration_ms']).toBe('number');
    expect(stable.logs.join('')).not.toContain('hunter2');
  });
});

describe('app endpoints (canary mode)', () => {
  let canary: RunningApp;
  beforeAll(async () => {
    canary = await startApp({ mode: 'canary', chaosToken: 'canary-token-0123456789' });
  });
  afterAll(() => canary.close());

  it('every response carries X-Mode: canary, errors included', async () => {
    const cases: Array<[string, string, Record<string, string>, number]> = [
      ['GET', '/', {}, 200],
      ['GET', '/healthz', {}, 200],
      ['GET', '/metrics', {}, 200],
      ['GET', '/nope', {}, 404],
      ['GET', '/%zz', {}, 400],
      ['POST', '/chaos', {}, 401],
      ['HEAD', '/', {}, 200],
    ];
    for (const [method, path, headers, status] of cases) {
      const res = await http(`${canary.url}${path}`, { method, headers });
      expect(res.status, `${method} ${path}`).toBe(status);
      expect(res.headers['x-mode'], `${method} ${path}`).toBe('canary');
    }
  });

  it('GET / reports canary mode', async () => {
    expect((await http(`${canary.url}/`)).json).toMatchObject({ mode: 'canary' });
  });
});
