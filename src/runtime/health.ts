/**
 * Poll an HTTP health endpoint until it answers 2xx or a deadline passes. The outcome is returned,
 * not thrown: on timeout the caller prints service states and logs, which is its business.
 */
import { Agent, request } from 'undici';
import { pollUntil } from '../util/poll-until.js';

export interface HealthTick {
  attempt: number;
  elapsedMs: number;
  /** HTTP status of this attempt, when one was received. */
  status?: number;
  /** Why this attempt failed without a status (connection refused, timeout...). */
  error?: string;
}

export interface PollHealthOptions {
  intervalMs: number;
  timeoutMs: number;
  /** Per-request limit; defaults to min(intervalMs * 5, 5 s) and never beyond the overall deadline. */
  requestTimeoutMs?: number;
  onTick?: (tick: HealthTick) => void;
  signal?: AbortSignal;
}

export interface HealthOutcome {
  healthy: boolean;
  attempts: number;
  elapsedMs: number;
  /** The last attempt, so a failure message can say what was seen. */
  last?: HealthTick;
  /** The last HTTP status received by any attempt: the final attempt may have been cut off by the deadline. */
  lastStatus?: number;
  /** True when the signal ended the polling before a verdict. */
  aborted?: boolean;
}

function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as Error & { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}

export async function pollHealth(url: string, options: PollHealthOptions): Promise<HealthOutcome> {
  const { intervalMs, timeoutMs } = options;
  if (!(intervalMs > 0) || !(timeoutMs > 0)) throw new RangeError('pollHealth: intervalMs and timeoutMs must be positive');
  const perRequest = options.requestTimeoutMs ?? Math.min(intervalMs * 5, 5_000);
  // A private agent with keep-alive off: each probe is a fresh connection (as a new client would make),
  // and nothing is left open to keep the process alive afterwards.
  const agent = new Agent({ pipelining: 0 });
  let lastStatus: number | undefined;
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  try {
    const polled = await pollUntil<HealthTick>({
      intervalMs,
      timeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
      probe: async ({ attempt, remainingMs, signal }) => {
        const limit = Math.max(1, Math.min(perRequest, remainingMs));
        const signals = [AbortSignal.timeout(limit), ...(signal ? [signal] : [])];
        try {
          const res = await request(url, { dispatcher: agent, signal: AbortSignal.any(signals), headers: { connection: 'close' } });
          await res.body.dump();
          return { attempt, elapsedMs: elapsed(), status: res.statusCode };
        } catch (e) {
          return { attempt, elapsedMs: elapsed(), error: errorText(e) };
        }
      },
      onObservation: (tick) => {
        if (tick.status !== undefined) lastStatus = tick.status;
        options.onTick?.(tick);
      },
      until: (tick) => tick.status !== undefined && tick.status >= 200 && tick.status < 300,
    });
    return {
      healthy: polled.outcome === 'done',
      attempts: polled.attempts,
      elapsedMs: polled.elapsedMs,
      ...(polled.last ? { last: polled.last } : {}),
      ...(lastStatus !== undefined ? { lastStatus } : {}),
      ...(polled.outcome === 'aborted' ? { aborted: true } : {}),
    };
  } finally {
    await agent.close();
  }
}
