/**
 * SIGINT/SIGTERM handling for the whole CLI: registered cleanups (lock release, cursor restore)
 * run once, in reverse order, then the process exits 130 (SIGINT) or 143 (SIGTERM). Commands that
 * want to finish a unit of work first (the status loop) register an `onInterrupt` listener instead.
 */
type Cleanup = () => void | Promise<void>;

const cleanups: Cleanup[] = [];
let installed = false;
let interrupted: NodeJS.Signals | undefined;
const listeners = new Set<(signal: NodeJS.Signals) => void>();

export function onCleanup(fn: Cleanup): () => void {
  install();
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

/** Lets a loop stop gracefully: while a listener is registered, the signal does not exit at once. */
export function onInterrupt(listener: (signal: NodeJS.Signals) => void): () => void {
  install();
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    const fn = cleanups.pop()!;
    try {
      await fn();
    } catch {
      // a failing cleanup must not stop the others
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      const second = interrupted !== undefined;
      interrupted = signal;
      if (listeners.size > 0 && !second) {
        for (const l of listeners) l(signal);
        return;
      }
      void runCleanups().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
}
