/**
 * The one place the CLI listens for SIGINT, SIGTERM and SIGHUP; everything else registers here
 * (the project lock's release, the dashboard's cursor, the status loop, a promote's deferral).
 *
 * On a signal: if a listener is registered (`onInterrupt`: a loop that finishes its tick, a change
 * that rolls back first), the first signal goes to it and nothing exits; the command ends itself.
 * Otherwise, and on a second signal, the registered cleanups run once, in reverse order, and the
 * process exits 128 + the signal's number: 130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP).
 */
export type HandledSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

/** Gets the signal when one caused it; none when the CLI runs the cleanups on its way out (cli/main.ts). */
type Cleanup = (signal?: HandledSignal) => void | Promise<void>;

const SIGNALS: readonly HandledSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const EXIT_CODE: Record<HandledSignal, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

const cleanups: Cleanup[] = [];
let installed = false;
let interrupted: HandledSignal | undefined;
const listeners = new Set<(signal: HandledSignal) => void>();

/** Runs `fn` before a signal ends the process; returns the function that unregisters it. */
export function onCleanup(fn: Cleanup): () => void {
  install();
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

/** Lets a loop stop gracefully: while a listener is registered, the signal does not exit at once. */
export function onInterrupt(listener: (signal: HandledSignal) => void): () => void {
  install();
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export async function runCleanups(signal?: HandledSignal): Promise<void> {
  while (cleanups.length > 0) {
    const fn = cleanups.pop()!;
    try {
      await fn(signal);
    } catch {
      // a failing cleanup must not stop the others
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const signal of SIGNALS) {
    process.on(signal, () => {
      const second = interrupted !== undefined;
      interrupted = signal;
      if (listeners.size > 0 && !second) {
        for (const l of listeners) l(signal);
        return;
      }
      void runCleanups(signal).finally(() => process.exit(EXIT_CODE[signal]));
    });
  }
}
