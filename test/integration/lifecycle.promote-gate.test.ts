/**
 * `promote` up to and including its policy gate, without Docker: the real app (dist/app/main.js)
 * listens where nginx would, a real `opa run --server` loaded with policies/ judges, and the CLI runs
 * as a process. A denied or unavailable gate must leave the manifest, the generated files and the
 * running mode exactly as they were, and say so.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireOpa } from '../helpers/engines.js';
import { testManifest } from '../helpers/manifest.js';
import { deadOpaUrl, freePort, startOpa, type OpaServer } from '../helpers/opa.js';

const engine = requireOpa();

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repo, 'bin/swiftdeploy');
const TOKEN = 'test-chaos-token-0123456789';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe.skipIf(!engine.path)(`promote: the gate comes before any change${engine.skipNote}`, () => {
  let dir: string;
  let appPort: number;
  let app: ResultPromise;
  let opa: OpaServer;
  let traffic: Promise<void>;
  let trafficOn = true;

  const cli = (args: string[]) =>
    execa(bin, args, { cwd: dir, reject: false, stdin: 'ignore', env: { SWIFTDEPLOY_ACTOR: 'carol@example.com', NO_COLOR: '1' } });

  function writeManifest(opaUrl: string): void {
    const text = testManifest({
      'services.mode': 'canary',
      'nginx.port': appPort,
      'opa.url': opaUrl,
      'policy.canary.window_seconds': 5,
      'policy.canary.min_requests': 5,
    });
    writeFileSync(path.join(dir, 'manifest.yaml'), text);
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sd-promote-gate-'));
    appPort = await freePort();
    app = execa('node', [path.join(repo, 'dist/app/main.js')], {
      env: { PORT: String(appPort), MODE: 'canary', APP_VERSION: '1.0.0', CHAOS_TOKEN: TOKEN },
      reject: false,
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        if ((await fetch(`http://127.0.0.1:${appPort}/healthz`)).ok) break;
      } catch {
        if (Date.now() > deadline) throw new Error('the app did not start');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    opa = await startOpa();
    traffic = (async () => {
      for (let i = 0; trafficOn && i < 5000; i++) {
        await fetch(`http://127.0.0.1:${appPort}/`).then((r) => r.arrayBuffer()).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    writeManifest(opa.url);
    const init = await cli(['init']);
    expect(init.exitCode, init.stderr).toBe(0);
  }, 30_000);

  afterAll(async () => {
    trafficOn = false;
    await traffic;
    app.kill('SIGTERM');
    await app;
    await opa?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses without --yes off a terminal, before sampling anything (exit 2)', async () => {
    const before = sha(path.join(dir, 'manifest.yaml'));
    const r = await cli(['promote', 'stable']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('pass --yes to authorise');
    expect(sha(path.join(dir, 'manifest.yaml'))).toBe(before);
  });

  it('a denied gate (100% errors) exits 3 and changes nothing', async () => {
    const chaos = await fetch(`http://127.0.0.1:${appPort}/chaos`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'error', rate: 1 }),
    });
    expect(chaos.status).toBe(200);
    const files = ['manifest.yaml', 'docker-compose.yml', 'nginx/nginx.conf'].map((f) => path.join(dir, f));
    const before = files.map(sha);

    const r = await cli(['promote', 'stable', '--yes']);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/\[FAIL\] policy\/canary \(pre_promote\)/);
    expect(r.stderr).toContain('error_rate_too_high');
    expect(r.stderr).toContain('manifest.yaml was not changed (still canary)');
    expect(files.map(sha)).toEqual(before);

    const records = readFileSync(path.join(dir, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const decided = records.at(-1);
    expect(decided.payload.action).toBe('promote');
    expect(decided.payload.stage).toBe('policy_decided');
    expect(decided.actor).toBe('carol@example.com');
    expect(decided.payload.decision.allowed).toBe(false);
    expect(decided.payload.decision.enforcement).toBe('enforce');
    expect(decided.payload.decision.policy_version).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(decided.manifest_sha256).toBe(before[0]);
    expect(records.some((x) => x.payload.stage === 'authorised')).toBe(false);

    // Still canary: under 100% chaos errors GET / is a 500, which in canary mode carries X-Mode.
    const live = await fetch(`http://127.0.0.1:${appPort}/`);
    await live.arrayBuffer();
    expect(live.headers.get('x-mode')).toBe('canary');
  }, 30_000);

  it('an unreachable policy engine fails closed with exit 4 and changes nothing', async () => {
    writeManifest(await deadOpaUrl());
    const before = sha(path.join(dir, 'manifest.yaml'));
    const r = await cli(['promote', 'stable', '--yes']);
    expect(r.exitCode, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/connection refused|not ready/);
    expect(sha(path.join(dir, 'manifest.yaml'))).toBe(before);
    writeManifest(opa.url);
  }, 30_000);
});
