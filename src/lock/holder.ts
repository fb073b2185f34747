/**
 * The one holder record of every swiftdeploy lock file (the project lock, the ledger's append lock,
 * `lock release`'s own lock, the `.break` mutex): who holds it, and whether that holder still runs.
 *
 * Holder files written before the one core (issue #12) are still understood, because a user may
 * upgrade with a lock held or left behind:
 * - the project lock's shape is unchanged (version 1, camelCase), so an old one reads as before;
 * - the ledger lock's old shape (`nonce`, `since`, `purpose`, `boot_id`, `proc_start`, null for
 *   unknown) is mapped onto this one, so an old stale holder is broken like any other and an old live
 *   one is waited for. An old process that meets a new ledger holder cannot parse it and waits for it
 *   to go, which is safe: both publish with link(2), so they still exclude each other.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { bootId, processStartTime, whyNotAlive } from './liveness.js';

export interface LockHolder {
  version: 1;
  /** Random per acquisition; a holder removes the lock only while it still carries its own id. */
  id: string;
  /** Who asked; the project lock always names one, the ledger lock does not. */
  actor?: string;
  host: string;
  pid: number;
  /** Linux only: lets a reader tell a reused pid from the holder. */
  pidStartTime?: string;
  /** Linux only: lets a reader tell a lock written before the last reboot. */
  bootId?: string;
  /** What the holder is doing, e.g. "promote canary" or "append event record". */
  command: string;
  /** ISO-8601 UTC. */
  startedAt: string;
}

export type HolderLiveness =
  | { liveness: 'alive' }
  /** stale: the holder is not running on this host (dead, zombie, pid reused, or before a reboot). */
  | { liveness: 'stale'; reason: string }
  /** unknown: taken on another host, whose pids cannot be checked from here. */
  | { liveness: 'unknown'; reason: string };

// Computed once: the start time of this process never changes, and the boot id only across reboots.
let own: { pidStartTime?: string; bootId?: string } | undefined;

/** A record naming this process as the holder. */
export function newHolder(command: string, actor?: string): LockHolder {
  own ??= { pidStartTime: processStartTime(process.pid), bootId: bootId() };
  const holder: LockHolder = {
    version: 1,
    id: randomBytes(12).toString('hex'),
    ...(actor !== undefined ? { actor } : {}),
    host: hostname(),
    pid: process.pid,
    command,
    startedAt: new Date().toISOString(),
  };
  if (own.pidStartTime !== undefined) holder.pidStartTime = own.pidStartTime;
  if (own.bootId !== undefined) holder.bootId = own.bootId;
  return holder;
}

/** Parses a holder file's text; throws with the reason when it is not one. */
export function parseHolder(text: string): LockHolder {
  const v: unknown = JSON.parse(text);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
  const o = v as Record<string, unknown>;
  if (typeof o.nonce === 'string' && o.id === undefined) return fromLedgerV0(o);
  for (const k of ['id', 'host', 'command', 'startedAt'] as const) {
    if (typeof o[k] !== 'string') throw new Error(`field ${k} is missing or not a string`);
  }
  if (!Number.isInteger(o.pid)) throw new Error('field pid is missing or not an integer');
  const holder: LockHolder = {
    version: 1,
    id: o.id as string,
    host: o.host as string,
    pid: o.pid as number,
    command: o.command as string,
    startedAt: o.startedAt as string,
  };
  if (typeof o.actor === 'string') holder.actor = o.actor;
  if (typeof o.pidStartTime === 'string') holder.pidStartTime = o.pidStartTime;
  if (typeof o.bootId === 'string') holder.bootId = o.bootId;
  return holder;
}

/** The ledger lock's record before issue #12: `{pid, host, boot_id, proc_start, since, nonce, purpose}`. */
function fromLedgerV0(o: Record<string, unknown>): LockHolder {
  if (!Number.isInteger(o.pid)) throw new Error('field pid is missing or not an integer');
  if (typeof o.host !== 'string') throw new Error('field host is missing or not a string');
  const holder: LockHolder = {
    version: 1,
    id: o.nonce as string,
    host: o.host,
    pid: o.pid as number,
    command: typeof o.purpose === 'string' ? o.purpose : 'append history',
    startedAt: typeof o.since === 'string' ? o.since : 'an unknown time',
  };
  if (typeof o.proc_start === 'string') holder.pidStartTime = o.proc_start;
  if (typeof o.boot_id === 'string') holder.bootId = o.boot_id;
  return holder;
}

/** Whether the holder still runs. Judged only on the host that wrote it; elsewhere it is unknown. */
export function holderLiveness(holder: LockHolder): HolderLiveness {
  if (holder.host !== hostname()) {
    return { liveness: 'unknown', reason: `taken on another host (${holder.host}); cannot check its pid from here` };
  }
  const reason = whyNotAlive(holder);
  return reason === undefined ? { liveness: 'alive' } : { liveness: 'stale', reason };
}
