/**
 * The one poll loop: probe, judge, wait an interval, until the judge is satisfied, a deadline
 * passes or a signal aborts. The outcome is returned, never thrown: what a timeout means (a failed
 * deploy, an engine that is not ready, a sampling window that is simply over) is the caller's call.
 */

export interface PollAttempt {
  /** 1 for the first probe. */
  attempt: number;
  /** Time left before the deadline (Infinity without one); a probe should not outlive it. */
  remainingMs: number;
  /** Aborted with the caller's signal. */
  signal?: AbortSignal;
}

export interface PollUntilOptions<T> {
  /** One observation. A probe that can fail should return its failure as an observation. */
  probe(attempt: PollAttempt): Promise<T>;
  /** true ends the poll with `done`. */
  until(observation: T): boolean;
  /** Pause between the end of one probe and the start of the next. */
  intervalMs: number;
  /** Give up after this long (measured from the call); undefined polls until `until` or the signal. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with every observation, before it is judged (progress on a terminal, a tick drawn). */
  onObservation?(observation: T, attempt: number, elapsedMs: number): void;
}

export interface PollResult<T> {
  /** done: `until` was satisfied; timeout: the deadline passed first; aborted: the signal did. */
  outcome: 'done' | 'timeout' | 'aborted';
  /** The last observation (undefined when aborted before the first probe). */
  last: T | undefined;
  attempts: number;
  elapsedMs: number;
}

/** An abortable pause: resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(finish, Math.max(0, ms));
    function finish(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', finish);
      resolve();
    }
    signal?.addEventListener('abort', finish, { once: true });
  });
}

export async function pollUntil<T>(options: PollUntilOptions<T>): Promise<PollResult<T>> {
  const { intervalMs, timeoutMs, signal } = options;
  if (!(intervalMs > 0)) throw new RangeError('pollUntil: intervalMs must be positive');
  if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new RangeError('pollUntil: timeoutMs must be positive');
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const remaining = (): number => (timeoutMs === undefined ? Infinity : timeoutMs - elapsed());
  let last: T | undefined;
  let attempts = 0;
  const result = (outcome: PollResult<T>['outcome']): PollResult<T> => ({ outcome, last, attempts, elapsedMs: elapsed() });
  for (;;) {
    if (signal?.aborted) return result('aborted');
    attempts += 1;
    const observation = await options.probe({ attempt: attempts, remainingMs: Math.max(0, remaining()), ...(signal ? { signal } : {}) });
    last = observation;
    options.onObservation?.(observation, attempts, elapsed());
    if (options.until(observation)) return result('done');
    const left = remaining();
    if (left <= 0) return result('timeout');
    // The last pause is cut short so one more probe lands on the deadline rather than after it.
    await pause(Math.min(intervalMs, left), signal);
  }
}
