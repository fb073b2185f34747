/**
 * The built service as a real child process: `node dist/app/main.js`, configured only by env, exactly
 * as `npm run start:app` and the container run it.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { http, postChaos, TEST_TOKEN } from './app.harness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const MAIN = join(ROOT, 'dist', 'app', 'main.js');

/** Rebuilds dist/app (only the app: src/app/tsconfig.json) when a source is newer than the build. */
function ensureBuilt(): void {
  const srcDir = join(ROOT, 'src', 'app');
  const newestSource = Math.max(...readdirSync(srcDir).map((f) => statSync(join(srcDir, f)).mtimeMs));
  if (existsSync(MAIN) && statSync(MAIN).mtimeMs >= newestSource) return;
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const built = spawnSync(process.execPath, [tsc, '-p', join(srcDir, 'tsconfig.json')], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`building dist/app failed:\n${built.stdout}${built.stderr}`);
}

interface Child {
  proc: ChildProcessWithoutNullStreams;
  lines: Array<Record<string, unknown>>;
  stderr: string[];
  exited: Promise<number | null>;
  waitFor(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

function startChild(env: Record<string, string>): Child {
  const proc = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env['PATH'] ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
  });
  const lines: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  const waiters: Array<() => void> = [];
  let buffered = '';
  proc.stdout.setEncoding('utf8').on('data', (data: string) => {
    buffered += data;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const part of parts) lines.push(JSON.parse(part) as Record<string, unknown>);
    waiters.splice(0).forEach((wake) => wake());
  });
  proc.stderr.setEncoding('utf8').on('data', (data: string) => stderr.push(data));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const waitFor = async (event: string, timeoutMs = 10_000): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = lines.find((line) => line['event'] === event);
      if (found !== undefined) return found;
      if (Date.now() > deadline || proc.exitCode !== null) {
        throw new Error(`no "${event}" line; stdout: ${JSON.stringify(lines)} stderr: ${stderr.join('')}`);
      }
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };
  return { proc, lines, stderr, exited, waitFor };
}

/** Send raw bytes on a new TCP connection; report how it ended and how many bytes came back. */
function rawRequest(url: string, payload: string): Promise<{ outcome: string; bytes: number }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    let bytes = 0;
    const socket = net.connect({ host: hostname, port: Number(port) }, () => socket.write(payload));
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ outcome: err.code ?? err.message, bytes }));
    socket.on('close', () => resolve({ outcome: 'closed', bytes }));
    socket.setTimeout(5000, () => {
      socket.destroy();
      resolve({ outcome: 'timeout', bytes });
    });
  });
}

async function startListening(env: Record<string, string>): Promise<{ child: Child; url: string }> {
  const child = startChild(env);
  const listening = await child.waitFor('listening');
  return { child, url: `http://127.0.0.1:${String(listening['port'])}` };
}

