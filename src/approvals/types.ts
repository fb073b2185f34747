/**
 * Approvals: an authorisation asked for instead of given at the terminal, decided by a human at a
 * terminal (`approve`/`deny`) or with one tap on a link (`serve`). The ledger is the store: these
 * are the payloads of `approval` records and of the lifecycle `authorised` record that consumes one.
 */

/** The actions that need an authorisation and so may be requested. */
export type ApprovableAction = 'promote' | 'resume' | 'rollback' | 'abort' | 'teardown';

/** What will run once approved: the command and its arguments, exactly. */
export interface Plan {
  action: ApprovableAction;
  /** The arguments as given: { mode: 'canary' }, { reason: '...' }, { clean: true }. */
  args: Record<string, string | boolean>;
  /** The plan as the operator saw it, one line. */
  summary: string;
}

/** Who runs the action once approved: the waiting CLI or guard (`requester`), or `serve` (`--request --detach`). */
export type Executor = 'requester' | 'serve';

/** `approval` / `requested`. */
export interface ApprovalRequested {
  id: string;
  plan: Plan;
  /** sha256 over the plan, the manifest's sha256 and the stack's state when the plan was made. */
  plan_hash: string;
  requested_by: string;
  expires_at: string;
  required: number;
  approvers: string[];
  executor: Executor;
  /** One per approver: a digest of that approver's token nonce (never the token). */
  tokens: { approver: string; token_id: string }[];
}

/** `approval` / `approved` or `denied`: one approver's decision. */
export interface ApprovalDecided {
  id: string;
  decided_by: string;
  via: 'link' | 'terminal';
  token_id?: string;
  reason?: string;
}

/** `approval` / `expired` or `voided` (the manifest or the stack changed since the plan was made). */
export interface ApprovalEnded {
  id: string;
  reason: string;
}

/** `approval` / `refused`: an attempt that decided nothing, and why. */
export interface ApprovalRefused {
  id: string | null;
  why: 'forged' | 'replayed' | 'expired' | 'wrong approver' | 'own request' | 'plan changed' | 'already decided' | 'rate limited' | 'unknown approval';
  token_id?: string;
  address?: string;
}

/** The end of a request, as the requester learns it. */
export interface ApprovalOutcome {
  id: string;
  outcome: 'approved' | 'denied' | 'expired' | 'voided';
  /** The approvers who approved (approved), or who denied (denied). */
  by: string[];
  reason?: string;
}
