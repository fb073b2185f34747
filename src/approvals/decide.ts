/**
 * One approver's decision, by terminal or by link, under a short lock (`approvals.lock` in the
 * state directory): the state is read, checked and the decision appended while no other decider
 * runs, so two concurrent POSTs (or `serve` and `approve`) cannot both win. Every refused attempt
 * is recorded (`refused`, never with the token).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { withFileLock } from '../lock/file-lock.js';
import type { Session } from '../lifecycle/session.js';
import { currentPlanHash } from './plan.js';
import { outcomeOf, readLedgerView, type ApprovalState } from './store.js';
import { approvalKey, parseToken, tokenId, tokenMatches } from './token.js';
import type { ApprovalOutcome, ApprovalRefused } from './types.js';

export type Verdict = 'approve' | 'deny';

export type DecideInput =
  | { via: 'terminal'; id: string; verdict: Verdict; actor: string; reason?: string }
  | { via: 'link'; id: string; verdict: Verdict; token: string; address?: string; reason?: string };

export type DecideResult =
  | { ok: true; stage: 'approved' | 'denied'; approver: string; outcome?: ApprovalOutcome; pending: number }
  | { ok: false; why: ApprovalRefused['why']; message: string };

export interface DecideOptions {
  now?: () => Date;
}

const ID = /^ap-[0-9a-f]{16}$/;

export function isApprovalId(id: string): boolean {
  return ID.test(id);
}

export function approvalsLockIn(stateDir: string): string {
  return path.join(stateDir, 'approvals.lock');
}

/** The approver a link's token speaks for, or why it speaks for nobody. */
function linkApprover(session: Session, state: ApprovalState, token: string): { approver: string; token_id: string } | { why: ApprovalRefused['why']; token_id?: string } {
  const parsed = parseToken(token);
  if (!parsed) return { why: 'forged' };
  const tid = tokenId(parsed.nonce);
  const entry = state.request.tokens.find((t) => t.approver === parsed.approver);
  if (!entry || entry.token_id !== tid) {
    // A real token whose approver part was changed: someone else's link.
    const owner = state.request.tokens.find((t) => t.token_id === tid);
    return owner ? { why: 'wrong approver', token_id: tid } : { why: 'forged' };
  }
  const approvals = session.manifest.approvals;
  if (!approvals) return { why: 'forged', token_id: tid };
  const { id, plan_hash, expires_at } = state.request;
  if (!tokenMatches(approvalKey(approvals), { id, plan_hash, approver: parsed.approver, expires_at }, parsed)) return { why: 'forged', token_id: tid };
  return { approver: parsed.approver, token_id: tid };
}

const MESSAGES: Record<ApprovalRefused['why'], string> = {
  forged: 'this link is not valid',
  replayed: 'this link was already used',
  expired: 'this approval request has expired',
  'wrong approver': 'not an approver of this request',
  'own request': 'the requester cannot approve their own request (a second person decides)',
  'plan changed': 'the manifest or the stack changed since this was requested: the request is void; request it again',
  'already decided': 'this approval request is already decided',
  'rate limited': 'too many attempts; try again later',
  'unknown approval': 'no such approval request',
};

export function refusalMessage(why: ApprovalRefused['why']): string {
  return MESSAGES[why];
}

/** Records a refused attempt (with token_id and address, never the token). */
export async function recordRefusal(session: Session, refusal: ApprovalRefused, actor: string): Promise<void> {
  await session.event('refused', { action: 'approval', approval: refusal, detail: MESSAGES[refusal.why] }, actor);
}

export async function decide(session: Session, input: DecideInput, options: DecideOptions = {}): Promise<DecideResult> {
  const approvals = session.manifest.approvals;
  if (!approvals) throw new UsageError('this manifest has no `approvals:` section');
  if (input.via === 'link') approvalKey(approvals); // a missing key is the server's problem, not a forgery
  await mkdir(session.stateDir, { recursive: true });
  return withFileLock(approvalsLockIn(session.stateDir), () => decideLocked(session, input, options), { command: `decide approval ${input.id}`, timeoutMs: 15_000 });
}

