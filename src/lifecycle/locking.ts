import { acquireLock, describeHolder } from '../lock/index.js';
import type { Session } from './session.js';
import { reconcile } from './wal.js';

export interface LockOptions {
  /** --lock-wait: wait this many seconds for another operation instead of failing with exit 5. */
  lockWaitSeconds?: number;
}

/**
 * Run `fn` holding the project lock; released however `fn` ends (the lock module also covers signals
 * and exit). Before `fn`, what earlier commands left unrecorded is settled (wal.ts `reconcile`), so
 * every mutating command starts from a ledger that accounts for every change.
 */
export async function withProjectLock<T>(session: Session, command: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  const handle = await acquireLock(
    session.stateDir,
    { actor: session.operator.actor, command },
    {
      waitSeconds: options.lockWaitSeconds ?? 0,
      onWait: (status) => {
        if (status.state === 'held') session.out.info(`waiting for the project lock: ${describeHolder(status.holder)}`);
      },
    },
  );
  try {
    await reconcile(session);
    const result = await fn();
    // The change is made; if the ledger did not take all of it, say so with exit 7, not 0.
    if (session.hasUnrecorded) throw session.unrecordedError();
    return result;
  } finally {
    await handle.release();
  }
}
