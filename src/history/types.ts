import type { DecisionRecord } from '../policy/types.js';
import type { WindowStats } from '../metrics/types.js';

export const HISTORY_VERSION = 1;

export type RecordKind = 'status' | 'event';

export type LifecycleAction =
  | 'init'
  | 'deploy'
  | 'promote'
  | 'rollback'
  | 'teardown'
  | 'lock_release'
  | 'policy_check';

export type LifecycleStage =
  | 'requested'
  | 'policy_decided'
  | 'authorised'
  | 'executed'
  | 'confirmed'
  | 'rolled_back'
  | 'failed';

export interface GitInfo {
  sha: string;
  subject: string;
  author: string;
  dirty: boolean;
}

export interface EventPayload {
  action: LifecycleAction;
  stage: LifecycleStage;
  /** Free text: the outcome, the cause of a failure or rollback, the operator's --reason. */
  detail?: string;
  from_mode?: string;
  to_mode?: string;
  decision?: DecisionRecord;
  /** Absent when the project directory is not a git repository. */
  git?: GitInfo;
  [key: string]: unknown;
}

export type PolicyVerdict = DecisionRecord | { domain: string; unavailable: string; enforcement: string };

export interface StatusPayload {
  mode: string | null;
  chaos: { mode: string; rate?: number; duration?: number } | null;
  uptime_seconds: number | null;
  window: WindowStats | null;
  decisions: { infrastructure?: PolicyVerdict; canary?: PolicyVerdict };
  /** Set when the scrape failed. */
  error?: string;
}

/** What a caller hands to the ledger; seq, ts, prev and hash are the ledger's to fill in. */
export interface RecordInput {
  kind: RecordKind;
  actor: string;
  policy_version: string | null;
  manifest_sha256: string | null;
  payload: EventPayload | StatusPayload;
}

export interface HistoryRecord extends RecordInput {
  v: number;
  seq: number;
  ts: string;
  prev: string;
  hash: string;
}

/** The one small interface every command writes history through. */
export interface Recorder {
  append(input: RecordInput): Promise<HistoryRecord>;
}
