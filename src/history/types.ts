import type { OutcomeStage } from './intent.js';

export const HISTORY_VERSION = 1;

export type RecordKind = 'status' | 'event';

export type LifecycleAction =
  | 'init'
  | 'deploy'
  | 'promote'
  /** A paused (or driverless) progressive rollout continued. */
  | 'resume'
  /** A progressive rollout ended: canary weight 0, canary removed. */
  | 'abort'
  | 'rollback'
  | 'teardown'
  | 'lock_release'
  | 'policy_check'
  | 'chaos'
  /** A webhook delivery's outcome (src/notify). */
  | 'notify'
  /** An authorisation asked for and decided away from the terminal (src/approvals). */
  | 'approval'
  /** The guard's incident stages (src/guard). */
  | 'guard';

export type LifecycleStage =
  | 'requested'
  | 'policy_decided'
  | 'authorised'
  | 'executed'
  | 'confirmed'
  | 'rolled_back'
  | 'failed'
  /** Write-ahead: what will change, recorded before the change (src/history/intent.ts). */
  | 'intent'
  /** The outcome of an intent: completed, not_applied, partial, unknown. */
  | OutcomeStage
  /** notify: the receiver answered 2xx / every attempt failed within the budget. */
  | 'delivered'
  | 'undelivered'
  /** approval: one approver's decision, the request's end, or a refused attempt (bad token, replay...). */
  | 'approved'
  | 'denied'
  | 'expired'
  | 'voided'
  | 'refused'
  /** guard: an incident's stages (plus 'authorised' and 'executed' above). */
  | 'detected'
  | 'proposed'
  | 'recovered';

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
  /** The policy decision the operation obeyed or shadowed: src/policy's DecisionRecord. */
  decision?: StoredObject;
  /** Absent when the project directory is not a git repository. */
  git?: GitInfo;
  [key: string]: unknown;
}

/**
 * A JSON object the ledger stores and hashes but never reads: a policy decision, a metrics window.
 * The room that writes it owns its type (src/policy DecisionRecord, src/metrics WindowStats; both
 * assignable here), so the ledger depends on neither.
 */
export type StoredObject = object;

/** A domain's verdict in a status record: the decision (its owner's type), or why there was none. */
export type PolicyVerdict<Decision extends StoredObject = StoredObject> = Decision | { domain: string; unavailable: string; enforcement: string };

/**
 * A status record's payload. The parameters are the owners' types of a decision and a window;
 * src/status/payload.ts instantiates them with src/policy's and src/metrics'.
 */
export interface StatusPayload<Decision extends StoredObject = StoredObject, Window extends StoredObject = StoredObject> {
  mode: string | null;
  chaos: { mode: string; rate?: number; duration?: number } | null;
  uptime_seconds: number | null;
  window: Window | null;
  decisions: { infrastructure?: PolicyVerdict<Decision>; canary?: PolicyVerdict<Decision> };
  /** During a progressive rollout: each track's own window (null until it has two scrapes, or when its scrape failed). */
  tracks?: { stable: Window | null; canary: Window | null };
  /**
   * `runtime: swarm`: each app replica (task) scraped on its own; `window` is the sum of theirs. A
   * replica not scraped this tick (on another node, not running yet, no answer) has `error`.
   */
  replicas?: Array<{ task: string; name?: string; node?: string; window: Window | null; error?: string }>;
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

/** Why `verifyHistory` stopped at a line. */
export type IntegrityFailure =
  /** The record's content no longer matches its hash (or the previous record was rewritten and rehashed). */
  | 'edited'
  /** One or more records are missing: the seq jumps and the missing seq does not appear later. */
  | 'deleted'
  /** A record that does not belong: the next record chains to the one before it, or its seq goes backwards. */
  | 'inserted'
  /** Records are out of order: the expected seq appears later in the file. */
  | 'reordered'
  /** The last line is incomplete (an interrupted append that no append has cleaned up yet). */
  | 'torn'
  /** A line before the last is not JSON. */
  | 'invalid JSON'
  /** A line is JSON but not a history record (wrong type or missing fields, or a member given twice in a record from before the chain). */
  | 'invalid record'
  /** A chained record's line is not exactly its canonical JSON (RFC 8785): spaced, reordered, a number or escape written another way, a member given twice. */
  | 'not canonical';

export interface VerifyResult {
  /** true when no corruption was found; see `unverifiable` for records that predate the chain. */
  ok: boolean;
  /** Records verified: all of them when ok, else those before `firstBad.line`. */
  records: number;
  /** Hash of the last verified hashed record; null when there is none. */
  head: string | null;
  /** true when the history starts with records written before hashing existed (they cannot be verified). */
  unverifiable?: boolean;
  /** How many such records lead the file. */
  legacy_records?: number;
  firstBad?: { line: number; reason: IntegrityFailure; detail: string };
}
