/**
 * What answers on the manifest's nginx port when the engine is scripted: a real HTTP proxy on
 * 127.0.0.1 in front of the real app (src/app/server.ts, in-process) in the mode the running app
 * container was created with, and nginx's 502 when no app runs. Tests point it at a mode as the
 * scripted Docker host (compose-host.ts) starts and stops app containers.
 */
import http from 'node:http';
import { buildApp, type App } from '../../src/app/server.js';
import type { AppMode } from '../../src/app/config.js';

export class NginxStandIn {
  private readonly apps = new Map<AppMode, { app: App; port: number }>();
  private upstream: number | null = null;

  private constructor(
    private readonly server: http.Server,
    readonly port: number,
  ) {}

  static async start(port: number): Promise<NginxStandIn> {
    let self: NginxStandIn | undefined;
    const server = http.createServer((req, res) => self!.forward(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    self = new NginxStandIn(server, port);
    return self;
  }

  /** Route to the app in `mode` (started on first use), or answer 502 (null). */
  async serve(mode: AppMode | null): Promise<void> {
    if (mode === null) {
      this.upstream = null;
      return;
    }
    let entry = this.apps.get(mode);
    if (!entry) {
      const app = buildApp(
        { port: 0, host: '127.0.0.1', mode, track: 'stable', version: '1.0.0', chaosToken: undefined, drainTimeoutMs: 1000 },
        { log: () => undefined },
      );
      await app.server.listen({ port: 0, host: '127.0.0.1' });
      const address = app.server.server.address();
      if (address === null || typeof address !== 'object') throw new Error('app has no TCP address');
      entry = { app, port: address.port };
      this.apps.set(mode, entry);
    }
    this.upstream = entry.port;
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.upstream === null) {
      res.writeHead(502, { 'content-type': 'text/html' }).end('<html><center><h1>502 Bad Gateway</h1></center></html>\n');
      return;
    }
    const up = http.request({ host: '127.0.0.1', port: this.upstream, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.all([...this.apps.values()].map((e) => e.app.server.close()));
  }
}
