import { request } from 'undici';
import { OperationFailed } from '../errors.js';
import { parsePrometheusText } from './parse.js';
import type { Snapshot } from './types.js';

export interface ScrapeOptions {
  /** Whole-request budget: connect, headers and body. Default 2,000 ms. */
  timeoutMs?: number;
  /** Clock for the snapshot's `at`; injectable for tests. */
  now?: () => number;
}

const DEFAULT_TIMEOUT_MS = 2_000;
/** A /metrics body this large is not our app's; refuse it rather than buffer it. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/**
 * Scrapes a Prometheus text endpoint once. Any failure (refused, timeout, non-200, unparsable body)
 * is an OperationFailed (exit 1): `status --once` reports "metrics cannot be scraped" from it.
 */
/** The server closed the (pooled, keep-alive) connection without an answer: an nginx reload does that to idle ones. */
function closedWithoutAnswer(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET';
}

export async function scrapeMetrics(url: string, opts: ScrapeOptions = {}): Promise<Snapshot> {
  try {
    return await scrapeOnce(url, opts);
  } catch (err) {
    // A GET is idempotent: retried once on a new connection when the old one was closed under it
    // (RFC 9112 9.3.1), as a browser would; the progressive canary scrapes right after a reload.
    if (err instanceof OperationFailed && closedWithoutAnswer(err.cause)) return scrapeOnce(url, opts);
    throw err;
  }
}

async function scrapeOnce(url: string, opts: ScrapeOptions): Promise<Snapshot> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const now = opts.now ?? Date.now;
  let text: string;
  try {
    const res = await request(url, {
      method: 'GET',
      headers: { accept: 'text/plain;version=0.0.4' },
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new OperationFailed(`cannot scrape ${url}: HTTP ${res.statusCode}`);
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
      await res.body.dump();
      throw new OperationFailed(`cannot scrape ${url}: body of ${declared} bytes exceeds ${MAX_BODY_BYTES}`);
    }
    text = await res.body.text();
  } catch (err) {
    if (err instanceof OperationFailed) throw err;
    const reason =
      err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')
        ? `no answer within ${timeoutMs} ms`
        : err instanceof Error
          ? err.message
          : String(err);
    throw new OperationFailed(`cannot scrape ${url}: ${reason}`, { cause: err });
  }
  // `at` is taken when the body has arrived: that is the moment the counters describe (to within the
  // request's own latency), and it keeps rates honest when a scrape is slow.
  const at = now();
  return { at, samples: parsePrometheusText(text) };
}
