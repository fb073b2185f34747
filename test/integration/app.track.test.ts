/**
 * X-Track: every answer says which side of a progressive rollout served it (nginx splits traffic
 * between the two tracks; the analysis and the users tell them apart by this header).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, postChaos, startApp, TEST_TOKEN, type RunningApp } from './app.harness.js';

/** Every kind of answer the app gives: routes, a 404, an undecodable URL, a refused chaos call, HEAD. */
const CASES: Array<[method: string, path: string, status: number]> = [
  ['GET', '/', 200],
  ['GET', '/healthz', 200],
  ['GET', '/metrics', 200],
  ['GET', '/nope', 404],
  ['GET', '/%zz', 400],
  ['POST', '/chaos', 401],
  ['HEAD', '/', 200],
];

describe('X-Track on every response', () => {
  let stable: RunningApp;
  let canaryTrack: RunningApp;
  let defaulted: RunningApp;
  beforeAll(async () => {
    [stable, canaryTrack, defaulted] = await Promise.all([
      startApp({ track: 'stable', chaosToken: TEST_TOKEN }),
      startApp({ mode: 'canary', track: 'canary', chaosToken: TEST_TOKEN }),
      // The harness's own default: what readAppConfig gives without TRACK.
      startApp({}),
    ]);
  });
  afterAll(() => Promise.all([stable.close(), canaryTrack.close(), defaulted.close()]));

  it('the stable track says X-Track: stable, errors included, and no X-Mode', async () => {
    for (const [method, path, status] of CASES) {
      const res = await http(`${stable.url}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(status);
      expect(res.headers['x-track'], `${method} ${path}`).toBe('stable');
      expect(res.headers['x-mode'], `${method} ${path}`).toBeUndefined();
    }
  });

  it('the canary track says X-Track: canary beside X-Mode: canary, errors included', async () => {
    for (const [method, path, status] of CASES) {
      const res = await http(`${canaryTrack.url}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(status);
      expect(res.headers['x-track'], `${method} ${path}`).toBe('canary');
      expect(res.headers['x-mode'], `${method} ${path}`).toBe('canary');
    }
  });

  it('a chaos failure still names its track', async () => {
    expect((await postChaos(canaryTrack.url, '{"mode":"error","rate":1}')).status).toBe(200);
    try {
      const failed = await http(`${canaryTrack.url}/`);
      expect(failed.status).toBe(500);
      expect(failed.headers['x-track']).toBe('canary');
    } finally {
      expect((await postChaos(canaryTrack.url, '{"mode":"recover"}')).status).toBe(200);
    }
  });

  it('track and mode are independent: a stable-track app in canary mode says both', async () => {
    const app = await startApp({ mode: 'canary', track: 'stable' });
    try {
      const res = await http(`${app.url}/`);
      expect(res.headers['x-track']).toBe('stable');
      expect(res.headers['x-mode']).toBe('canary');
    } finally {
      await app.close();
    }
  });

  it('the default track is stable', async () => {
    expect((await http(`${defaulted.url}/`)).headers['x-track']).toBe('stable');
  });

});