async function decideLocked(session: Session, input: DecideInput, options: DecideOptions): Promise<DecideResult> {
  const now = (options.now ?? (() => new Date()))();
  const address = input.via === 'link' && input.address ? { address: input.address } : {};
  const actorOf = (who?: string) => who ?? (input.via === 'terminal' ? input.actor : 'serve');
  const refuse = async (why: ApprovalRefused['why'], extra: { token_id?: string; approver?: string } = {}): Promise<DecideResult> => {
    const id = isApprovalId(input.id) ? input.id : null;
    await recordRefusal(session, { id, why, ...(extra.token_id ? { token_id: extra.token_id } : {}), ...address }, actorOf(extra.approver));
    return { ok: false, why, message: MESSAGES[why] };
  };

  const view = await readLedgerView(session.historyFile);
  const state = isApprovalId(input.id) ? view.approvals.get(input.id) : undefined;
  if (!state) return refuse('unknown approval');

  let approver: string;
  let tid: string | undefined;
  if (input.via === 'link') {
    const who = linkApprover(session, state, input.token);
    if ('why' in who) return refuse(who.why, who.token_id ? { token_id: who.token_id } : {});
    approver = who.approver;
    tid = who.token_id;
  } else {
    approver = input.actor;
    if (!state.request.approvers.includes(approver)) return refuse('wrong approver', { approver });
  }
  const ids = tid ? { token_id: tid } : {};
  // An approver taken off the list since the request can no longer decide it.
  if (!(session.manifest.approvals?.approvers ?? []).includes(approver)) return refuse('wrong approver', { ...ids, approver });

  // Four eyes: the person who asked does not approve it (a deny of one's own request is a withdrawal, allowed).
  if (input.verdict === 'approve' && approver === state.request.requested_by) return refuse('own request', { ...ids, approver });

  const mine = state.decisions.find((d) => d.decided_by === approver);
  if (mine) return refuse(tid && mine.token_id === tid ? 'replayed' : 'already decided', { ...ids, approver });
  const ended = outcomeOf(state, now);
  if (ended) {
    if (ended.outcome === 'expired' && !state.ended) {
      await session.event('expired', { action: 'approval', approval: { id: state.request.id, reason: ended.reason ?? 'expired' } }, 'swiftdeploy');
    }
    const why = ended.outcome === 'expired' ? 'expired' : ended.outcome === 'voided' ? 'plan changed' : 'already decided';
    return refuse(why, { ...ids, approver });
  }
  const hash = await currentPlanHash({ manifestFile: session.loaded.file, historyFile: session.historyFile, stateDir: session.stateDir }, state.request.plan, view);
  if (hash !== state.request.plan_hash) {
    await session.event('voided', { action: 'approval', approval: { id: state.request.id, reason: 'the manifest or the stack changed since the plan was made' } }, 'swiftdeploy');
    return refuse('plan changed', { ...ids, approver });
  }

  const stage = input.verdict === 'approve' ? 'approved' : 'denied';
  const reason = input.reason?.trim();
  await session.event(stage, { action: 'approval', approval: { id: state.request.id, decided_by: approver, via: input.via, ...ids, ...(reason ? { reason } : {}) } }, approver);
  state.decisions.push({ id: state.request.id, decided_by: approver, via: input.via, ...ids, ...(reason ? { reason } : {}), stage, ts: now.toISOString() });
  const outcome = outcomeOf(state, now);
  const approved = new Set(state.decisions.filter((d) => d.stage === 'approved').map((d) => d.decided_by)).size;
  if (outcome) {
    const { request } = state;
    session.notify({
      event: 'approval_decided',
      summary: `${request.plan.summary}: ${outcome.outcome} by ${outcome.by.join(', ')}`,
      actor: approver,
      approval: { id: request.id, action: request.plan.action, plan_hash: request.plan_hash, expires_at: request.expires_at, required: request.required },
      detail: { outcome: outcome.outcome, by: outcome.by, ...(outcome.reason ? { reason: outcome.reason } : {}) },
    });
  }
  return { ok: true, stage, approver, ...(outcome ? { outcome } : {}), pending: outcome ? 0 : state.request.required - approved };
}
