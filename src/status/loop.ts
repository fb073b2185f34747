/**
 * The status loop: prime, then tick every interval until interrupted. An interrupt is only looked at
 * between ticks, so the record of the tick in progress is always completed (never torn by Ctrl-C).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { EXIT, type ExitCode } from '../errors.js';
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

async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  }
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
    await sleep(first, o.signal);
  }
  for (let ticks = 0; ; ) {
    if (o.signal.aborted) return EXIT.INTERRUPTED;
    const tick = await o.monitor.tick();
    ticks++;
    o.onTick(tick);
    if (o.once) return tick.exit;
    if (o.maxTicks !== undefined && ticks >= o.maxTicks) return EXIT.OK;
    await sleep(o.intervalMs, o.signal);
  }
}
