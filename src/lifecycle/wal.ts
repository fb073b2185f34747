/**
 * The write-ahead discipline every mutating command follows: record the intent (durably: the ledger
 * fsyncs before an append returns), then change, then record the outcome. A process that dies in
 * between leaves an intent without an outcome; `reconcile`, run by every mutating command right after
 * it takes the project lock, finds it and records what the files show.
 *
 * Shapes live in src/history/intent.ts; this module does the I/O.
 */
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { HistoryIntegrityError, HistoryUnwritable } from '../errors.js';
import {
  RECONCILER_ACTOR,
  fileState,
  intentPayload,
  isIntentPayload,
  isOutcomePayload,
  outcomeFromFiles,
  outcomePayload,
  sha256Of,
  type FileChange,
  type FileOutcome,
  type IntentPayload,
  type IntentWriter,
  type OutcomeStage,
} from '../history/intent.js';
import { appendRecord } from '../history/ledger.js';
import { pendingSpools, readSpool, removeSpool, spoolDirs } from '../history/spool.js';
import { scanBackwards } from '../history/tail.js';
import type { EventPayload, HistoryRecord } from '../history/types.js';
import { bootId, processStartTime, whyNotAlive } from '../lock/liveness.js';
import { writeFileAtomic } from '../render/atomic-write.js';
import { removeStaleTemps } from '../util/stale-temps.js';
import type { Session } from './session.js';

/** One file a command is about to write (content) or delete (null). */
export interface PlannedFile {
  abs: string;
  content: string | Buffer | null;
}

/** An intent as recorded: seq is null when it could only be spooled (rollback with an unwritable ledger). */
export interface RecordedIntent {
  seq: number | null;
  payload: IntentPayload;
}

/** The marker every intent and outcome line carries (canonical JSON: no space after the colon). */
const WAL_MARKER = '"intent_id":"';

export function thisWriter(): IntentWriter {
  const writer: IntentWriter = { pid: process.pid, host: hostname() };
  const boot = bootId();
  if (boot !== undefined) writer.boot_id = boot;
  const start = processStartTime(process.pid);
  if (start !== undefined) writer.pid_start = start;
  return writer;
}

