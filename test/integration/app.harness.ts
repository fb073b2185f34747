/**
 * Starts the real service in-process on 127.0.0.1 with an ephemeral port, and talks to it over real
 * HTTP (undici). Log lines are captured instead of written to stdout.
 */
import { connect } from 'node:net';
import { request } from 'undici';
import type { AppConfig } from '../../src/app/config.js';
import { buildApp, type App, type AppOptions } from '../../src/app/server.js';

export const TEST_TOKEN = 'test-token-0123456789abcdef';

export interface RunningApp {
  readonly url: string;
  readonly app: App;
  readonly logs: string[];
  close(): Promise<void>;
}

export async function startApp(
  config: Partial<AppConfig> = {},
  options: AppOptions = {},
): Promise<RunningApp> {
  const logs: string[] = [];
  const app = buildApp(
    {
      port: 0,
      host: '127.0.0.1',
      mode: 'stable',
      track: 'stable',
      version: '1.2.3-test',
      chaosToken: undefined,
      drainTimeoutMs: 5000,
      ...config,
    },
    { log: (line) => logs.push(line), ...options },
  );
  await app.server.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.server.address();
  if (address === null || typeof address !== 'object') throw new Error('server has no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    app,
    logs,
    close: () => app.server.close(),
  };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export async function http(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpResult> {
  const response = await request(url, {
    method: (init.method ?? 'GET') as 'GET',
    headers: init.headers,
    body: init.body,
  });
  const text = await response.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.statusCode, headers: response.headers, text, json };
}

export function postChaos(
  baseUrl: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  return http(`${baseUrl}/chaos`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TEST_TOKEN}`,
      'content-type': 'application/json',
      ...headers,
    },
    body,
  });
}

/** Runs `count` requests with at most `concurrency` in flight; returns the status codes in order. */
export async function statusesOf(url: string, count: number, concurrency = 16): Promise<number[]> {
  const statuses: number[] = new Array<number>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const response = await request(url);
      await response.body.dump();
      statuses[i] = response.statusCode;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return statuses;
}

/**
 * Sends GET requests for `paths` as HTTP/1.1 pipelines over a few raw keep-alive sockets and returns
 * the status codes in order. Much cheaper for the client than one request object per URL, so a scan
 * of thousands of URLs measures the server, not the test. Response bodies must not contain "HTTP/1.1 ".
 */
export async function pipelinedGets(baseUrl: string, paths: string[], connections = 4): Promise<number[]> {
  const { hostname, port } = new URL(baseUrl);
  const perSocket = Math.ceil(paths.length / connections);
  const chunks = Array.from({ length: connections }, (_, i) => paths.slice(i * perSocket, (i + 1) * perSocket));
  const results = await Promise.all(
    chunks.map(
      (chunk) =>
        new Promise<number[]>((resolve, reject) => {
          const statuses: number[] = [];
          if (chunk.length === 0) return resolve(statuses);
          const socket = connect({ host: hostname, port: Number(port) });
          let pending = '';
          socket.setEncoding('latin1');
          socket.setTimeout(20_000, () => socket.destroy(new Error('pipelined GETs timed out')));
          socket.on('data', (data: string) => {
            pending += data;
            const statusLine = /HTTP\/1\.1 (\d{3}) /g;
            let match: RegExpExecArray | null;
            let consumed = 0;
            while ((match = statusLine.exec(pending)) !== null) {
              statuses.push(Number(match[1]));
              consumed = statusLine.lastIndex;
            }
            pending = pending.slice(consumed);
            if (statuses.length >= chunk.length) socket.end();
          });
          socket.on('error', reject);
          socket.on('close', () =>
            statuses.length === chunk.length
              ? resolve(statuses)
              : reject(new Error(`socket closed after ${statuses.length} of ${chunk.length} responses`)),
          );
          socket.write(chunk.map((p) => `GET ${p} HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`).join(''));
        }),
    ),
  );
  return results.flat();
}
