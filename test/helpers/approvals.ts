/** A project with `approvals:` in a temp directory, and the steps of an approval flow as a caller takes them. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { requestApproval } from '../../src/approvals/request.js';
import type { ApprovalRequested, Plan } from '../../src/approvals/types.js';
import { silentSink } from '../../src/events.js';
import { Session } from '../../src/lifecycle/session.js';
import type { NoticeLink } from '../../src/notify/types.js';
import { readEventRecords, type EventRecord } from './history.js';
import { testManifest, type ManifestChanges } from './manifest.js';
import { freePort } from './opa.js';

export const SECRET_ENV = 'SD_TEST_APPROVAL_SECRET';
export const SECRET = 'test-approval-secret-0123456789abcdef';
export const ALICE = 'alice@example.com';
export const BOB = 'bob@example.com';
export const ROLLBACK_PLAN: Plan = { action: 'rollback', args: { reason: 'canary 5xx' }, summary: 'rollback (canary 5xx)' };

export interface ApprovalProject {
  dir: string;
  manifest: string;
  port: number;
  history: string;
  records(): Promise<EventRecord[]>;
  ledgerText(): Promise<string>;
  request(plan?: Plan, options?: { executor?: 'requester' | 'serve'; now?: () => Date }): Promise<{ request: ApprovalRequested; links: NoticeLink[] }>;
  close(): Promise<void>;
}

export function approvalsChanges(port: number, approvals: Record<string, unknown> = {}): ManifestChanges {
  return {
    approvals: { approvers: [ALICE, BOB], required: 1, secret_env: SECRET_ENV, expires_seconds: 600, serve: { listen: '127.0.0.1', port }, ...approvals },
  };
}

export async function approvalProject(approvals: Record<string, unknown> = {}, changes: ManifestChanges = {}): Promise<ApprovalProject> {
  process.env[SECRET_ENV] = SECRET;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sd-approvals-'));
  const port = await freePort();
  const manifest = path.join(dir, 'manifest.yaml');
  await writeFile(manifest, testManifest({ 'services.build': undefined, ...approvalsChanges(port, approvals), ...changes }));
  const history = path.join(dir, 'history.jsonl');
  return {
    dir,
    manifest,
    port,
    history,
    records: () => readEventRecords(history),
    ledgerText: () => readFile(history, 'utf8'),
    request: async (plan = ROLLBACK_PLAN, options = {}) => {
      const session = await Session.open(manifest, { actor: 'rita@example.com', events: silentSink, yes: false }, 'approval');
      return requestApproval(session, plan, { executor: options.executor ?? 'requester', ...(options.now ? { now: options.now } : {}) });
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The token in a link (`?t=`). */
export function tokenOf(link: NoticeLink): string {
  return new URL(link.url).searchParams.get('t')!;
}

export function linkFor(links: NoticeLink[], approver: string): NoticeLink {
  return links.find((l) => l.approver === approver)!;
}

/** POST a decision the way the page's form does. */
export function postDecision(base: string, id: string, token: string, decision: 'approve' | 'deny', reason = ''): Promise<Response> {
  return fetch(`${base}/a/${id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ t: token, decision, reason }).toString(),
  });
}
