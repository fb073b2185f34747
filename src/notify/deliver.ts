/**
 * One webhook delivery: POST the body, signed afresh for every attempt, within a total time budget.
 * Retries (bounded, exponential backoff with jitter) on network errors, 5xx and 429 (honouring
 * Retry-After when it fits the budget); never on another 4xx, which a retry would only repeat. Each
 * attempt may take what is left of the budget and no more, so the whole delivery ends by
 * `budgetMs` (plus the time to close a socket). Never throws.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { SIGNATURE_HEADER, signBody } from './sign.js';

/** Measured (bench/governance): aborting a request and closing its socket takes ~15-20 ms. */
const TEARDOWN_MS = 25;
/** A retry is started only with at least this much budget left: enough to connect and be answered on a quiet network. */
const MIN_RETRY_MS = 100;

export interface DeliveryTarget {
  url: string;
  /** The HMAC key (the value of the webhook's secret_env). */
  secret: string;
  budgetMs: number;
  /** Sent as X-Swiftdeploy-Event. */
  event: string;
}

export interface DeliveryOptions {
  /** At most this many attempts (default 5), whatever the budget. */
  maxAttempts?: number;
  /** The first backoff (default 250 ms); each next one doubles, up to maxBackoffMs (default 4 s). */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** [0, 1): the jitter (default Math.random). */
  random?: () => number;
  /** Unix ms (default Date.now): the signature's `t`. */
  now?: () => number;
}

export interface DeliveryOutcome {
  delivered: boolean;
  attempts: number;
  status?: number;
  error?: string;
  elapsed_ms: number;
}

/** Retry-After as milliseconds (delta seconds or an HTTP date), or undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, nowMs: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - nowMs) : undefined;
}

/** Backoff before attempt `n + 1` (n >= 1): base * 2^(n-1), capped, times a jitter in [0.5, 1). */
export function backoffMs(n: number, base: number, max: number, random: () => number): number {
  return Math.round(Math.min(max, base * 2 ** (n - 1)) * (0.5 + random() / 2));
}

/** An error's text without the URL's path or query (a Slack webhook's path is its secret). */
function redact(message: string, url: URL): string {
  let text = message;
  for (const secretPart of [url.href, `${url.pathname}${url.search}`]) {
    if (secretPart.length > 1) text = text.split(secretPart).join(url.pathname === '/' && url.search === '' ? '/' : '/…');
  }
  return text.slice(0, 300);
}

function describeError(err: unknown, timedOut: boolean, leftMs: number, url: URL): string {
  if (timedOut) return `no answer within ${leftMs} ms (what was left of the budget)`;
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } };
  const code = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined;
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : String(err);
  return redact(code !== undefined && !message.includes(code) ? `${code}: ${message}` : message, url);
}

export async function deliverWebhook(target: DeliveryTarget, body: string, options: DeliveryOptions = {}): Promise<DeliveryOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const left = () => target.budgetMs - (performance.now() - started);
  const maxAttempts = options.maxAttempts ?? 5;
  const base = options.baseBackoffMs ?? 250;
  const maxBackoff = options.maxBackoffMs ?? 4_000;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    return { delivered: false, attempts: 0, error: 'the URL is not a valid URL', elapsed_ms: elapsed() };
  }
  // Its own connection pool, destroyed at the end: no socket outlives the delivery or holds the CLI open.
  const agent = new Agent({ connect: { timeout: Math.max(1, Math.ceil(target.budgetMs)) }, keepAliveTimeout: 1_000 });
  const deliveryId = randomUUID();
  let attempts = 0;
  let status: number | undefined;
  let error: string | undefined;
  try {
    while (attempts < maxAttempts) {
      const budget = Math.floor(left());
      // A retry with almost nothing left can only time out, and its timeout would hide the real error.
      if (budget <= 0 || (attempts > 0 && budget < MIN_RETRY_MS)) {
        error ??= 'the budget was spent before an attempt';
        break;
      }
      attempts++;
      const t = Math.floor(now() / 1000);
      // What is left, less a moment to tear the request down, so the delivery ends within the budget.
      const timeout = AbortSignal.timeout(Math.max(1, budget - TEARDOWN_MS));
      let wait: number | undefined;
      let retry = false;
      try {
        const res = await request(url, {
          method: 'POST',
          dispatcher: agent,
          signal: timeout,
          headers: {
            'content-type': 'application/json',
            'user-agent': 'swiftdeploy',
            'x-swiftdeploy-event': target.event,
            'x-swiftdeploy-delivery': deliveryId,
            [SIGNATURE_HEADER.toLowerCase()]: signBody(body, target.secret, t),
          },
          body,
        });
        status = res.statusCode;
        await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
        if (status >= 200 && status < 300) return { delivered: true, attempts, status, elapsed_ms: elapsed() };
        error = `HTTP ${status}`;
        retry = status >= 500 || status === 429;
        if (retry) wait = retryAfterMs(res.headers['retry-after'], now());
        if (wait !== undefined && wait > left()) {
          error = `HTTP ${status}, Retry-After ${Math.ceil(wait / 1000)} s is past the budget`;
          break;
        }
      } catch (err) {
        status = undefined;
        error = describeError(err, timeout.aborted, Math.max(1, budget - TEARDOWN_MS), url);
        retry = !timeout.aborted;
      }
      if (!retry || attempts >= maxAttempts) break;
      const pause = wait ?? backoffMs(attempts, base, maxBackoff, random);
      // Not worth starting an attempt that could not finish: stop when the pause leaves too little.
      if (pause + MIN_RETRY_MS >= left()) break;
      await sleep(pause);
    }
    return { delivered: false, attempts, ...(status !== undefined ? { status } : {}), ...(error !== undefined ? { error } : {}), elapsed_ms: elapsed() };
  } catch (err) {
    // Defensive: nothing above should throw, and a delivery must never fail its operation.
    return { delivered: false, attempts, error: describeError(err, false, 0, url), elapsed_ms: elapsed() };
  } finally {
    await agent.destroy().catch(() => undefined);
  }
}
