/**
 * The status loop: prime, then tick every interval until interrupted. An interrupt is only looked at
 * between ticks, so the record of the tick in progress is always completed (never torn by Ctrl-C).
 */
import { EXIT, type ExitCode } from '../errors.js';
import { pause, pollUntil } from '../util/poll-until.js';
import type { StatusMonitor, TickResult } from './tick.js';

export interface StatusLoopOptions {
  monitor: StatusMonitor;
  intervalMs: number;
  /**
   * One judged tick, then exit with its code. It samples for the whole canary window first: a
   * shorter window is one the canary policy refuses to judge (window_too_short).
   */
  once: boolean;
  windowMs: number;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  onTick(tick: TickResult): void;
  /** Tells the user why nothing is shown yet (sampling for the first window). */
  onSampling?(ms: number): void;
  /** Test bound: stop after this many ticks (exit 0). */
  maxTicks?: number;
}

export async function runStatusLoop(o: StatusLoopOptions): Promise<ExitCode> {
  let primed = false;
  try {
    await o.monitor.prime();
    primed = true;
  } catch {
    // Not fatal in a loop (the stack may be starting); the first tick records why.
  }
  if (primed) {
    const first = o.once ? o.windowMs : o.intervalMs;
    o.onSampling?.(first);
    await pause(first, o.signal);
  }
  let ticks = 0;
  // No deadline: the loop ends with --once, the test bound, or the signal (looked at between ticks).
  const polled = await pollUntil<TickResult>({
    intervalMs: o.intervalMs,
    signal: o.signal,
    probe: () => o.monitor.tick(),
    onObservation: (tick) => {
      ticks++;
      o.onTick(tick);
    },
    until: () => o.once || (o.maxTicks !== undefined && ticks >= o.maxTicks),
  });
  if (polled.outcome === 'aborted') return EXIT.INTERRUPTED;
  return o.once && polled.last ? polled.last.exit : EXIT.OK;
}
