import { printable } from './util/printable.js';

/**
 * Exit codes and the typed errors that map to them. This is the one place where an error becomes
 * a process exit code; the README's table mirrors EXIT.
 */
export const EXIT = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  POLICY_DENIED: 3,
  POLICY_UNAVAILABLE: 4,
  LOCKED: 5,
  HISTORY_INTEGRITY: 6,
  HISTORY_UNWRITABLE: 7,
  ROLLOUT_PAUSED: 8,
  NOT_APPROVED: 9,
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export abstract class SwiftdeployError extends Error {
  abstract readonly exitCode: ExitCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An operation or check failed (compose error, health timeout, drift, failed validate check). */
export class OperationFailed extends SwiftdeployError {
  readonly exitCode = EXIT.FAILED;
}

/** A runtime dependency (docker, compose, engine) is missing or failed. */
export class RuntimeError extends SwiftdeployError {
  readonly exitCode = EXIT.FAILED;
}

/** Bad flags or arguments. */
export class UsageError extends SwiftdeployError {
  readonly exitCode = EXIT.USAGE;
}

export interface ManifestProblem {
  /** Dotted key path, e.g. `services.port`; empty for document-level problems. */
  path: string;
  message: string;
  /** 1-based line/column in the manifest file, when known. */
  line?: number;
  col?: number;
}

/** At most this many problems are listed (and carried in --json); the rest are counted. */
export const MAX_LISTED_PROBLEMS = 20;

/**
 * The manifest could not be read, parsed or validated. Carries every problem found, not just the
 * first, up to MAX_LISTED_PROBLEMS; the message says how many more there are. Paths and messages are
 * made printable and bounded here, whatever the caller quoted: a problem is at most a line.
 */
export class ManifestError extends SwiftdeployError {
  readonly exitCode = EXIT.USAGE;
  readonly problems: ManifestProblem[];
  /** Problems found but not listed. */
  readonly omitted: number;
  constructor(
    readonly file: string,
    problems: ManifestProblem[],
  ) {
    const listed = problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => ({
      ...p,
      path: printable(p.path, 120),
      message: printable(p.message, 400),
    }));
    const omitted = problems.length - listed.length;
    const shownFile = printable(file, 400);
    super(
      `${shownFile}: ${problems.length} problem${problems.length === 1 ? '' : 's'}` +
        `${omitted > 0 ? ` (the first ${listed.length} are listed)` : ''}\n` +
        listed
          .map((p) => {
            const where = p.line !== undefined ? `${shownFile}:${p.line}${p.col !== undefined ? `:${p.col}` : ''}: ` : '';
            return `  ${where}${p.path ? `${p.path}: ` : ''}${p.message}`;
          })
          .join('\n') +
        (omitted > 0 ? `\n  … and ${omitted} more problem${omitted === 1 ? '' : 's'}` : ''),
    );
    this.problems = listed;
    this.omitted = omitted;
  }
}

/** OPA answered and said no. */
export class PolicyDenied extends SwiftdeployError {
  readonly exitCode = EXIT.POLICY_DENIED;
}

/** OPA could not give a usable answer. Fail closed: this is never treated as an allow. */
export class PolicyUnavailable extends SwiftdeployError {
  readonly exitCode = EXIT.POLICY_UNAVAILABLE;
}

/** Another swiftdeploy operation holds the project lock. */
export class LockHeld extends SwiftdeployError {
  readonly exitCode = EXIT.LOCKED;
}

/** history.jsonl is corrupt or its hash chain is broken. */
export class HistoryIntegrityError extends SwiftdeployError {
  readonly exitCode = EXIT.HISTORY_INTEGRITY;
}

/**
 * history.jsonl cannot be appended to (read-only filesystem, disk full, no permission, I/O error).
 * A mutating command records what it will change before changing it, so this stops it before any
 * change (rollback excepted: it proceeds and records later). Not exit 6: the ledger is intact, the
 * fix is on the host (space, mount, permissions), not in the chain.
 */
export class HistoryUnwritable extends SwiftdeployError {
  readonly exitCode = EXIT.HISTORY_UNWRITABLE;
}

/** SIGINT/SIGTERM ended the operation. */
export class Interrupted extends SwiftdeployError {
  readonly exitCode = EXIT.INTERRUPTED;
}

/** A progressive rollout stopped for a human at its current weight (`resume` or `abort`). */
export class RolloutPaused extends SwiftdeployError {
  readonly exitCode = EXIT.ROLLOUT_PAUSED;
}

/** The step analysis aborted a progressive rollout (canary removed, stable untouched): exit 3, as a policy deny. */
export class RolloutAborted extends SwiftdeployError {
  readonly exitCode = EXIT.POLICY_DENIED;
}

/** A requested approval ended without one: denied, expired, or voided (the manifest or the stack changed). */
export class NotApproved extends SwiftdeployError {
  readonly exitCode = EXIT.NOT_APPROVED;
}

export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof SwiftdeployError ? err.exitCode : EXIT.FAILED;
}
