/**
 * `swiftdeploy serve`: the one-tap approval server. GET /a/<id>?t=<token> shows the plan and two
 * buttons and changes nothing (chat apps fetch link previews); POST /a/<id> decides, once. Nothing
 * else is routed: no proxy to the app, no /chaos. Requests made with `--request --detach` are run
 * here once approved, as a child CLI (through src/runtime's runner) that takes the project lock and
 * records like any command.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { EXIT, UsageError } from '../errors.js';
import { silentSink } from '../events.js';
import { Session } from '../lifecycle/session.js';
import { loadManifest } from '../manifest/load.js';
import { runArgv } from '../runtime/run.js';
import { packageRoot } from '../util/package-root.js';
import { decide, isApprovalId, recordRefusal, refusalMessage, type Verdict } from './decide.js';
import { decisionPage, messagePage } from './page.js';
import { planArgv } from './plan.js';
import { outcomeOf, readLedgerView } from './store.js';
import { approvalKey, parseToken, tokenId, tokenMatches } from './token.js';
import type { ApprovalRefused } from './types.js';

export interface ServeOptions {
  manifestPath: string;
  /** Listen on a non-loopback address without TLS (behind a reverse proxy on a trusted network). */
  insecureListen?: boolean;
  /** Overrides approvals.serve.port (0: any free port). */
  port?: number;
  /** One line per request or execution; never a token. */
  log?: (line: string) => void;
  /** Attempts allowed per token and per client address within `rateWindowMs`. */
  perToken?: number;
  perAddress?: number;
  rateWindowMs?: number;
  /** How often approved `serve` requests are looked for (ms); 0: only after a POST here. */
  executePollMs?: number;
  /** The CLI the executor spawns (default: this package's bin/swiftdeploy). */
  cli?: string;
  now?: () => Date;
}

