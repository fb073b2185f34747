/**
 * The ledger is the approvals' store: a request's state is read back from its `approval` records
 * and from the lifecycle `authorised` record that consumed it (`approval_id`).
 */
import { isPlainObject } from '../util/is-plain-object.js';
import { existsSync } from 'node:fs';
import { RecordLines } from '../history/ledger.js';
import { iterateLines } from '../history/lines.js';
import { settledSize } from '../history/settled.js';
import type { EventPayload, HistoryRecord } from '../history/types.js';

const EVENT_MARKER = Buffer.from('"kind":"event"');
import type { ApprovalDecided, ApprovalEnded, ApprovalOutcome, ApprovalRequested } from './types.js';

export interface Decision extends ApprovalDecided {
  stage: 'approved' | 'denied';
  ts: string;
}

export interface ApprovalState {
  request: ApprovalRequested;
  requested_at: string;
  decisions: Decision[];
  /** An `expired` or `voided` record. */
  ended?: ApprovalEnded & { stage: 'expired' | 'voided' };
  /** The `authorised` record of the action that ran with it, when one did. */
  consumed: boolean;
}

/** What a change to the stack records: the plan hash covers the last one. */
const CHANGE_ACTIONS = new Set(['deploy', 'promote', 'rollback', 'resume', 'abort', 'teardown']);
const CHANGE_STAGES = new Set(['executed', 'confirmed', 'rolled_back', 'completed', 'partial', 'unknown']);

export interface LedgerView {
  approvals: Map<string, ApprovalState>;
  /** The hash of the last record of a change to the stack, or null. */
  lastChange: string | null;
}

/** One pass over the ledger. A missing ledger is an empty one. */
export async function readLedgerView(historyFile: string): Promise<LedgerView> {
  const approvals = new Map<string, ApprovalState>();
  let lastChange: string | null = null;
  if (!existsSync(historyFile)) return { approvals, lastChange };
  // Waiters poll this several times a second, and status records are nearly all of a ledger: only
  // lines that are events are parsed (canonical JSON spells the member exactly so). Hand-rolled over
  // readRecords because parsing every status record of a 3-day ledger took a second per poll.
  const lines = new RecordLines(historyFile, () => undefined);
  for await (const raw of iterateLines(historyFile, await settledSize(historyFile))) {
    if (raw.terminated && !raw.bytes.includes(EVENT_MARKER)) continue;
    const record = lines.parse(raw) as HistoryRecord | undefined;
    if (record === undefined || record.kind !== 'event') continue;
    const p = record.payload as EventPayload;
    if (CHANGE_ACTIONS.has(p.action) && CHANGE_STAGES.has(p.stage)) lastChange = record.hash ?? null;
    if (p.stage === 'authorised' && typeof p.approval_id === 'string') {
      const s = approvals.get(p.approval_id);
      if (s) s.consumed = true;
      continue;
    }
    // An approval record's own fields are under `approval` (src/approvals/types.ts).
    const a = p.approval;
    if (p.action !== 'approval' || !isPlainObject(a) || typeof a.id !== 'string') continue;
    if (p.stage === 'requested') {
      approvals.set(a.id, { request: a as unknown as ApprovalRequested, requested_at: record.ts, decisions: [], consumed: false });
      continue;
    }
    const s = approvals.get(a.id);
    if (!s) continue;
    if (p.stage === 'approved' || p.stage === 'denied') s.decisions.push({ ...(a as unknown as ApprovalDecided), stage: p.stage, ts: record.ts });
    else if ((p.stage === 'expired' || p.stage === 'voided') && !s.ended) s.ended = { id: a.id, reason: String(a.reason ?? ''), stage: p.stage };
  }
  return { approvals, lastChange };
}

/** How the request ended, or undefined while it is pending. Expiry by the clock counts before it is recorded. */
export function outcomeOf(s: ApprovalState, now: Date = new Date()): ApprovalOutcome | undefined {
  const { id } = s.request;
  const denied = s.decisions.filter((d) => d.stage === 'denied');
  if (denied.length > 0) return { id, outcome: 'denied', by: denied.map((d) => d.decided_by), ...(denied[0]!.reason ? { reason: denied[0]!.reason } : {}) };
  // A recorded end is final: an approval voided after it was approved stays void, even if the plan
  // hash matches again later (an edit reverted).
  if (s.ended) return { id, outcome: s.ended.stage, by: [], reason: s.ended.reason };
  const approvedBy = [...new Set(s.decisions.filter((d) => d.stage === 'approved').map((d) => d.decided_by))];
  if (approvedBy.length >= s.request.required) return { id, outcome: 'approved', by: approvedBy };
  if (now.getTime() >= Date.parse(s.request.expires_at)) return { id, outcome: 'expired', by: [], reason: `not decided by ${s.request.expires_at}` };
  return undefined;
}