describe('app process (node dist/app/main.js)', () => {
  beforeAll(ensureBuilt, 60_000);

  it('SIGTERM drains an in-flight slow request, refuses new connections, then exits 0', async () => {
    const { child, url } = await startListening({ MODE: 'canary', CHAOS_TOKEN: TEST_TOKEN, DRAIN_TIMEOUT_SECONDS: '10' });
    try {
      expect((await postChaos(url, '{"mode":"slow","duration":1}')).status).toBe(200);
      const sentAt = performance.now();
      const inFlight = request(`${url}/`).then(async (res) => ({
        status: res.statusCode,
        body: (await res.body.json()) as Record<string, unknown>,
        at: performance.now(),
      }));
      await new Promise((resolve) => setTimeout(resolve, 200));
      child.proc.kill('SIGTERM');
      await child.waitFor('draining');

      // A fresh connection gets no response: refused outright, or (when the kernel had already
      // queued it before the listener closed) reset or closed without a byte of HTTP.
      const fresh = await rawRequest(url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(fresh.bytes).toBe(0);
      expect(fresh.outcome).toMatch(/^(ECONNREFUSED|ECONNRESET|closed)$/);
      const done = await inFlight;
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({ mode: 'canary', chaos: { mode: 'slow', duration: 1 } });
      expect(done.at - sentAt).toBeGreaterThanOrEqual(990);

      expect(await child.exited).toBe(0);
      const events = child.lines.map((line) => line['event']);
      expect(events.indexOf('stopped')).toBeGreaterThan(events.lastIndexOf('request'));
      expect(child.lines.find((l) => l['event'] === 'request' && l['route'] === '/')).toMatchObject({ status: 200 });
    } finally {
      child.proc.kill('SIGKILL');
    }
  });

  it('the drain is bounded: a request outliving DRAIN_TIMEOUT_SECONDS is cut and the exit code is 1', async () => {
    const { child, url } = await startListening({ CHAOS_TOKEN: TEST_TOKEN, DRAIN_TIMEOUT_SECONDS: '0.5' });
    try {
      await postChaos(url, '{"mode":"slow","duration":20}');
      const inFlight = request(`${url}/`).then(
        (res) => res.statusCode,
        (error: Error) => error,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      const signalledAt = performance.now();
      child.proc.kill('SIGTERM');
      expect(await child.exited).toBe(1);
      expect(performance.now() - signalledAt).toBeLessThan(5000);
      expect(await inFlight).toBeInstanceOf(Error);
      await child.waitFor('drain_timeout', 0);
    } finally {
      child.proc.kill('SIGKILL');
    }
  });

  it('serves the endpoints configured only by environment', async () => {
    const { child, url } = await startListening({ MODE: 'stable', APP_VERSION: '9.9.9' });
    try {
      const res = await http(`${url}/`);
      expect(res.json).toMatchObject({ mode: 'stable', version: '9.9.9', chaos: { mode: 'none' } });
      expect(res.headers['x-mode']).toBeUndefined();
      expect((await http(`${url}/chaos`, { method: 'POST' })).status).toBe(404);
      child.proc.kill('SIGTERM');
      expect(await child.exited).toBe(0);
    } finally {
      child.proc.kill('SIGKILL');
    }
  });

  it('TRACK from the environment is X-Track on every response and in the listening line', async () => {
    const { child, url } = await startListening({ TRACK: 'canary' });
    try {
      expect((await child.waitFor('listening'))['track']).toBe('canary');
      const res = await http(`${url}/nope`);
      expect(res.status).toBe(404);
      expect(res.headers['x-track']).toBe('canary');
      expect(res.headers['x-mode']).toBeUndefined(); // MODE unset: stable mode on the canary track
      child.proc.kill('SIGTERM');
      expect(await child.exited).toBe(0);
    } finally {
      child.proc.kill('SIGKILL');
    }
  });

  it.each([
    [{ MODE: 'blue' }, /^swiftdeploy app: MODE: expected "stable" or "canary", got "blue"\n$/],
    [{ TRACK: 'green' }, /^swiftdeploy app: TRACK: expected "stable" or "canary", got "green"\n$/],
    [{ PORT: '80a' }, /^swiftdeploy app: PORT: expected an integer 0-65535, got "80a"\n$/],
    [{ APP_VERSION: 'v 1' }, /^swiftdeploy app: APP_VERSION: expected up to 128 printable/],
    [{ CHAOS_TOKEN: 'sekrit-42' }, /^swiftdeploy app: CHAOS_TOKEN: expected at least 16 .*\(got 9 characters\)\n$/],
  ])('bad environment %o exits 2 with a one-line reason and serves nothing', async (env, message) => {
    const child = startChild(env);
    expect(await child.exited).toBe(2);
    expect(child.stderr.join('')).toMatch(message);
    expect(child.stderr.join('')).not.toContain('sekrit');
    expect(child.lines).toEqual([]);
  });
});
