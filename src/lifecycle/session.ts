import path from 'node:path';
import type { Output } from '../cli/output.js';
import { UsageError } from '../errors.js';
import { createRecorder } from '../history/ledger.js';
import type { EventPayload, GitInfo, HistoryRecord, LifecycleAction, LifecycleStage, Recorder } from '../history/types.js';
import { loadManifest, type LoadedManifest } from '../manifest/load.js';
import type { OpaClient } from '../policy/client.js';
import type { PolicyDomain } from '../policy/types.js';
import { policyVersion, readPolicyFiles } from '../policy/version.js';
import { policiesDirFor } from '../render/render.js';
import { resolveProjectFiles, type ProjectFiles } from '../util/project-paths.js';
import { gitInfo } from './git.js';

/** What every lifecycle operation is told about the person and terminal driving it. */
export interface Operator {
  actor: string;
  out: Output;
  /** --yes was given. */
  yes: boolean;
  /** Ask a yes/no question on the terminal; undefined when there is no TTY to ask on. */
  confirm?: (question: string) => Promise<boolean>;
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
    this.recorder = createRecorder(this.historyFile, { warn: (line) => operator.out.warn(line) });
    this.stateDir = files.stateDir;
    const dir = policiesDirFor(projectDir);
    this.policiesDir = path.isAbsolute(dir) ? dir : path.join(projectDir, dir);
  }

  static async open(manifestPath: string, operator: Operator, action: LifecycleAction): Promise<Session> {
    // git runs as child processes: start them first so they overlap with parsing the manifest.
    const git = gitInfo(path.dirname(path.resolve(manifestPath)));
    const loaded = await loadManifest(manifestPath);
    // Before anything is locked, written or recorded: a project whose own paths are unsafe is refused.
    const files = await resolveProjectFiles(loaded.projectDir, loaded.file, loaded.manifest.observability);
    const versions = await policyVersions(loaded);
    return new Session(loaded, operator, action, await git, versions, files);
  }

  /** The manifest as this operation last read it (re-read after the operation changed it). */
  get loaded(): LoadedManifest {
    return this.current;
  }

  get manifest() {
    return this.current.manifest;
  }

  get out(): Output {
    return this.operator.out;
  }

  policyVersion(domain: PolicyDomain | 'all' = 'all'): string {
    return this.versions[domain];
  }

  /** Re-read the manifest (after this operation changed it) so later records carry the new sha256. */
  async reload(): Promise<void> {
    this.current = await loadManifest(this.current.file);
  }

  /** Append one lifecycle event to history. */
  event(stage: LifecycleStage, payload: Omit<EventPayload, 'action' | 'stage'> = {}, actor = this.operator.actor): Promise<HistoryRecord> {
    return this.recorder.append({
      kind: 'event',
      actor,
      policy_version: this.versions.all,
      manifest_sha256: this.loaded.sha256,
      payload: { action: this.action, stage, ...(this.git ? { git: this.git } : {}), ...payload },
    });
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

  composeFile(): string {
    return this.files.compose;
  }

  /** Asks for authorisation: --yes, or a yes on a TTY. Returns how it was given, or undefined if refused. */
  async authorise(question: string): Promise<'--yes' | 'interactive confirmation' | undefined> {
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
  if (!operator.yes && !operator.confirm) {
    throw new UsageError(`${command}: not on a terminal, so it cannot ask; pass --yes to authorise`);
  }
}

/** policy_version per domain (the domain's own thresholds) and for the whole manifest's policy block. */
async function policyVersions(loaded: LoadedManifest): Promise<Record<PolicyDomain | 'all', string>> {
  const dir = policiesDirFor(loaded.projectDir);
  const files = await readPolicyFiles(path.isAbsolute(dir) ? dir : path.join(loaded.projectDir, dir));
  const { infrastructure, canary } = loaded.manifest.policy;
  const strip = <T extends { mode: unknown }>({ mode: _mode, ...rest }: T) => rest;
  return {
    infrastructure: policyVersion(files, strip(infrastructure)),
    canary: policyVersion(files, strip(canary)),
    all: policyVersion(files, { infrastructure: strip(infrastructure), canary: strip(canary) }),
  };
}

