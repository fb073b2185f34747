/**
 * What the guard loop touches, injected: the status monitor, the guard policy, the ledger and the
 * notices (through the Session, so every record carries actor, manifest sha256, policy version and
 * commit), the plan (abort during a rollout, else rollback), approvals, and the action itself.
 * `createGuardDeps` wires the real ones; tests pass real local servers and replace only `propose`
 * (approvals are built elsewhere) and the lifecycle's engine.
 */
import { randomBytes } from 'node:crypto';
import type { ApprovalOutcome, Plan } from '../approvals/types.js';
import type { LifecycleDeps } from '../lifecycle/engine.js';
import { readRollout, rolloutFileIn } from '../lifecycle/rollout-store.js';
import { describeRollout, hasCanaryTrack } from '../lifecycle/rollout-state.js';
import type { Operator, Session } from '../lifecycle/session.js';
import type { NoticeCorrelation, NoticeLink } from '../notify/types.js';
import type { Runner } from '../runtime/run.js';
import { createStatusDeps, type StatusWiring } from '../status/deps.js';
import { sessionStatusWiring } from '../lifecycle/status-wiring.js';
import { StatusMonitor, type TickResult } from '../status/tick.js';
import type { GuardEffect, GuardPlan } from './incident.js';
import { guardPolicyVersion, guardTickOf, type GuardPolicy, type GuardTick } from './policy.js';
import { guardSchema } from '../manifest/schema.js';

/** How the guard asks a human: src/approvals' requestApproval / awaitApproval, injected. */
export interface ApprovalPort {
  /** Records the request and notifies the approvers; the links are those the guard_proposed notice carries. */
  request(plan: GuardPlan): Promise<{ id: string; links: NoticeLink[] }>;
  /** Resolves with the request's end; rejects (AbortError) when `signal` aborts. */
  await(id: string, signal: AbortSignal): Promise<ApprovalOutcome>;
  /** Ends a request nobody will act on any more (recorded `voided` with `reason`), so a late tap decides nothing. */
  withdraw?(id: string, reason: string): Promise<void>;
}

export interface Execution {
  /** The actor the lifecycle action runs as: `policy` under auto_abort_canary, else the guard's operator. */
  runAs: string;
  authorisedBy: string[];
  approval?: ApprovalOutcome;
}

export interface GuardDeps {
  monitor: Pick<StatusMonitor, 'prime' | 'tick'>;
  guardTick(tick: TickResult): GuardTick;
  policy: GuardPolicy;
  plan(): Promise<GuardPlan>;
  record(stage: Extract<GuardEffect, { kind: 'record' }>): Promise<void>;
  propose: ApprovalPort;
  execute(plan: GuardPlan, how: Execution): Promise<{ outcome: 'ok' | 'failed'; detail: string }>;
  /** The last change before the incident (src/notify/correlate.ts once merged); absent: not looked up. */
  correlate?: () => Promise<NoticeCorrelation | null>;
  newId(): string;
}

/** The approval plan for a guard plan: what `swiftdeploy rollback` / `abort` would be asked to run. */
export function approvalPlan(plan: GuardPlan, incidentReason = 'guard incident'): Plan {
  return { action: plan.action, args: { reason: incidentReason }, summary: plan.summary };
}

/** Abort when a progressive rollout has a canary track, else rollback; read from the rollout state file. */
export async function planFor(session: Session): Promise<GuardPlan> {
  const state = await readRollout(rolloutFileIn(session.stateDir));
  if (state !== undefined && hasCanaryTrack(state)) return { action: 'abort', summary: `abort ${describeRollout(state)}` };
  return { action: 'rollback', summary: `rollback ${session.manifest.project.name} to stable` };
}

export function newIncidentId(now = new Date()): string {
  return `inc-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z').toLowerCase()}-${randomBytes(3).toString('hex')}`;
}

/** The default approval port: src/approvals/request.ts, imported on first use (enforce mode only). */
export function approvalsPort(session: Session): ApprovalPort {
  const load = () => import('../approvals/request.js');
  return {
    request: async (plan) => {
      const r = await (await load()).requestApproval(session, approvalPlan(plan), { executor: 'requester' });
      return { id: r.request.id, links: r.links };
    },
    await: async (id, signal) => (await load()).awaitApproval(session, id, { signal }),
    withdraw: async (id, reason) => (await load()).withdrawApproval(session, id, reason),
  };
}

