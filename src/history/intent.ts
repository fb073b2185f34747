/**
 * Write-ahead records: the one place that says what an intent and its outcome look like in
 * history.jsonl. Every mutating command records an intent (what will change: each file's sha256
 * before and after, or the runtime effect), durably, BEFORE it changes anything; then changes; then
 * records the outcome, pointing at the intent's seq. A process that dies in between leaves an intent
 * without an outcome, and the next mutating command reconciles it (src/lifecycle/wal.ts): it compares
 * the files with the intent's hashes and records the outcome as actor `swiftdeploy`.
 *
 * Both are ordinary `event` records (the chain, verify and every reader treat them like any other);
 * `payload.stage` is `intent` or one of OUTCOME_STAGES. Pure data and pure functions only.
 */
import { createHash } from 'node:crypto';
import type { EventPayload, LifecycleAction } from './types.js';

export const INTENT_STAGE = 'intent';

/**
 * completed: every file is in its intended state (an effect: it took place).
 * not_applied: every file is as it was before (an effect: it did not take place).
 * partial: some files changed and some did not (the process died between two renames), or a file
 * is in neither state (changed by someone else since).
 * unknown: an effect outside the project's files (containers, the app's chaos state) whose process
 * ended without saying; files cannot show whether it happened.
 */
export const OUTCOME_STAGES = ['completed', 'not_applied', 'partial', 'unknown'] as const;
export type OutcomeStage = (typeof OUTCOME_STAGES)[number];

/** The actor of an outcome recorded by reconciliation rather than by the command that intended it. */
export const RECONCILER_ACTOR = 'swiftdeploy';

/** One file an intent will change. Paths are relative to the project directory; hashes are sha256 hex of the bytes, null = no file. */
export interface FileChange {
  path: string;
  before: string | null;
  after: string | null;
}

/** The process that recorded an intent: reconciliation leaves the intent of a live process alone. */
export interface IntentWriter {
  pid: number;
  host: string;
  boot_id?: string;
  pid_start?: string;
}

export interface IntentPayload extends EventPayload {
  stage: typeof INTENT_STAGE;
  /** Random, unique: how an outcome recorded late (spooled by rollback) finds its intent. */
  intent_id: string;
  /** The command line's verb and flags, e.g. `init --force`, `promote canary`. */
  command: string;
  /** Files that will change (may be empty for an effect). */
  files: FileChange[];
  /** A change outside the project's files, e.g. `compose up`, `replace the app container`. */
  effect?: string;
  writer: IntentWriter;
}

export type FileState = 'applied' | 'not_applied' | 'other';

export interface FileOutcome {
  path: string;
  state: FileState;
  /** sha256 of the file as found, null when absent. */
  sha256: string | null;
}

export interface OutcomePayload extends EventPayload {
  stage: OutcomeStage;
  /** The intent's seq. null only inside a spool file, while the intent itself is spooled too; the flush fills it in. */
  intent_seq: number | null;
  intent_id: string;
  files?: FileOutcome[];
  /** Set when reconciliation (not the intending command) recorded this outcome. */
  reconciled?: true;
}

export function sha256Of(bytes: string | Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function isIntentPayload(p: unknown): p is IntentPayload {
  if (typeof p !== 'object' || p === null) return false;
  const o = p as Record<string, unknown>;
  return o.stage === INTENT_STAGE && typeof o.intent_id === 'string' && Array.isArray(o.files);
}

export function isOutcomeStage(stage: unknown): stage is OutcomeStage {
  return typeof stage === 'string' && (OUTCOME_STAGES as readonly string[]).includes(stage);
}

export function isOutcomePayload(p: unknown): p is OutcomePayload {
  if (typeof p !== 'object' || p === null) return false;
  const o = p as Record<string, unknown>;
  return isOutcomeStage(o.stage) && typeof o.intent_id === 'string';
}

/** Where one file stands against what its intent said: `current` is its sha256 now, null when absent. */
export function fileState(change: FileChange, current: string | null): FileState {
  if (current === change.after) return 'applied';
  if (current === change.before) return 'not_applied';
  return 'other';
}

/** The outcome the files show. An intent without files (an effect alone) cannot be judged from them: unknown. */
export function outcomeFromFiles(files: readonly FileOutcome[]): OutcomeStage {
  if (files.length === 0) return 'unknown';
  if (files.every((f) => f.state === 'applied')) return 'completed';
  if (files.every((f) => f.state === 'not_applied')) return 'not_applied';
  return 'partial';
}

/** The payload of an intent record. */
export function intentPayload(args: {
  action: LifecycleAction;
  command: string;
  files: FileChange[];
  effect?: string;
  detail: string;
  writer: IntentWriter;
  intentId: string;
  extra?: Omit<EventPayload, 'action' | 'stage'>;
}): IntentPayload {
  return {
    ...(args.extra ?? {}),
    action: args.action,
    stage: INTENT_STAGE,
    intent_id: args.intentId,
    command: args.command,
    files: args.files,
    ...(args.effect !== undefined ? { effect: args.effect } : {}),
    detail: args.detail,
    writer: args.writer,
  };
}

/** The payload of an outcome record for the intent recorded at `intentSeq`. */
export function outcomePayload(args: {
  intent: Pick<IntentPayload, 'action' | 'intent_id'>;
  intentSeq: number | null;
  stage: OutcomeStage;
  detail: string;
  files?: FileOutcome[];
  reconciled?: boolean;
  extra?: Omit<EventPayload, 'action' | 'stage'>;
}): OutcomePayload {
  return {
    ...(args.extra ?? {}),
    action: args.intent.action,
    stage: args.stage,
    intent_seq: args.intentSeq,
    intent_id: args.intent.intent_id,
    ...(args.files !== undefined ? { files: args.files } : {}),
    detail: args.detail,
    ...(args.reconciled ? { reconciled: true as const } : {}),
  };
}
