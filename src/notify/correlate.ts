/**
 * "This broke 2m14s after promote canary by ops@example.com at a1b2c3d": the last change (deploy,
 * promote, resume, abort, rollback that took effect) before a moment. The grouping of records into
 * operations and the choice of the change are the audit report's own (src/audit/operations.ts
 * OperationTracker and lastChangeAfter, violations.ts correlate); this only reads the ledger from
 * its end, so the cost does not grow with the history's length.
 */
import { isGovernanceAction } from '../audit/governance.js';
import { stat } from 'node:fs/promises';
import { formatDuration } from '../audit/markdown.js';
import { toAuditEntry, type AuditEntry } from '../audit/entry.js';
import { describeAction, isChangeAction, lastChangeAfter, OperationTracker, type Operation } from '../audit/operations.js';
import { correlate } from '../audit/violations.js';
import { scanBackwards } from '../history/tail.js';
import type { NoticeCorrelation } from './types.js';

/** Every event record carries this (status ticks do not, so the scan skips them unparsed). */
const EVENT_MARKER = '"kind":"event"';
/** A bound on the work: an answer further back than this many event records is "none found". */
const MAX_EVENT_RECORDS = 20_000;

/** The operation's record of a change, for a notice. */
export function noticeCorrelation(op: Operation, afterMs: number): NoticeCorrelation {
  return {
    action: op.action,
    label: describeAction(op),
    actor: op.actor,
    at: new Date(op.effectiveMs ?? op.startMs).toISOString(),
    after_ms: afterMs,
    commit: op.git?.sha ?? null,
  };
}

/** "2m14s after promote canary by ops@example.com at a1b2c3d". */
export function correlationText(c: NoticeCorrelation): string {
  return `${formatDuration(c.after_ms)} after ${c.label} by ${c.actor} at ${c.commit === null ? 'no recorded commit' : c.commit.slice(0, 7)}`;
}

/** The last change in `entries` (oldest first) that took effect at or before `atMs`. */
export function lastChangeIn(entries: readonly AuditEntry[], atMs: number): NoticeCorrelation | null {
  const tracker = new OperationTracker();
  let last: Operation | null = null;
  for (const entry of entries) {
    // Approval, guard and delivery records interleave with operations (another process writes them): not operations.
    if (isGovernanceAction((entry.payload as Record<string, unknown>).action)) continue;
    last = lastChangeAfter(tracker.add(entry).op, last);
  }
  const c = correlate(atMs, last);
  return c === null ? null : noticeCorrelation(c.op, c.afterMs);
}

/**
 * The last change before `atMs` in `historyFile`, or null when none took effect before it (or the
 * file does not exist). Reads backwards: each operation starts with a `requested` record, so the
 * records from one such record up to the previous one found hold whole operations, replayed forward.
 */
export async function lastChangeBefore(historyFile: string, atMs: number): Promise<NoticeCorrelation | null> {
  let size: number;
  try {
    size = (await stat(historyFile)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let segment: AuditEntry[] = []; // newest first
  let seen = 0;
  let found: NoticeCorrelation | null = null;
  await scanBackwards(historyFile, size, EVENT_MARKER, (record) => {
    const entry = toAuditEntry(record, 0);
    if (entry === null || entry.kind !== 'event' || entry.tsMs > atMs) return true;
    segment.push(entry);
    const p = entry.payload as Record<string, unknown>;
    if (p.stage === 'requested' && typeof p.action === 'string' && isChangeAction(p.action)) {
      found = lastChangeIn(segment.reverse(), atMs);
      segment = [];
      if (found !== null) return false;
    }
    return ++seen < MAX_EVENT_RECORDS;
  });
  return found ?? (segment.length > 0 ? lastChangeIn(segment.reverse(), atMs) : null);
}
