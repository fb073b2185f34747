/**
 * What the notification room is told. Operations describe a happening as a `Notice`; src/notify
 * decides which webhooks want it, formats, signs, delivers within each webhook's budget and records
 * every delivery's outcome in the ledger. Nothing secret ever goes into a Notice.
 */
import type { NotifyEventName } from '../manifest/schema.js';

export type { NotifyEventName };

/** The last change before an incident (the audit report's correlation, reused). */
export interface NoticeCorrelation {
  action: string;
  /** e.g. "promote canary". */
  label: string;
  actor: string;
  at: string;
  /** Milliseconds between that change taking effect and the incident. */
  after_ms: number;
  commit: string | null;
}

export interface NoticeViolation {
  domain?: string;
  id: string;
  message: string;
  observed: unknown;
  threshold: unknown;
}

export interface NoticeLink {
  label: string;
  url: string;
  /** Set on an approval link: the one approver it is for. */
  approver?: string;
}

export interface Notice {
  event: NotifyEventName;
  /** One line for a human; shadow notices start with "[SHADOW] ". */
  summary: string;
  /** Who caused it (an operator, `policy`, `guard`). */
  actor: string;
  shadow?: boolean;
  /** The policy decision behind it, as recorded (src/policy DecisionRecord). */
  decision?: object;
  violations?: NoticeViolation[];
  /** null: looked for and none found; absent: not applicable. */
  correlation?: NoticeCorrelation | null;
  /**
   * When set and `correlation` is absent: the notifier looks up the last change before this moment
   * (ISO time) in the ledger, in the background (src/notify/correlate.ts), and fills `correlation`.
   */
  correlate_at?: string;
  links?: NoticeLink[];
  /** Approval notices: which request. */
  approval?: { id: string; action: string; plan_hash: string; expires_at: string; required: number };
  /** Guard notices: which incident. */
  incident?: { id: string; stage: string };
  /** Anything else worth a receiver's while (rollout summary, reason). */
  detail?: Record<string, unknown>;
}

/** Where a Session sends notices. `send` never throws and never waits; `settle` waits for deliveries, bounded by their budgets. */
export interface NotifyPort {
  send(notice: Notice): void;
  settle(): Promise<void>;
}

/** The port of a project without `notifications:`. */
export const noNotifications: NotifyPort = {
  send: () => undefined,
  settle: async () => undefined,
};

/** The payload of a `notify` record (stage `delivered` or `undelivered`): never the URL's path or query, never a secret. */
export interface DeliveryRecord {
  event: NotifyEventName;
  /** The webhook's place in `notifications:` (0-based) and its URL's origin. */
  webhook: { index: number; origin: string; format: 'slack' | 'generic' };
  attempts: number;
  /** The last HTTP status, when there was an answer. */
  status?: number;
  /** Why the last attempt failed. */
  error?: string;
  elapsed_ms: number;
  /** The approval or incident the notice was about. */
  approval_id?: string;
  incident_id?: string;
}
