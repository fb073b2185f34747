import path from 'node:path';
import { HistoryUnwritable, UsageError } from '../errors.js';
import { Reporter, type EventSink } from '../events.js';
import { createRecorder } from '../history/ledger.js';
import { Spool, spoolDirs } from '../history/spool.js';
import type { EventPayload, GitInfo, HistoryRecord, LifecycleAction, LifecycleStage, RecordInput, Recorder } from '../history/types.js';
import { loadManifest, type LoadedManifest } from '../manifest/load.js';
import type { OpaClient } from '../policy/client.js';
import type { PolicyDomain } from '../policy/types.js';
import { policyVersion, readPolicyFiles } from '../policy/version.js';
import { policiesPathFor } from '../render/render.js';
import { resolveProjectFiles, type ProjectFiles } from '../util/project-paths.js';
import { noNotifications, type Notice, type NotifyPort } from '../notify/types.js';
import { gitInfo } from './git.js';
import type { Plan } from '../approvals/types.js';

/** What every lifecycle operation is told about the person and terminal driving it. */
export interface Operator {
  actor: string;
  /** Where the operation's events go; src/cli draws them. */
  events: EventSink;
  /** --yes was given. */
  yes: boolean;
  /** Ask a yes/no question on the terminal; undefined when there is no TTY to ask on. */
  confirm?: (question: string) => Promise<boolean>;
  /** Run with this approval (`--approval`, or after `--request`): `authorise` verifies it against the plan. */
  approval?: { id: string; plan: Plan };
}

/**
 * One lifecycle operation's view of the project: the manifest as loaded when it started, where
 * history goes, the commit it runs on, and the policy version per domain. Every record an operation
 * writes goes through `event`, so each carries actor, manifest sha256, policy version and commit.
 */
export class Session {
  readonly recorder: Recorder;
  readonly historyFile: string;
  readonly stateDir: string;
  readonly policiesDir: string;
  /**
   * When set (rollback, and promote's automatic rollback), a record the ledger refuses is kept in a
   * spool file and appended by the next mutating command, and the operation goes on: see `event`.
   */
  recordLater = false;
  /** How many records this session could not append and spooled instead. */
  unrecorded = 0;
  /** How many outcomes could not be appended after their change (their intents stay open for reconciliation). */
  outcomesUnrecorded = 0;
  /** What the operation says, as events to the operator's sink. */
  readonly out: Reporter;
  private spool: Spool | null = null;
  /** Where notices go: the project's webhooks (src/notify), or nowhere without `notifications:`. */
  notifier: NotifyPort = noNotifications;
  /** Set by `authorise` when an approval authorised this operation: its `authorised` record carries it. */
  private grant: { approval_id: string; authorised_by: string[] } | undefined;

  private constructor(
    private current: LoadedManifest,
    readonly operator: Operator,
    readonly action: LifecycleAction,
    readonly git: GitInfo | undefined,
    private readonly versions: Record<PolicyDomain | 'all', string>,
    /** The project's own files, resolved and checked when the session opened. */
    readonly files: ProjectFiles,
  ) {
    const { projectDir } = current;
    this.historyFile = files.history;
    this.out = new Reporter(operator.events);
    this.recorder = createRecorder(this.historyFile, { warn: (line) => this.out.warn(line) });
    this.stateDir = files.stateDir;
    this.policiesDir = policiesPathFor(projectDir);
  }

  static async open(manifestPath: string, operator: Operator, action: LifecycleAction): Promise<Session> {
    // git runs as child processes: start them first so they overlap with parsing the manifest.
    const git = gitInfo(path.dirname(path.resolve(manifestPath)));
    const loaded = await loadManifest(manifestPath);
    // Before anything is locked, written or recorded: a project whose own paths are unsafe is refused.
    const files = await resolveProjectFiles(loaded.projectDir, loaded.file, loaded.manifest.observability);
    const versions = await policyVersions(loaded);
    const session = new Session(loaded, operator, action, await git, versions, files);
    const webhooks = loaded.manifest.notifications;
    if (webhooks !== undefined && webhooks.length > 0) {
      // Imported only here: commands of a project without webhooks load nothing of src/notify.
      const { WebhookNotifier } = await import('../notify/notifier.js');
      session.notifier = new WebhookNotifier(webhooks, {
        project: loaded.manifest.project.name,
        commit: session.git?.sha ?? null,
        historyFile: files.history,
        record: (stage, delivery) => session.event(stage, { action: 'notify', notify: delivery }),
        warn: (line) => session.out.warn(line),
      });
    }
    return session;
  }

  /** The manifest as this operation last read it (re-read after the operation changed it). */
  get loaded(): LoadedManifest {
    return this.current;
  }

  get manifest() {
    return this.current.manifest;
  }

  policyVersion(domain: PolicyDomain | 'all' = 'all'): string {
    return this.versions[domain];
  }

  /** Re-read the manifest (after this operation changed it) so later records carry the new sha256. */
  async reload(): Promise<void> {
    this.current = await loadManifest(this.current.file);
  }

  /**
   * Append one lifecycle event to history (a payload's own `action` wins over the session's). Resolves
   * to the record as written, or to null when the ledger refused it and `recordLater` spooled it.
   * Without `recordLater` a refusal throws: HistoryUnwritable (exit 7), HistoryIntegrityError (exit 6)
   * or LockHeld (exit 5).
   */
  async event(stage: LifecycleStage, payload: Omit<EventPayload, 'action' | 'stage'> & { action?: LifecycleAction } = {}, actor = this.operator.actor): Promise<HistoryRecord | null> {
    const own = (payload.action ?? this.action) === this.action;
    const input: RecordInput = {
      kind: 'event',
      actor,
      policy_version: this.versions.all,
      manifest_sha256: this.loaded.sha256,
      payload: { action: this.action, stage, ...(this.git ? { git: this.git } : {}), ...payload, ...(stage === 'authorised' && own && this.grant ? this.grant : {}) },
    };
    try {
      return await this.recorder.append(input);
    } catch (err) {
      if (!this.recordLater || err instanceof TypeError || err instanceof RangeError) throw err;
      this.spoolRecord(input, err as Error);
      return null;
    }
  }

