import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { http, postChaos, startApp, statusesOf, TEST_TOKEN, type RunningApp } from './app.harness.js';

describe('POST /chaos guard and validation', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp({ mode: 'canary', chaosToken: TEST_TOKEN });
  });
  afterAll(() => running.close());
  afterEach(async () => {
    await postChaos(running.url, '{"mode":"recover"}');
  });

  const expectNoChaos = async (): Promise<void> => {
    expect(running.app.chaos()).toEqual({ mode: 'none' });
    expect((await http(`${running.url}/`)).status).toBe(200);
  };

  it('a missing or wrong bearer token is 401 and changes nothing', async () => {
    const body = '{"mode":"error","rate":1}';
    for (const authorization of [undefined, 'Bearer wrong-token-0123456789ab', `Basic ${TEST_TOKEN}`, 'Bearer ', `Bearer ${TEST_TOKEN}x`]) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (authorization !== undefined) headers['authorization'] = authorization;
      const res = await http(`${running.url}/chaos`, { method: 'POST', headers, body });
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
    await expectNoChaos();
  });

  it('authenticates before reading the body: a stranger with a huge body still gets 401', async () => {
    const res = await http(`${running.url}/chaos`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(10_000),
    });
    expect(res.status).toBe(401);
  });

  it.each([
    ['not JSON', '{mode: slow}', 400],
    ['empty JSON body', '', 400],
    ['a JSON array', '[]', 400],
    ['a JSON string', '"slow"', 400],
    ['an unknown mode', '{"mode":"explode"}', 400],
    ['no mode', '{"rate":0.5}', 400],
    ['slow without duration', '{"mode":"slow"}', 400],
    ['duration as a string', '{"mode":"slow","duration":"5"}', 400],
    ['duration overflowing to Infinity', '{"mode":"slow","duration":1e999}', 400],
    ['negative duration', '{"mode":"slow","duration":-1}', 400],
    ['duration above the cap', '{"mode":"slow","duration":30.001}', 400],
    ['rate above 1', '{"mode":"error","rate":1.5}', 400],
    ['rate below 0', '{"mode":"error","rate":-0.1}', 400],
    ['rate null', '{"mode":"error","rate":null}', 400],
    ['rate as a string', '{"mode":"error","rate":"0.5"}', 400],
    ['a field from another mode', '{"mode":"slow","duration":1,"rate":0.5}', 400],
    ['a misspelled field', '{"mode":"error","rates":0.5}', 400],
    ['__proto__ smuggling', '{"mode":"error","rate":0.5,"__proto__":{"x":1}}', 400],
  ])('%s is a 400 with a one-line reason, and changes nothing', async (_name, body, status) => {
    const res = await postChaos(running.url, body);
    expect(res.status).toBe(status);
    const reason = (res.json as { error: string }).error;
    expect(reason.length).toBeGreaterThan(0);
    expect(reason).not.toContain('\n');
    await expectNoChaos();
  });

  it('a body over 4 KiB is 413 and changes nothing', async () => {
    const padding = ' '.repeat(5000);
    const res = await postChaos(running.url, `{"mode":"error","rate":1${padding}}`);
    expect(res.status).toBe(413);
    await expectNoChaos();
  });

  it.each([
    ['text/plain', '{"mode":"error","rate":1}'],
    ['application/x-www-form-urlencoded', 'mode=error&rate=1'],
    ['application/xml', '<chaos mode="error"/>'],
  ])('Content-Type %s is 415 and changes nothing', async (type, body) => {
    const res = await postChaos(running.url, body, { 'content-type': type });
    expect(res.status).toBe(415);
    await expectNoChaos();
  });

  it('a POST without any body is 415', async () => {
    const res = await http(`${running.url}/chaos`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKEN}` },
    });
    expect(res.status).toBe(415);
    await expectNoChaos();
  });

  it('valid requests set the state, which GET / and chaos_active report; recover clears it', async () => {
    const slow = await postChaos(running.url, '{"mode":"slow","duration":0}');
    expect(slow.status).toBe(200);
    expect(slow.json).toEqual({ chaos: { mode: 'slow', duration: 0 } });
    expect((await http(`${running.url}/`)).json).toMatchObject({ chaos: { mode: 'slow', duration: 0 } });
    expect((await http(`${running.url}/metrics`)).text).toMatch(/^chaos_active 1$/m);

    await postChaos(running.url, '{"mode":"error","rate":0}', { 'content-type': 'application/json; charset=utf-8' });
    expect((await http(`${running.url}/`)).json).toMatchObject({ chaos: { mode: 'error', rate: 0 } });
    expect((await http(`${running.url}/metrics`)).text).toMatch(/^chaos_active 2$/m);

    const recover = await postChaos(running.url, '{"mode":"recover"}');
    expect(recover.json).toEqual({ chaos: { mode: 'none' } });
    expect((await http(`${running.url}/metrics`)).text).toMatch(/^chaos_active 0$/m);
  });
});

describe('chaos effects', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp({ mode: 'canary', chaosToken: TEST_TOKEN });
  });
  afterAll(() => running.close());
  afterEach(async () => {
    await postChaos(running.url, '{"mode":"recover"}');
  });

  it('error rate 0.5 over 2,000 requests fails 1,000 ± 112 of them (5 sigma)', async () => {
    // Binomial(n=2000, p=0.5): sigma = sqrt(n p (1-p)) = 22.4, so ±5 sigma = ±112 requests. A correct
    // app falls outside that about once in 1.7 million runs, while a rate off by 0.1 (mean 800 or
    // 1,200, four sigma beyond the bounds) lands inside it about once in 30,000.
    expect((await postChaos(running.url, '{"mode":"error","rate":0.5}')).status).toBe(200);
    const statuses = await statusesOf(`${running.url}/`, 2000);
    const failed = statuses.filter((s) => s === 500).length;
    const ok = statuses.filter((s) => s === 200).length;
    expect(failed + ok).toBe(2000);
    expect(failed).toBeGreaterThanOrEqual(888);
    expect(failed).toBeLessThanOrEqual(1112);
  });

  it('error rate 1 fails ordinary requests (404s included) but never the exempt endpoints', async () => {
    await postChaos(running.url, '{"mode":"error","rate":1}');
    const failed = await http(`${running.url}/`);
    expect(failed.status).toBe(500);
    expect(failed.headers['x-mode']).toBe('canary');
    expect((await http(`${running.url}/unknown`)).status).toBe(500);
    expect((await http(`${running.url}/healthz`)).status).toBe(200);
    expect((await http(`${running.url}/metrics`)).status).toBe(200);
    expect((await postChaos(running.url, '{"mode":"recover"}')).status).toBe(200);
    expect((await http(`${running.url}/`)).status).toBe(200);
  });

  it('slow delays ordinary requests by the duration but not the exempt endpoints', async () => {
    await postChaos(running.url, '{"mode":"slow","duration":0.4}');
    const timed = async (path: string): Promise<number> => {
      const start = performance.now();
      const res = await http(`${running.url}${path}`);
      expect(res.status, path).toBe(200);
      return performance.now() - start;
    };
    const [slowRoot, healthz, metrics] = await Promise.all([timed('/'), timed('/healthz'), timed('/metrics')]);
    expect(slowRoot).toBeGreaterThanOrEqual(395);
    expect(slowRoot).toBeLessThan(2000);
    expect(healthz).toBeLessThan(200);
    expect(metrics).toBeLessThan(200);
    const chaosStart = performance.now();
    expect((await postChaos(running.url, '{"mode":"recover"}')).status).toBe(200);
    expect(performance.now() - chaosStart).toBeLessThan(200);
    expect(await timed('/')).toBeLessThan(200);
  });
});
