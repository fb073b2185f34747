/**
 * Asking instead of authorising: `requestApproval` records the request and notifies each approver
 * with their own link; `awaitApproval` watches the ledger until the request ends; `requestThenRun`
 * is the lifecycle commands' `--request` (and `--detach`).
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { EXIT, Interrupted, NotApproved, UsageError, type ExitCode } from '../errors.js';
import { withFileLock } from '../lock/file-lock.js';
import { Session, type Operator } from '../lifecycle/session.js';
import type { ApprovalsConfig } from '../manifest/schema.js';
import type { NoticeLink } from '../notify/types.js';
import { canonicalJson } from '../util/canonical-json.js';
import { pause } from '../util/poll-until.js';
import { approvalsLockIn } from './decide.js';
import { currentPlanHash } from './plan.js';
import { outcomeOf, readLedgerView } from './store.js';
import { approvalKey, mintToken } from './token.js';
import type { ApprovalEnded, ApprovalOutcome, ApprovalRequested, Executor, Plan } from './types.js';

/** Where approvers reach `serve`: approvals.serve.public_url, else its listen address. */
export function serveBase(config: ApprovalsConfig): string {
  const { serve } = config;
  if (serve.public_url) return serve.public_url.replace(/\/+$/, '');
  const host = serve.listen.includes(':') ? `[${serve.listen}]` : serve.listen;
  return `${serve.tls_cert ? 'https' : 'http'}://${host}:${serve.port}`;
}

function refOf(session: Session) {
  return { manifestFile: session.loaded.file, historyFile: session.historyFile, stateDir: session.stateDir };
}

export interface RequestOptions {
  executor: Executor;
  now?: () => Date;
}

/** Records `requested` and notifies; the links (secrets: one per approver) are returned, never recorded. */
export async function requestApproval(session: Session, plan: Plan, options: RequestOptions): Promise<{ request: ApprovalRequested; links: NoticeLink[] }> {
  const config = session.manifest.approvals;
  if (!config) throw new UsageError(`${plan.action} --request: this manifest has no \`approvals:\` section`);
  const key = approvalKey(config);
  const now = (options.now ?? (() => new Date()))();
  const id = `ap-${randomBytes(8).toString('hex')}`;
  const plan_hash = await currentPlanHash(refOf(session), plan);
  const expires_at = new Date(now.getTime() + config.expires_seconds * 1000).toISOString();
  const base = serveBase(config);
  const links: NoticeLink[] = [];
  const tokens = config.approvers.map((approver) => {
    const { token, token_id } = mintToken(key, { id, plan_hash, approver, expires_at });
    links.push({ label: `Review and decide (${approver})`, url: `${base}/a/${id}?t=${token}`, approver });
    return { approver, token_id };
  });
  const request: ApprovalRequested = {
    id,
    plan,
    plan_hash,
    requested_by: session.operator.actor,
    expires_at,
    required: config.required,
    approvers: [...config.approvers],
    executor: options.executor,
    tokens,
  };
  await session.event('requested', { action: 'approval', approval: request, detail: `approval requested: ${plan.summary}` });
  session.notify({
    event: 'approval_requested',
    summary: `${session.operator.actor} asks for approval: ${plan.summary} (${config.required} of ${config.approvers.length} approvers, expires ${expires_at})`,
    actor: session.operator.actor,
    links,
    approval: { id, action: plan.action, plan_hash, expires_at, required: config.required },
  });
  return { request, links };
}

export interface AwaitOptions {
  signal?: AbortSignal;
  pollMs?: number;
  now?: () => Date;
}

/** Polls the ledger until the request is approved, denied, expired or voided (expiry and a changed plan are recorded here). */
export async function awaitApproval(session: Session, id: string, options: AwaitOptions = {}): Promise<ApprovalOutcome> {
  const now = options.now ?? (() => new Date());
  for (;;) {
    if (options.signal?.aborted) throw new Interrupted(`stopped waiting for approval ${id}`);
    const view = await readLedgerView(session.historyFile);
    const state = view.approvals.get(id);
    if (!state) throw new UsageError(`no approval request ${id} in ${session.historyFile}`);
    const outcome = outcomeOf(state, now());
    if (outcome) {
      if (outcome.outcome === 'expired' && !state.ended) await endOnce(session, id, 'expired', outcome.reason ?? 'expired');
      return outcome;
    }
    if ((await currentPlanHash(refOf(session), state.request.plan, view)) !== state.request.plan_hash) {
      const reason = 'the manifest or the stack changed since the plan was made';
      await endOnce(session, id, 'voided', reason);
      return { id, outcome: 'voided', by: [], reason };
    }
    await pause(options.pollMs ?? 250, options.signal).catch(() => undefined);
  }
}

/** Ends a pending request nobody will act on any more (`voided`, with why), unless it ended meanwhile. */
export async function withdrawApproval(session: Session, id: string, reason: string): Promise<void> {
  await endOnce(session, id, 'voided', reason);
}

