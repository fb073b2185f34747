/**
 * The guard's incident stages as ledger records (`guard` / detected, proposed, authorised,
 * executed, recovered). Each record's actor says who acted: `policy` detects and declares
 * recovery, a human authorises (or `policy` under guard.auto_abort_canary), the guard executes.
 */
import type { NoticeCorrelation, NoticeViolation } from '../notify/types.js';

export interface IncidentPayload {
  /** Stable across the incident's records. */
  id: string;
  /** true in guard.mode shadow: recorded and notified, nothing executed. */
  shadow: boolean;
  /** detected: what the policy found, over how many ticks, and the last change before it. */
  violations?: NoticeViolation[];
  ticks?: number;
  correlation?: NoticeCorrelation | null;
  /** proposed: what the guard proposes (abort during a rollout, else rollback). */
  plan?: { action: 'rollback' | 'abort'; summary: string };
  approval_id?: string;
  /** authorised: by whom (approvers, or ['policy'] under auto_abort_canary). */
  authorised_by?: string[];
  /** executed: how the action ended. */
  outcome?: 'ok' | 'failed';
  detail?: string;
  /** detected, recovered: the guard policy's version (its files and sustain_ticks/recover_ticks). */
  policy_version?: string;
}