export interface GuardWiring {
  session: Session;
  /** The guard's operator: its actor runs human-authorised actions; its sink draws their events. */
  operator: Operator;
  client: StatusWiring['client'];
  policy: GuardPolicy;
  metricsUrl: string;
  scrapeTimeoutMs?: number;
  hostFacts?: StatusWiring['hostFacts'];
  /** Whether a progressive rollout runs (asked every tick): then each track is watched too, as `status` does. */
  rolloutRunning?: () => boolean | Promise<boolean>;
  /** On swarm: every replica's /metrics, aggregated (src/runtime/replica-scraper.ts), as `status` scrapes them. */
  scrapeReplicas?: StatusWiring['scrapeReplicas'];
  /** The Docker CLI runner for the swarm replica scrapes (tests: a scripted one). */
  run?: Runner;
  /** The lifecycle's engine (tests: a recording runner); Docker Compose when absent. */
  lifecycle?: LifecycleDeps;
  propose?: ApprovalPort;
  correlate?: GuardDeps['correlate'];
}

/** How long the guard's action waits for another operation's lock (a rollout step, a promote) instead of failing with exit 5. */
const ACTION_LOCK_WAIT_SECONDS = 60;

/** The real guard dependencies over a Session (the `guard` command and the integration tests). */
export function createGuardDeps(w: GuardWiring): GuardDeps {
  const { session } = w;
  const { manifest } = session;
  const statusDeps = createStatusDeps(
    sessionStatusWiring(session, {
      actor: w.operator.actor,
      client: w.client,
      metricsUrl: w.metricsUrl,
      ...(w.scrapeTimeoutMs !== undefined ? { scrapeTimeoutMs: w.scrapeTimeoutMs } : {}),
      ...(w.hostFacts ? { hostFacts: w.hostFacts } : {}),
      ...(w.rolloutRunning ? { rolloutRunning: w.rolloutRunning } : {}),
      ...(w.scrapeReplicas ? { scrapeReplicas: w.scrapeReplicas } : {}),
      ...(w.run ? { run: w.run } : {}),
    }),
  );
  const { window_seconds: windowSeconds, mode: canaryMode } = manifest.policy.canary;
  const counts = manifest.guard ?? guardSchema.parse({});
  let version: Promise<string> | undefined;
  return {
    monitor: new StatusMonitor(statusDeps, { windowSeconds, canaryEnforcement: canaryMode }),
    guardTick: (tick) => guardTickOf(tick.payload),
    policy: w.policy,
    plan: () => planFor(session),
    record: async (r) => {
      // The policy's stages say which guard policy decided them.
      const incident = r.stage === 'detected' || r.stage === 'recovered' ? { ...r.incident, policy_version: await (version ??= guardPolicyVersion(session.policiesDir, counts)) } : r.incident;
      await session.event(r.stage, { action: 'guard', detail: r.summary, incident }, r.actor);
      if (r.event) {
        session.notify({
          event: r.event,
          summary: r.summary,
          actor: r.actor,
          shadow: r.incident.shadow,
          incident: { id: r.incident.id, stage: r.stage },
          ...(r.incident.violations ? { violations: r.incident.violations } : {}),
          ...(r.correlation !== undefined ? { correlation: r.correlation } : r.incident.correlation !== undefined ? { correlation: r.incident.correlation } : {}),
          ...(r.links && r.links.length > 0 ? { links: r.links } : {}),
          ...(r.incident.plan ? { detail: { plan: r.incident.plan } } : {}),
        });
        // The guard runs for days: each delivery's outcome is recorded when it ends, not at exit
        // (in the background, so a dead receiver never delays the next tick; settles are serialised).
        void session.settleNotifications();
      }
    },
    propose: w.propose ?? approvalsPort(session),
    execute: async (plan, how) => {
      // Authorised already: by an approval, which the action verifies under its lock against the very
      // plan that was approved (Session.authorise); or by policy (auto_abort_canary), which is --yes.
      const operator: Operator = how.approval
        ? { actor: how.runAs, events: w.operator.events, yes: false, approval: { id: how.approval.id, plan: approvalPlan(plan) } }
        : { actor: how.runAs, events: w.operator.events, yes: true };
      const reason = `guard: ${plan.summary} (authorised by ${how.authorisedBy.join(', ')})`;
      const file = session.loaded.file;
      const code =
        plan.action === 'abort'
          ? await (await import('../lifecycle/rollout.js')).abortRollout(file, operator, { reason, lockWaitSeconds: ACTION_LOCK_WAIT_SECONDS }, w.lifecycle)
          : await (await import('../lifecycle/rollback.js')).rollback(file, operator, { reason, lockWaitSeconds: ACTION_LOCK_WAIT_SECONDS }, w.lifecycle);
      return code === 0 ? { outcome: 'ok', detail: `${plan.action} exited 0` } : { outcome: 'failed', detail: `${plan.action} exited ${code}` };
    },
    correlate: w.correlate ?? (async () => (await import('../notify/correlate.js')).lastChangeBefore(session.historyFile, Date.now())),
    newId: () => newIncidentId(),
  };
}
