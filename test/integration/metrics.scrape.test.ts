import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { OperationFailed } from '../../src/errors.js';
import { scrapeMetrics } from '../../src/metrics/scrape.js';

const servers: Server[] = [];

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

describe('scrapeMetrics against a real HTTP server', () => {
  it('returns the parsed samples, stamped when the body arrived', async () => {
    const url = await serve((_req, res) => {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end('# TYPE http_requests_total counter\nhttp_requests_total{method="GET",path="/",status_code="200"} 42\n');
    });
    const snapshot = await scrapeMetrics(url, { now: () => 1_234 });
    expect(snapshot).toEqual({
      at: 1_234,
      samples: [{ name: 'http_requests_total', labels: { method: 'GET', path: '/', status_code: '200' }, value: 42 }],
    });
  });

  it('fails with exit 1 on a non-200 answer', async () => {
    const url = await serve((_req, res) => {
      res.statusCode = 502;
      res.end('bad gateway');
    });
    await expect(scrapeMetrics(url)).rejects.toThrow(/HTTP 502/);
    await expect(scrapeMetrics(url)).rejects.toBeInstanceOf(OperationFailed);
  });

  it('gives up after timeoutMs when the server never answers', async () => {
    const url = await serve(() => {
      /* never answers */
    });
    const started = Date.now();
    await expect(scrapeMetrics(url, { timeoutMs: 200 })).rejects.toThrow(/no answer within 200 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('fails clearly when nothing listens', async () => {
    const url = await serve((_req, res) => res.end());
    const server = servers.pop() as Server;
    await new Promise((resolve) => server.close(resolve));
    await expect(scrapeMetrics(url)).rejects.toThrow(/^cannot scrape http:\/\/127\.0\.0\.1:\d+\/metrics: .*ECONNREFUSED/);
  });

  it('fails on a body that is not the exposition format', async () => {
    const url = await serve((_req, res) => res.end('<html>login</html>\n'));
    await expect(scrapeMetrics(url)).rejects.toThrow(/metrics line 1/);
  });
});

describe('scrapeMetrics when the server closes a kept-alive connection under it (an nginx reload)', () => {
  it('retries once on a new connection; a second close is a failure', async () => {
    const seen = new Map<unknown, number>();
    let closes = 0;
    let closeLimit = 1;
    let closeEverything = false;
    const url = await serve((req, res) => {
      const n = (seen.get(req.socket) ?? 0) + 1;
      seen.set(req.socket, n);
      // The second request on a reused connection: closed without an answer, as an old nginx worker does.
      if (closeEverything || (n > 1 && closes < closeLimit)) {
        closes++;
        req.socket.destroy();
        return;
      }
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end('up 1\n');
    });
    await scrapeMetrics(url);
    await new Promise((r) => setTimeout(r, 20)); // the connection is back in the pool
    const second = await scrapeMetrics(url);
    expect(second.samples).toEqual([{ name: 'up', labels: {}, value: 1 }]);
    expect(closes).toBe(1);
    expect(seen.size).toBe(2); // the retry came on a new connection

    // Both attempts closed: the failure is reported, not hidden (and it is tried exactly twice).
    closeEverything = true;
    closes = 0;
    await expect(scrapeMetrics(url)).rejects.toBeInstanceOf(OperationFailed);
    expect(closes).toBe(2);
  });
});
