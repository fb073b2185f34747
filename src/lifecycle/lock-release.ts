import path from 'node:path';
import { describeHolder, forceReleaseLock, lockStatus, withFileLock, type ForceReleaseResult } from '../lock/index.js';
import type { Session } from './session.js';
import { changeFiles, reconcile } from './wal.js';

/**
 * `lock release --force`, write-ahead: settle what the dead holder left (its intent without an
 * outcome is exactly what a stale lock usually means), record the intent to delete the lock file
 * (its sha256 before, absent after), delete it, record the outcome. Two releases at once are
 * serialised by a small lock of their own; no mutating command can run meanwhile, since the stale
 * lock still stands until it is deleted.
 */
export async function releaseStaleLock(session: Session): Promise<ForceReleaseResult> {
  if ((await lockStatus(session.stateDir)).state === 'free') return { removed: false };
  return withFileLock(
    path.join(session.stateDir, 'release.lock'),
    () =>
      forceReleaseLock(session.stateDir, {
        remove: async (status) => {
          await reconcile(session);
          const previous = status.state === 'held' ? describeHolder(status.holder) : status.reason;
          const done = await changeFiles(session, [{ abs: status.path, content: null }], { detail: `forced release of ${previous}`, command: 'lock release --force' });
          return done !== undefined;
        },
      }),
    { command: 'lock release --force', timeoutMs: 10_000 },
  );
}