/** Records `expired`/`voided` under the deciders' lock, unless the request ended meanwhile. */
async function endOnce(session: Session, id: string, stage: 'expired' | 'voided', reason: string): Promise<void> {
  await mkdir(session.stateDir, { recursive: true });
  await withFileLock(approvalsLockIn(session.stateDir), async () => {
    const state = (await readLedgerView(session.historyFile)).approvals.get(id);
    if (!state || state.ended || state.decisions.some((d) => d.stage === 'denied')) return;
    await session.event(stage, { action: 'approval', approval: { id, reason } satisfies ApprovalEnded, detail: `approval ${id} ${stage}: ${reason}` }, 'swiftdeploy');
  }, { command: `end approval ${id}` });
}

/**
 * Run `plan` once it has been approved. Throws NotApproved (exit 9) when the approval is missing,
 * not yet approved, already used, expired, or the plan changed; records `voided` in that last case.
 */
export async function verifyApproval(session: Session, id: string, plan: Plan): Promise<{ approval_id: string; authorised_by: string[] }> {
  const view = await readLedgerView(session.historyFile);
  const state = view.approvals.get(id);
  const refuse = async (why: string): Promise<never> => {
    await session.event('failed', { detail: `not authorised: approval ${id} ${why}` });
    throw new NotApproved(`${plan.action}: approval ${id} ${why}`);
  };
  if (!state) return refuse('does not exist');
  if (state.request.plan.action !== session.action || canonicalJson(state.request.plan) !== canonicalJson(plan)) return refuse(`is for another plan (${state.request.plan.summary})`);
  if (state.consumed) return refuse('was already used');
  const outcome = outcomeOf(state);
  if (!outcome) return refuse('is still pending');
  if (outcome.outcome !== 'approved') return refuse(`was ${outcome.outcome}${outcome.reason ? `: ${outcome.reason}` : ''}`);
  if (Date.now() >= Date.parse(state.request.expires_at)) return refuse(`expired at ${state.request.expires_at}`);
  if ((await currentPlanHash(refOf(session), plan, view)) !== state.request.plan_hash) {
    await endOnce(session, id, 'voided', 'the manifest or the stack changed since the plan was made');
    return refuse('is void: the manifest or the stack changed since the plan was made');
  }
  return { approval_id: id, authorised_by: outcome.by };
}

export interface RequestThenRunOptions extends AwaitOptions {
  detach: boolean;
  /** Shows the links to the requester's own terminal (called only when no webhook will carry them). */
  showLinks?: (links: NoticeLink[]) => void;
}

/** `--request`: ask, wait for the decision, then run with the approval (or, with --detach, return at once: `serve` runs it). */
export async function requestThenRun(
  manifestPath: string,
  operator: Operator,
  plan: Plan,
  options: RequestThenRunOptions,
  run: (operator: Operator) => Promise<ExitCode>,
): Promise<ExitCode> {
  const session = await Session.open(manifestPath, operator, 'approval');
  const { request, links } = await requestApproval(session, plan, { executor: options.detach ? 'serve' : 'requester', ...(options.now ? { now: options.now } : {}) });
  const { out } = session;
  const config = session.manifest.approvals!;
  const who = `${config.required} of ${config.approvers.join(', ')}`;
  // Each approver's link goes only to a webhook naming them (notify/notifier.ts withLinksFor); the
  // links of approvers no webhook reaches are shown on the requester's own terminal instead.
  const reached = new Set((session.manifest.notifications ?? []).flatMap((w) => (w.approver !== undefined && (w.events === undefined || w.events.includes('approval_requested')) ? [w.approver] : [])));
  const unreached = links.filter((l) => l.approver === undefined || !reached.has(l.approver));
  if (unreached.length > 0) options.showLinks?.(unreached);
  if (unreached.length < links.length) out.info(`approval links sent to the approvers' own webhooks (${links.length - unreached.length} of ${links.length})`);
  if (options.detach) {
    out.result(`approval ${request.id} requested: ${plan.summary}; needs ${who}; expires ${request.expires_at}; \`swiftdeploy serve\` runs it once approved`, {
      ok: true,
      action: 'approval',
      approval_id: request.id,
      plan: request.plan,
      plan_hash: request.plan_hash,
      expires_at: request.expires_at,
      executor: 'serve',
    });
    await session.settleNotifications();
    return EXIT.OK;
  }
  out.info(`approval ${request.id} requested: ${plan.summary}; waiting for ${who} (until ${request.expires_at}; \`swiftdeploy approve ${request.id}\` at a terminal)`);
  const outcome = await awaitApproval(session, request.id, options);
  await session.settleNotifications();
  if (outcome.outcome !== 'approved') {
    throw new NotApproved(`approval ${request.id} ${outcome.outcome}${outcome.by.length ? ` by ${outcome.by.join(', ')}` : ''}${outcome.reason ? `: ${outcome.reason}` : ''}; nothing was changed`);
  }
  out.info(`approval ${request.id} approved by ${outcome.by.join(', ')}: running ${plan.summary}`);
  return run({ ...operator, approval: { id: request.id, plan } });
}