  /** Tell the project's webhooks (never waits, never throws; `settleNotifications` waits, bounded). */
  notify(notice: Notice): void {
    this.notifier.send(notice);
  }

  /** Waits for this session's deliveries, each bounded by its webhook's budget. */
  async settleNotifications(): Promise<void> {
    await this.notifier.settle();
  }

  /** Keeps a record the ledger refused, and says so loudly: an unrecorded change must never be quiet. */
  private spoolRecord(input: RecordInput, why: Error): void {
    this.unrecorded++;
    const { out } = this;
    const what = `${String((input.payload as EventPayload).action)} ${String((input.payload as EventPayload).stage)}`;
    this.spool ??= new Spool(spoolDirs(this.stateDir));
    try {
      const file = this.spool.write(input);
      out.error(`NOT RECORDED in ${this.historyFile}: ${what} (${why.message}); kept in ${file}, appended by the next swiftdeploy command that changes anything`, 'bad');
    } catch (spoolErr) {
      out.error(`NOT RECORDED in ${this.historyFile}: ${what} (${why.message}); no spool file could be written either (${(spoolErr as Error).message}). The record:`, 'bad');
      out.error(JSON.stringify(input));
    }
  }

  /** true when this session made a change some record of which is not in the ledger yet. */
  get hasUnrecorded(): boolean {
    return this.unrecorded > 0 || this.outcomesUnrecorded > 0;
  }

  /** The error (exit 7) a command ends with when it made its change but not all of it is in the ledger. */
  unrecordedError(): HistoryUnwritable {
    const parts: string[] = [];
    if (this.unrecorded > 0) parts.push(`${this.unrecorded} record${this.unrecorded === 1 ? '' : 's'} could not be appended (kept in a spool file, appended by the next command that changes anything)`);
    if (this.outcomesUnrecorded > 0) parts.push(`${this.outcomesUnrecorded} outcome${this.outcomesUnrecorded === 1 ? '' : 's'} could not be recorded (the next command that changes anything reconciles ${this.outcomesUnrecorded === 1 ? 'it' : 'them'} from the files)`);
    return new HistoryUnwritable(`${this.action} completed, but in ${this.historyFile} ${parts.join('; and ')}: see above`);
  }

  /**
   * The policy engine: the sidecar on loopback, or the central OPA named by opa.url. Imported on
   * first use so commands that never ask (init, chaos) do not load the HTTP client.
   */
  async policyClient(): Promise<OpaClient> {
    const { OpaClient } = await import('../policy/client.js');
    const { opa } = this.manifest;
    return new OpaClient({ url: opa.url ?? `http://127.0.0.1:${opa.port}`, timeoutMs: opa.timeout_ms });
  }

  /** The stack's front door, as seen from this host. */
  nginxUrl(pathname = '/'): string {
    return `http://127.0.0.1:${this.manifest.nginx.port}${pathname}`;
  }

  /** Each track's own /metrics through nginx's per-track locations during a rollout (nginx.conf.hbs). */
  trackMetricsUrls(): { stable: string; canary: string } {
    return { stable: this.nginxUrl('/__swiftdeploy/tracks/stable/metrics'), canary: this.nginxUrl('/__swiftdeploy/tracks/canary/metrics') };
  }

  composeFile(): string {
    return this.files.compose;
  }

  /** Asks for authorisation: --yes, or a yes on a TTY. Returns how it was given, or undefined if refused. */
  async authorise(question: string): Promise<'--yes' | 'interactive confirmation' | `approval ${string}` | undefined> {
    const { approval } = this.operator;
    if (approval) {
      // Verified here, under the project lock: approved, not used, not expired, the plan unchanged.
      const { verifyApproval } = await import('../approvals/request.js');
      this.grant = await verifyApproval(this, approval.id, approval.plan);
      return `approval ${approval.id} (approved by ${this.grant.authorised_by.join(', ')})`;
    }
    if (this.operator.yes) return '--yes';
    if (!this.operator.confirm) return undefined;
    return (await this.operator.confirm(question)) ? 'interactive confirmation' : undefined;
  }
}

/**
 * Promote, rollback and teardown need an authorisation: refuse at once (exit 2) when it can be
 * neither given by --yes nor asked for on a terminal, before anything is sampled, locked or written.
 */
export function assertCanAuthorise(operator: Operator, command: string): void {
  if (!operator.yes && !operator.confirm && !operator.approval) {
    throw new UsageError(`${command}: not on a terminal, so it cannot ask; pass --yes to authorise`);
  }
}

/** policy_version per domain (the domain's own thresholds) and for the whole manifest's policy block. */
async function policyVersions(loaded: LoadedManifest): Promise<Record<PolicyDomain | 'all', string>> {
  const files = await readPolicyFiles(policiesPathFor(loaded.projectDir));
  const { infrastructure, canary } = loaded.manifest.policy;
  const strip = <T extends { mode: unknown }>({ mode: _mode, ...rest }: T) => rest;
  return {
    infrastructure: policyVersion(files, strip(infrastructure)),
    canary: policyVersion(files, strip(canary)),
    all: policyVersion(files, { infrastructure: strip(infrastructure), canary: strip(canary) }),
  };
}