/** sha256 of a file's bytes, null when it does not exist. */
export async function fileSha(abs: string): Promise<string | null> {
  try {
    return sha256Of(await readFile(abs));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

function relative(session: Session, abs: string): string {
  return path.relative(session.loaded.projectDir, abs);
}

/** The files' states now against what the intent said. */
export async function fileOutcomes(projectDir: string, files: readonly FileChange[]): Promise<FileOutcome[]> {
  return Promise.all(
    files.map(async (change) => {
      const sha = await fileSha(path.resolve(projectDir, change.path));
      return { path: change.path, state: fileState(change, sha), sha256: sha };
    }),
  );
}

/** A refusal before any change, said as such: the command has not started changing anything. */
function stoppedBeforeChange(session: Session, err: unknown): unknown {
  const stopped = `${session.action} stopped before changing anything: swiftdeploy records what it will change before changing it`;
  if (err instanceof HistoryUnwritable) {
    return new HistoryUnwritable(`${err.message}\n${stopped}. Make the ledger writable (free space, remount read-write, fix permissions) and run it again.`, { cause: err });
  }
  if (err instanceof HistoryIntegrityError) return new HistoryIntegrityError(`${err.message}\n${stopped}.`, { cause: err });
  return err;
}

/**
 * Records what is about to change. Throws when the ledger refuses (unless the session records later,
 * i.e. rollback), adding that nothing was changed: the caller has not started.
 */
export async function recordIntent(
  session: Session,
  what: { files: FileChange[]; effect?: string; detail: string; command?: string; extra?: Omit<EventPayload, 'action' | 'stage'> },
): Promise<RecordedIntent> {
  const payload = intentPayload({
    action: session.action,
    command: what.command ?? session.action,
    files: what.files,
    ...(what.effect !== undefined ? { effect: what.effect } : {}),
    detail: what.detail,
    writer: thisWriter(),
    intentId: randomBytes(8).toString('hex'),
    ...(what.extra !== undefined ? { extra: what.extra } : {}),
  });
  let record: HistoryRecord | null;
  try {
    record = await session.event('intent', payload);
  } catch (err) {
    throw stoppedBeforeChange(session, err);
  }
  return { seq: record?.seq ?? null, payload };
}

/**
 * Records an intent's outcome. Never throws: the change has happened (or not) whatever the ledger
 * says now, and an outcome that cannot be appended leaves the intent open for the next command to
 * reconcile, which is said loudly.
 */
export async function recordOutcome(
  session: Session,
  intent: RecordedIntent,
  stage: OutcomeStage,
  detail: string,
  files?: FileOutcome[],
): Promise<void> {
  try {
    await session.event(stage, outcomePayload({ intent: intent.payload, intentSeq: intent.seq, stage, detail, ...(files !== undefined ? { files } : {}) }));
  } catch (err) {
    session.outcomesUnrecorded++;
    const { out } = session;
    out.error(
      `could not record the outcome (${stage}) of intent #${intent.seq ?? '?'} in ${session.historyFile}: ${(err as Error).message}; ` +
        'the next swiftdeploy command that changes anything will reconcile it from the files',
      'bad',
    );
  }
}

/**
 * Write (or delete) files under the write-ahead discipline: intent with every file's sha256 before
 * and after, the writes (each atomic), the outcome as the files show it. Files already as planned
 * are left alone; when none would change, nothing is recorded and undefined is returned.
 */
export async function changeFiles(
  session: Session,
  planned: PlannedFile[],
  what: { detail: string; command?: string; extra?: Omit<EventPayload, 'action' | 'stage'> },
): Promise<{ intent: RecordedIntent; written: string[] } | undefined> {
  const changes: Array<{ plan: PlannedFile; change: FileChange }> = [];
  for (const plan of planned) {
    const before = await fileSha(plan.abs);
    const after = plan.content === null ? null : sha256Of(plan.content);
    if (before !== after) changes.push({ plan, change: { path: relative(session, plan.abs), before, after } });
  }
  if (changes.length === 0) return undefined;
  const files = changes.map((c) => c.change);
  const intent = await recordIntent(session, { files, ...what });
  try {
    for (const { plan } of changes) {
      if (plan.content === null) {
        await rm(plan.abs, { force: true });
      } else {
        await mkdir(path.dirname(plan.abs), { recursive: true });
        await writeFileAtomic(plan.abs, plan.content);
      }
    }
  } catch (err) {
    const states = await fileOutcomes(session.loaded.projectDir, files);
    await recordOutcome(session, intent, outcomeFromFiles(states), `failed: ${(err as Error).message}`, states);
    throw err;
  }
  const states = await fileOutcomes(session.loaded.projectDir, files);
  await recordOutcome(session, intent, outcomeFromFiles(states), what.detail, states);
  return { intent, written: files.map((f) => f.path) };
}

/**
 * A change outside the project's files (containers, the app's chaos state) under the same
 * discipline. `failed` says what an error means for the effect: by default `unknown` (a compose
 * command that failed may have done part of its work).
 */
export async function performEffect<T>(
  session: Session,
  effect: string,
  fn: () => Promise<T>,
  opts: { detail?: string; command?: string; failed?: (err: unknown) => OutcomeStage; extra?: Omit<EventPayload, 'action' | 'stage'> } = {},
): Promise<T> {
  const intent = await recordIntent(session, {
    files: [],
    effect,
    detail: opts.detail ?? effect,
    ...(opts.command !== undefined ? { command: opts.command } : {}),
    ...(opts.extra !== undefined ? { extra: opts.extra } : {}),
  });
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    await recordOutcome(session, intent, opts.failed?.(err) ?? 'unknown', `${effect} failed: ${(err as Error).message}`);
    throw err;
  }
  await recordOutcome(session, intent, 'completed', effect);
  return result;
}

/** An intent found without an outcome. */
export interface OpenIntent {
  seq: number;
  ts: string;
  actor: string;
  payload: IntentPayload;
}

/**
 * Intents without an outcome, oldest first, read backwards from the end. Every command reconciles
 * before recording an intent of its own, so everything before the newest intent that has an outcome
 * is settled: the scan stops there and costs only the region after it.
 */
export async function findOpenIntents(historyFile: string): Promise<OpenIntent[]> {
  let size: number;
  try {
    size = (await stat(historyFile)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const closed = new Set<string>();
  const open: OpenIntent[] = [];
  await scanBackwards(historyFile, size, WAL_MARKER, (record) => {
    const p = record.payload as unknown;
    if (isOutcomePayload(p)) {
      closed.add(p.intent_id);
      return true;
    }
    if (isIntentPayload(p)) {
      if (closed.has(p.intent_id)) return false;
      open.push({ seq: record.seq, ts: record.ts, actor: record.actor, payload: p });
    }
    return true;
  });
  return open.reverse();
}

/** Why an intent's writer may still be working on it, or undefined when it is certainly gone. */
function writerStillRunning(writer: IntentWriter): string | undefined {
  if (writer.pid === process.pid && writer.host === hostname()) return undefined;
  if (writer.host !== hostname()) return `it was recorded on ${writer.host}, whose processes cannot be checked from here`;
  const dead = whyNotAlive({
    pid: writer.pid,
    ...(writer.pid_start !== undefined ? { pidStartTime: writer.pid_start } : {}),
    ...(writer.boot_id !== undefined ? { bootId: writer.boot_id } : {}),
  });
  return dead === undefined ? `pid ${writer.pid} that recorded it is still running` : undefined;
}

export interface ReconcileResult {
  /** Records appended from spool files. */
  flushed: number;
  reconciled: Array<{ seq: number; stage: OutcomeStage }>;
  /** Open intents left alone because their writer may still be running. */
  skipped: number[];
}

/**
 * Settles what earlier commands left: first the records rollback could only spool, then every
 * intent without an outcome (its writer dead): the outcome the files show, recorded as actor
 * `swiftdeploy` and pointing at the intent's seq. An intent of an effect alone is recorded `unknown`
 * (files cannot show whether containers changed). Called by every mutating command right after it
 * takes the project lock, before its own first record. Throws as appends throw (exit 7, 6, 5): a
 * command must not record a new intent while it cannot settle the old ones; rollback, which records
 * later, goes on with a warning.
 */
export async function reconcile(session: Session): Promise<ReconcileResult> {
  const { out } = session;
  const result: ReconcileResult = { flushed: 0, reconciled: [], skipped: [] };
  try {
    result.flushed = await flushSpools(session);
    for (const open of await findOpenIntents(session.historyFile)) {
      const running = writerStillRunning(open.payload.writer);
      if (running !== undefined) {
        out.warn(`intent #${open.seq} (${open.payload.command}) has no outcome yet, left open: ${running}`);
        result.skipped.push(open.seq);
        continue;
      }
      const files = await fileOutcomes(session.loaded.projectDir, open.payload.files);
      const stage = outcomeFromFiles(files);
      // The dead writer's temp files beside the files it was writing (killed between write and rename).
      for (const change of open.payload.files) await removeStaleTemps(path.resolve(session.loaded.projectDir, change.path));
      const what =
        open.payload.files.length > 0
          ? files.map((f) => `${f.path} ${f.state === 'other' ? 'in neither state' : f.state.replace('_', ' ')}`).join(', ')
          : `${open.payload.effect ?? 'the effect'}: files cannot show whether it took place`;
      await appendRecord(
        session.historyFile,
        {
          kind: 'event',
          actor: RECONCILER_ACTOR,
          policy_version: session.policyVersion(),
          manifest_sha256: session.loaded.sha256,
          payload: outcomePayload({
            intent: open.payload,
            intentSeq: open.seq,
            stage,
            detail: `reconciled by ${session.action} (${session.operator.actor}): ${open.payload.command} by ${open.actor} at ${open.ts} ended without an outcome; ${what}`,
            reconciled: true,
            ...(open.payload.files.length > 0 ? { files } : {}),
          }),
        },
        { warn: (line) => out.warn(line) },
      );
      out.warn(`reconciled intent #${open.seq} (${open.payload.command} by ${open.actor} at ${open.ts}, which ended without recording its outcome): ${stage}`);
      result.reconciled.push({ seq: open.seq, stage });
    }
  } catch (err) {
    if (!session.recordLater) throw stoppedBeforeChange(session, err);
    out.error(`could not settle earlier records in ${session.historyFile}: ${(err as Error).message}; ${session.action} goes on`, 'bad');
  }
  return result;
}

/**
 * Appends spooled records in their order, marked `recorded_late` with when they happened, and
 * removes each spool file once all of it is in the ledger. An outcome spooled with its intent gets
 * the intent's seq as appended. A record whose spool_id is already in the ledger (a flush that was
 * interrupted) is not appended again.
 */
async function flushSpools(session: Session): Promise<number> {
  const files = await pendingSpools(spoolDirs(session.stateDir));
  if (files.length === 0) return 0;
  const already = await spooledIdsInLedger(session.historyFile);
  const seqOf = new Map<string, number>();
  let appended = 0;
  for (const file of files) {
    for (const line of await readSpool(file)) {
      const payload = { ...(line.input.payload as EventPayload) };
      const spoolId = typeof payload.spool_id === 'string' ? payload.spool_id : null;
      if (spoolId !== null && already.has(spoolId)) {
        const seq = already.get(spoolId);
        if (isIntentPayload(payload) && seq !== undefined) seqOf.set(payload.intent_id, seq);
        continue;
      }
      if (isOutcomePayload(payload) && payload.intent_seq === null) payload.intent_seq = seqOf.get(payload.intent_id) ?? null;
      payload.recorded_late = true;
      payload.happened_at = line.spooled_at;
      const record = await appendRecord(session.historyFile, { ...line.input, payload }, { warn: (l) => session.out.warn(l) });
      if (isIntentPayload(payload)) seqOf.set(payload.intent_id, record.seq);
      appended++;
    }
    await removeSpool(file);
  }
  if (appended > 0) session.out.warn(`appended ${appended} record${appended === 1 ? '' : 's'} that an earlier rollback could not write to ${session.historyFile}`);
  return appended;
}

async function spooledIdsInLedger(historyFile: string): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  let size: number;
  try {
    size = (await stat(historyFile)).size;
  } catch {
    return ids;
  }
  await scanBackwards(historyFile, size, '"spool_id":"', (record) => {
    const id = (record.payload as EventPayload).spool_id;
    if (typeof id === 'string') ids.set(id, record.seq);
    return true;
  });
  return ids;
}