export interface RunningServer {
  url: string;
  /** Child processes started for approved requests, with their exit codes once done. */
  executions: Map<string, Promise<number | null>>;
  close(): Promise<void>;
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/**
 * The client a request is from, for rate limits and records. Behind the operator's reverse proxy
 * (`public_url` set, the peer on loopback) every peer is the proxy, so the address the proxy put
 * LAST in X-Forwarded-For is used: the one it saw (earlier entries are the client's own claims).
 * Anything else is the peer itself; a header from a non-loopback peer is never believed.
 */
export function clientAddress(req: Pick<http.IncomingMessage, 'headers' | 'socket'>, behindProxy: boolean): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (!behindProxy || !isLoopback(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  const last = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((h) => h.trim()).filter(Boolean).at(-1);
  return last !== undefined && /^[0-9a-fA-F.:]{2,45}$/.test(last) ? last : peer;
}

/** How long an approved action started by serve waits for the project lock. */
const EXECUTE_LOCK_WAIT_SECONDS = 60;

/** Sliding-window counter of attempts per key. */
class RateLimiter {
  private readonly hits = new Map<string, number[]>();
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}
  /** Counts one attempt; the number of attempts in the window, this one included. */
  hit(key: string, now: number): number {
    const recent = (this.hits.get(key) ?? []).filter((t) => now - t < this.windowMs);
    recent.push(now);
    this.hits.set(key, recent);
    if (this.hits.size > 10_000) this.hits.delete(this.hits.keys().next().value as string);
    return recent.length;
  }
  over(key: string, now: number): { over: boolean; first: boolean } {
    const n = this.hit(key, now);
    return { over: n > this.limit, first: n === this.limit + 1 };
  }
}

const HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

const STATUS: Record<ApprovalRefused['why'], number> = {
  forged: 403,
  'wrong approver': 403,
  'own request': 403,
  replayed: 409,
  'already decided': 409,
  'plan changed': 409,
  expired: 410,
  'rate limited': 429,
  'unknown approval': 404,
};

const MAX_BODY = 8 * 1024;

function readBody(req: http.IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(undefined);
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startServe(options: ServeOptions): Promise<RunningServer> {
  const loaded = await loadManifest(options.manifestPath);
  const config = loaded.manifest.approvals;
  if (!config) throw new UsageError('serve: this manifest has no `approvals:` section');
  approvalKey(config); // a missing secret stops serve before it listens
  const { listen, tls_cert, tls_key } = config.serve;
  const tls = tls_cert !== undefined && tls_key !== undefined;
  if (!isLoopback(listen) && !tls && !options.insecureListen) {
    throw new UsageError(`serve: refusing to listen on ${listen} without TLS: approval links carry secrets. Configure approvals.serve.tls_cert and tls_key, listen on 127.0.0.1 behind a TLS reverse proxy, or pass --insecure-listen`);
  }
  const log = options.log ?? (() => undefined);
  const now = options.now ?? (() => new Date());
  const windowMs = options.rateWindowMs ?? 60_000;
  const perToken = new RateLimiter(options.perToken ?? 5, windowMs);
  const perAddress = new RateLimiter(options.perAddress ?? 30, windowMs);
  const executions = new Map<string, Promise<number | null>>();
  const operator = { actor: 'serve', events: silentSink, yes: false };
  const openSession = () => Session.open(options.manifestPath, operator, 'approval');
  const cli = options.cli ?? path.join(packageRoot(), 'bin', 'swiftdeploy');

  /** Starts the approved `serve` requests not yet used or started (the child's own authorise re-verifies everything). */
  const executeApproved = async (): Promise<void> => {
    const session = await openSession();
    const view = await readLedgerView(session.historyFile);
    for (const state of view.approvals.values()) {
      const { request } = state;
      if (request.executor !== 'serve' || state.consumed || executions.has(request.id)) continue;
      if (outcomeOf(state, now())?.outcome !== 'approved') continue;
      // --lock-wait: an approved action waits for another operation rather than failing (exit 5).
      const argv = ['-f', session.loaded.file, '--actor', request.requested_by, ...planArgv(request.plan), '--lock-wait', String(EXECUTE_LOCK_WAIT_SECONDS), '--approval', request.id];
      log(`executing approval ${request.id}: ${request.plan.summary}`);
      // Through the one runner (src/runtime): the child's lines go to serve's log as they come.
      const run = runArgv([process.execPath, cli, ...argv], { cwd: session.loaded.projectDir, onLine: (line) => log(`[${request.id}] ${line}`) });
      executions.set(
        request.id,
        run.then(
          (result) => {
            log(`approval ${request.id}: ${request.plan.action} exited ${result.exitCode}`);
            // Still locked after the wait: the approval is unused, so the next pass tries again.
            if (result.exitCode === EXIT.LOCKED) executions.delete(request.id);
            return result.exitCode;
          },
          (err: Error) => {
            log(`approval ${request.id}: ${err.message}`);
            return null;
          },
        ),
      );
    }
  };
  let executing: Promise<void> = Promise.resolve();
  const scheduleExecution = () => {
    executing = executing.then(executeApproved).catch((err: Error) => log(`executor: ${err.message}`));
    return executing;
  };

  const handler = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const send = (status: number, body: string, type = 'text/html; charset=utf-8') => {
      res.writeHead(status, { ...HEADERS, 'content-type': type });
      res.end(body);
    };
    const url = new URL(req.url ?? '/', 'http://serve.invalid');
    const address = clientAddress(req, config.serve.public_url !== undefined);
    if (url.pathname === '/healthz' && req.method === 'GET') return send(200, 'ok\n', 'text/plain; charset=utf-8');
    const m = /^\/a\/([^/]+)$/.exec(url.pathname);
    if (!m) return send(404, messagePage('Not found', 'Nothing here.'));
    const id = m[1]!;
    const at = now().getTime();

    if (req.method === 'GET' || req.method === 'HEAD') {
      // Read-only: no record, no decision, whatever the token.
      if (perAddress.over(`get ${address}`, at).over) return send(429, messagePage('Too many requests', refusalMessage('rate limited')));
      const token = url.searchParams.get('t') ?? '';
      const session = await openSession();
      const state = isApprovalId(id) ? (await readLedgerView(session.historyFile)).approvals.get(id) : undefined;
      const parsed = parseToken(token);
      const entry = parsed && state?.request.tokens.find((t) => t.approver === parsed.approver);
      const approvals = session.manifest.approvals;
      const valid =
        state && parsed && entry && approvals && entry.token_id === tokenId(parsed.nonce) &&
        tokenMatches(approvalKey(approvals), { id, plan_hash: state.request.plan_hash, approver: parsed.approver, expires_at: state.request.expires_at }, parsed);
      if (!valid || !state || !parsed) return send(404, messagePage('Link not valid', refusalMessage('forged')));
      const outcome = outcomeOf(state, now());
      const mine = state.decisions.find((d) => d.decided_by === parsed.approver);
      const pending = outcome ? `This request is ${outcome.outcome}.` : mine ? `You already ${mine.stage} this request.` : undefined;
      log(`GET approval ${id} (${parsed.approver}) from ${address}`);
      return send(200, decisionPage(state, parsed.approver, token, pending));
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'GET, HEAD, POST');
      return send(405, messagePage('Method not allowed', 'GET shows, POST decides.'));
    }

    const body = await readBody(req);
    if (body === undefined) return send(413, messagePage('Too large', 'The form is too large.'));
    const form = new URLSearchParams(body);
    const token = form.get('t') ?? '';
    const decision = form.get('decision');
    if (decision !== 'approve' && decision !== 'deny') return send(400, messagePage('Bad request', 'Expected decision=approve or decision=deny.'));
    const parsed = parseToken(token);
    const limited = [perAddress.over(`post ${address}`, at), ...(parsed ? [perToken.over(tokenId(parsed.nonce), at)] : [])];
    if (limited.some((l) => l.over)) {
      // Recorded once per window and key: a flood must not flood the ledger too.
      if (limited.some((l) => l.first)) {
        const session = await openSession();
        await recordRefusal(session, { id: isApprovalId(id) ? id : null, why: 'rate limited', ...(parsed ? { token_id: tokenId(parsed.nonce) } : {}), address }, 'serve');
      }
      log(`POST approval ${id} from ${address}: rate limited`);
      return send(429, messagePage('Too many requests', refusalMessage('rate limited')));
    }
    const reason = (form.get('reason') ?? '').slice(0, 500);
    const session = await openSession();
    const result = await decide(session, { via: 'link', id, verdict: decision as Verdict, token, address, ...(reason ? { reason } : {}) }, options.now ? { now: options.now } : {});
    // approval_decided is delivered and recorded in the background: the approver's answer never waits for a webhook.
    void session.settleNotifications();
    if (!result.ok) {
      log(`POST approval ${id} from ${address}: refused (${result.why})`);
      return send(STATUS[result.why], messagePage('Not decided', result.message));
    }
    log(`POST approval ${id} from ${address}: ${result.stage} by ${result.approver}${result.outcome ? `; request ${result.outcome.outcome}` : `; ${result.pending} more needed`}`);
    if (result.outcome?.outcome === 'approved') void scheduleExecution();
    const done = result.outcome ? `The request is ${result.outcome.outcome}.` : `${result.pending} more approval${result.pending === 1 ? '' : 's'} needed.`;
    return send(200, messagePage(result.stage === 'approved' ? 'Approved' : 'Denied', `Recorded: ${result.stage} by ${result.approver}. ${done}`));
  };

  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handler(req, res).catch((err: Error) => {
      log(`error: ${err.message}`);
      if (!res.headersSent) {
        res.writeHead(500, { ...HEADERS, 'content-type': 'text/plain; charset=utf-8' });
        res.end('internal error\n');
      } else res.end();
    });
  };
  const server = tls
    ? https.createServer({ cert: readFileSync(path.resolve(loaded.projectDir, tls_cert)), key: readFileSync(path.resolve(loaded.projectDir, tls_key)) }, listener)
    : http.createServer(listener);
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? config.serve.port, listen, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = listen.includes(':') ? `[${listen}]` : listen;
  const pollMs = options.executePollMs ?? 1000;
  const timer = pollMs > 0 ? setInterval(() => void scheduleExecution(), pollMs) : undefined;
  if (pollMs > 0) void scheduleExecution();
  return {
    url: `${tls ? 'https' : 'http'}://${host}:${port}`,
    executions,
    close: async () => {
      if (timer) clearInterval(timer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await executing;
      await Promise.all(executions.values());
    },
  };
}
