import { acquireLock, describeHolder, lockStatus } from '../lock/index.js';
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
/** The lock command of a progressive rollout's transitions: held for seconds, between analysis windows. */
export const ROLLOUT_TRANSITION = 'rollout step';

/** How long a command waits, without --lock-wait, for a rollout's transition to end (it holds the lock for seconds). */
const TRANSITION_WAIT_SECONDS = 60;

export async function withProjectLock<T>(session: Session, command: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  let waitSeconds = options.lockWaitSeconds;
  if (waitSeconds === undefined) {
    // A running rollout takes the lock for each transition only; waiting for it is what the user means.
    const held = await lockStatus(session.stateDir);
    waitSeconds = held.state === 'held' && held.liveness !== 'stale' && held.holder.command === ROLLOUT_TRANSITION ? TRANSITION_WAIT_SECONDS : 0;
  }
  const handle = await acquireLock(
    session.stateDir,
    { actor: session.operator.actor, command },
    {
      waitSeconds,
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
    // After the change, before the lock goes: each webhook's delivery ends within its budget, and
    // its `notify` record follows the operation's records rather than interleaving with the next one's.
    await session.settleNotifications();
    await handle.release();
  }
}
