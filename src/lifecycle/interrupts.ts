import { Interrupted } from '../errors.js';
import type { Reporter } from '../events.js';
import { onInterrupt } from '../util/signals.js';

export interface DeferredInterrupts {
  /** Throws Interrupted if a signal arrived since deferInterrupts(). */
  check(): void;
  release(): void;
}

/**
 * Hold SIGINT/SIGTERM while a change must not be cut in half (a manifest written, an app container
 * half replaced). The first signal is noted and announced; the caller checks at the next safe point
 * and undoes the change. A second signal exits at once (src/util/signals.ts).
 */
export function deferInterrupts(out: Reporter, then: string): DeferredInterrupts {
  let received: NodeJS.Signals | undefined;
  const stop = onInterrupt((signal) => {
    received = signal;
    out.warn(`${signal} received: finishing the current step, then ${then}; send it again to exit at once`);
  });
  return {
    check() {
      if (received) throw new Interrupted(`interrupted by ${received} during the change`);
    },
    release: stop,
  };
}
