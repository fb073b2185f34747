import { Agent, request } from 'undici';
import { UsageError } from '../errors.js';
import { PolicyEngineUnavailable } from './errors.js';
import { parseDecisionResponse } from './decision-response.js';
import type { Decision, PolicyDomain, PolicyInput } from './types.js';
import { pollUntil } from '../util/poll-until.js';

export const DEFAULT_OPA_TIMEOUT_MS = 2_000;

/** What the gate needs from a policy engine; OpaClient is the one real implementation. */
export interface PolicyClient {
  readonly url: string;
  decide(domain: PolicyDomain, input: PolicyInput): Promise<Decision>;
}

export interface OpaClientOptions {
  /** Base URL of the OPA server, e.g. http://127.0.0.1:8181 (the sidecar) or a central OPA. */
  url: string;
  /** Deadline for one whole request: connect, headers and body. */
  timeoutMs?: number;
}

export interface HealthResult {
  ok: boolean;
  /** Why not, e.g. "connection refused" or "HTTP 500". */
  detail: string;
}

/** OPA's Data API over one keep-alive connection pool. */
export class OpaClient implements PolicyClient {
  readonly url: string;
  readonly timeoutMs: number;
  private readonly agent: Agent;

  constructor(options: OpaClientOptions) {
    this.url = normaliseOpaUrl(options.url);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_OPA_TIMEOUT_MS;
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new UsageError(`opa.timeout_ms: expected a positive integer, got ${String(options.timeoutMs)}`);
    }
    // Decisions come in bursts (status polls, deploy then promote): keep one TCP connection alive and
    // queue on it. With more allowed, undici opens a second socket when a request is dispatched in the
    // instant before the previous response is fully retired, which buys nothing at ~1 ms a decision.
    this.agent = new Agent({ keepAliveTimeout: 10_000, connections: 1 });
  }

  decisionUrl(domain: PolicyDomain): string {
    return `${this.url}/v1/data/swiftdeploy/${domain}/decision`;
  }

  async decide(domain: PolicyDomain, input: PolicyInput): Promise<Decision> {
    const { status, body } = await this.send(domain, 'POST', this.decisionUrl(domain), JSON.stringify({ input }));
    return parseDecisionResponse(domain, status, body);
  }

  /**
   * Any document under data.swiftdeploy (e.g. `guard/decision`): OPA's `result`, for a policy with
   * its own document shape (the guard's). Fails closed like `decide`: PolicyEngineUnavailable.
   */
  async evaluate(rule: string, input: unknown): Promise<unknown> {
    const where = `policy/${rule}`;
    const { status, body } = await this.send(rule, 'POST', `${this.url}/v1/data/swiftdeploy/${rule}`, JSON.stringify({ input }));
    if (status < 200 || status > 299) throw new PolicyEngineUnavailable('http_status', `${where}: OPA answered HTTP ${status}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (err) {
      throw new PolicyEngineUnavailable('invalid_json', `${where}: OPA's answer is not valid JSON`, { cause: err });
    }
    const result = typeof parsed === 'object' && parsed !== null ? (parsed as { result?: unknown }).result : undefined;
    if (result === undefined) {
      throw new PolicyEngineUnavailable('undefined_decision', `${where}: data.swiftdeploy.${rule.replaceAll('/', '.')} is undefined on this OPA (are swiftdeploy's policies loaded?)`);
    }
    return result;
  }

  /** GET /health. Never throws: readiness polling wants a yes/no and a reason. */
  async health(): Promise<HealthResult> {
    try {
      const { status } = await this.send('health', 'GET', `${this.url}/health`);
      return status === 200 ? { ok: true, detail: 'healthy' } : { ok: false, detail: `HTTP ${status}` };
    } catch (err) {
      return { ok: false, detail: err instanceof PolicyEngineUnavailable ? err.message : String(err) };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async send(
    what: string,
    method: 'GET' | 'POST',
    url: string,
    body?: string,
  ): Promise<{ status: number; body: string }> {
    const where = what === 'health' ? `OPA at ${this.url}` : `policy/${what}: OPA at ${this.url}`;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    try {
      const res = await request(url, {
        method,
        dispatcher: this.agent,
        signal: controller.signal,
        ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
      });
      return { status: res.statusCode, body: await res.body.text() };
    } catch (err) {
      if (timedOut) {
        throw new PolicyEngineUnavailable('timeout', `${where} gave no answer within ${this.timeoutMs} ms`, {
          cause: err,
        });
      }
      const code = errorCode(err);
      if (code === 'ECONNREFUSED') {
        throw new PolicyEngineUnavailable('refused', `${where}: connection refused (is OPA running?)`, { cause: err });
      }
      throw new PolicyEngineUnavailable('network', `${where}: ${code ?? describe(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
}

export interface WaitReadyOptions {
  /** Give up after this long; the sidecar normally answers within a second or two. */
  timeoutMs?: number;
  intervalMs?: number;
  /** Called after every unhealthy probe, e.g. to draw progress on a TTY. */
  onProgress?: (progress: { attempt: number; elapsedMs: number; detail: string }) => void;
}

/** Poll GET /health until OPA is ready; PolicyEngineUnavailable('not_ready') when the bound passes. */
export async function waitReady(
  client: Pick<OpaClient, 'health' | 'url'>,
  options: WaitReadyOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const polled = await pollUntil({
    intervalMs: options.intervalMs ?? 250,
    timeoutMs,
    probe: () => client.health(),
    until: (result) => result.ok,
    onObservation: (result, attempt, elapsedMs) => {
      if (!result.ok) options.onProgress?.({ attempt, elapsedMs, detail: result.detail });
    },
  });
  if (polled.outcome === 'done') return;
  const { attempts, elapsedMs } = polled;
  throw new PolicyEngineUnavailable(
    'not_ready',
    `OPA at ${client.url} not ready after ${attempts} probe${attempts === 1 ? '' : 's'} in ${elapsedMs} ms: ${polled.last?.detail ?? 'no answer'}`,
  );
}

/** Validate and strip a base URL; a bad URL is the operator's input, so a usage error. */
export function normaliseOpaUrl(raw: string): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new UsageError(`opa.url: expected an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`opa.url: expected an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  if (parsed.search || parsed.hash) {
    throw new UsageError(`opa.url: expected a base URL without query or fragment, got ${JSON.stringify(raw)}`);
  }
  return parsed.href.replace(/\/+$/, '');
}

function errorCode(err: unknown): string | undefined {
  // Node reports a refused dual-stack connect as an AggregateError whose members carry the code.
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0 && seen.size < 10) {
    const e = queue.shift();
    if (typeof e !== 'object' || e === null || seen.has(e)) continue;
    seen.add(e);
    const rec = e as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof rec.code === 'string' && rec.code.startsWith('E')) return rec.code;
    queue.push(rec.cause);
    if (Array.isArray(rec.errors)) queue.push(...rec.errors);
  }
  return undefined;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
