/**
 * `rollback --request` as a sequence (no Docker): the real lifecycle with a RecordingRunner behind the
 * compose engine (test/helpers/scripted-project.ts), the real ledger, `serve` on 127.0.0.1. The
 * requester waits; nothing runs until a POST approves; then the rollback runs and its `authorised`
 * record carries the approval and its approvers.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decide } from '../../src/approvals/decide.js';
import { requestThenRun } from '../../src/approvals/request.js';
import { startServe, type RunningServer } from '../../src/approvals/serve.js';
import type { Plan } from '../../src/approvals/types.js';
import { EXIT, NotApproved } from '../../src/errors.js';
import { silentSink } from '../../src/events.js';
import { initProject } from '../../src/lifecycle/init.js';
import { rollback } from '../../src/lifecycle/rollback.js';
import { Session } from '../../src/lifecycle/session.js';
import type { NoticeLink } from '../../src/notify/types.js';
import { ALICE, approvalsChanges, BOB, linkFor, postDecision, SECRET, SECRET_ENV, tokenOf } from '../helpers/approvals.js';
import { freePort } from '../helpers/opa.js';
import { APP_IMAGE, detection, scriptedProject, type ScriptedProject } from '../helpers/scripted-project.js';

let p: ScriptedProject | undefined;
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  await p?.close();
  server = undefined;
  p = undefined;
});

const PLAN: Plan = { action: 'rollback', args: { reason: 'canary 5xx spike' }, summary: 'rollback (canary 5xx spike)' };

/** A project running in canary, with `approvals:` (alice and bob, `required` of them). */
async function canaryWithApprovals(required = 1): Promise<ScriptedProject> {
  process.env[SECRET_ENV] = SECRET;
  const port = await freePort();
  // rollback never asks the policy engine: a URL nothing answers on keeps this test free of OPA.
  const project = await scriptedProject({ 'opa.url': 'http://127.0.0.1:9', 'services.mode': 'canary', ...approvalsChanges(port, { required }) });
  await initProject(project.manifest, project.operator);
  project.host.add('app', { mode: 'canary', health: 'healthy', image: APP_IMAGE });
  project.host.add('nginx', { image: 'swiftdeploy-nginx:local' });
  await project.nginx.serve('canary');
  return project;
}

/** The requester's links, once requestThenRun has shown them. */
function linksPromise(): { show: (links: NoticeLink[]) => void; links: Promise<NoticeLink[]> } {
  let show!: (links: NoticeLink[]) => void;
  const links = new Promise<NoticeLink[]>((resolve) => (show = resolve));
  return { show, links };
}

describe('rollback --request: waits for the approvers, then runs', () => {
  it('nothing runs until the POST; then the rollback runs, authorised by the approval', async () => {
    p = await canaryWithApprovals();
    const requester = { ...p.operator, yes: false };
    const shown = linksPromise();
    let ran = false;
    const done = requestThenRun(p.manifest, requester, PLAN, { detach: false, showLinks: shown.show, pollMs: 20 }, (operator) => {
      ran = true;
      return rollback(p!.manifest, operator, { reason: 'canary 5xx spike' }, p!.deps);
    });
    const links = await shown.links;
    server = await startServe({ manifestPath: p.manifest, executePollMs: 0 });
    await new Promise((r) => setTimeout(r, 200));
    expect(ran).toBe(false);
    expect(p.argvs()).toEqual([]);
    const id = new URL(links[0]!.url).pathname.split('/')[2]!;
    expect((await postDecision(server.url, id, tokenOf(linkFor(links, BOB)), 'approve')).status).toBe(200);
    expect(await done).toBe(EXIT.OK);
    expect(ran).toBe(true);
    expect(p.argvs().slice(0, detection().length)).toEqual(detection());
    expect(readFileSync(p.manifest, 'utf8')).toMatch(/^ {2}mode: stable\b/m);
    const records = await p.records();
    const authorised = records.find((r) => r.payload.action === 'rollback' && r.payload.stage === 'authorised')!;
    expect(authorised.payload).toMatchObject({ approval_id: id, authorised_by: [BOB] });
    expect(authorised.actor).toBe('dana@example.com');
    expect(records.at(-1)!.payload).toMatchObject({ action: 'rollback', stage: 'rolled_back', to_mode: 'stable' });
    // The approval is used up: a second run with it is refused (exit 9) and recorded as not authorised.
    const again = await Session.open(p.manifest, { ...requester, approval: { id, plan: PLAN } }, 'rollback');
    const refused = await again.authorise('?').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(NotApproved);
    expect((refused as Error).message).toContain('was already used');
    // Nothing secret in what the requester's terminal printed besides the links callback.
    for (const link of links) expect(p.text()).not.toContain(tokenOf(link));
  });

  it('denied: exit 9, the rollback never runs, no Docker command', async () => {
    p = await canaryWithApprovals();
    const shown = linksPromise();
    let ran = false;
    const done = requestThenRun(p.manifest, { ...p.operator, yes: false }, PLAN, { detach: false, showLinks: shown.show, pollMs: 20 }, async () => {
      ran = true;
      return EXIT.OK;
    });
    const links = await shown.links;
    const id = new URL(links[0]!.url).pathname.split('/')[2]!;
    const session = await Session.open(p.manifest, { actor: ALICE, events: silentSink, yes: false }, 'approval');
    expect(await decide(session, { via: 'terminal', id, verdict: 'deny', actor: ALICE, reason: 'wait for the fix' })).toMatchObject({ ok: true, stage: 'denied' });
    const err = await done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotApproved);
    expect((err as NotApproved).exitCode).toBe(EXIT.NOT_APPROVED);
    expect((err as Error).message).toContain('denied by alice@example.com: wait for the fix');
    expect(ran).toBe(false);
    expect(p.argvs()).toEqual([]);
  });

  it('the manifest changed after the approval: the rollback refuses it as void (another recorded change alone does not void a step back)', async () => {
    p = await canaryWithApprovals();
    const shown = linksPromise();
    const detached = requestThenRun(p.manifest, { ...p.operator, yes: false }, PLAN, { detach: true, showLinks: shown.show }, async () => EXIT.FAILED);
    expect(await detached).toBe(EXIT.OK);
    const links = await shown.links;
    const id = new URL(links[0]!.url).pathname.split('/')[2]!;
    const session = await Session.open(p.manifest, { actor: ALICE, events: silentSink, yes: false }, 'approval');
    expect(await decide(session, { via: 'terminal', id, verdict: 'approve', actor: ALICE })).toMatchObject({ ok: true });
    // A recorded change (a rollout step, say) does not void a step back: rollback and abort hash the manifest and which rollout runs.
    const other = await Session.open(p.manifest, p.operator, 'promote');
    await other.event('confirmed', { detail: 'someone else changed the stack' });
    const { currentPlanHash } = await import('../../src/approvals/plan.js');
    const ref = { manifestFile: p.manifest, historyFile: other.historyFile, stateDir: other.stateDir };
    const before = await currentPlanHash(ref, PLAN);
    const requested = (await p.records()).find((r) => r.payload.action === 'approval' && r.payload.stage === 'requested');
    expect(before).toBe((requested?.payload.approval as { plan_hash?: string } | undefined)?.plan_hash);
    // The manifest changes between the approval and its use.
    const original = readFileSync(p.manifest, 'utf8');
    writeFileSync(p.manifest, `${original}\n# edited after the approval\n`);
    expect(await currentPlanHash(ref, PLAN)).not.toBe(before);
    const err = await rollback(p.manifest, { ...p.operator, yes: false, approval: { id, plan: PLAN } }, { reason: 'canary 5xx spike' }, p.deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotApproved);
    expect((err as Error).message).toContain('is void');
    const stages = (await p.records()).filter((r) => r.payload.action === 'approval').map((r) => r.payload.stage);
    expect(stages).toEqual(['requested', 'approved', 'voided']);
    expect(readFileSync(p.manifest, 'utf8')).toMatch(/^ {2}mode: canary\b/m);
    // Void is final: with the edit reverted the plan hash matches again, and the approval is still refused.
    writeFileSync(p.manifest, original);
    expect(await currentPlanHash(ref, PLAN)).toBe(before);
    const again = await rollback(p.manifest, { ...p.operator, yes: false, approval: { id, plan: PLAN } }, { reason: 'canary 5xx spike' }, p.deps).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(NotApproved);
    expect((again as Error).message).toContain('was voided');
    expect(readFileSync(p.manifest, 'utf8')).toMatch(/^ {2}mode: canary\b/m);
  });
});

describe('serve runs what was requested with --request --detach', () => {
  it('once approved, serve spawns the CLI with the plan, the requester as actor and --approval', async () => {
    p = await canaryWithApprovals();
    const shown = linksPromise();
    expect(await requestThenRun(p.manifest, { ...p.operator, yes: false }, PLAN, { detach: true, showLinks: shown.show }, async () => EXIT.FAILED)).toBe(EXIT.OK);
    const links = await shown.links;
    const id = new URL(links[0]!.url).pathname.split('/')[2]!;
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'sd-argv-'));
    const argvFile = path.join(tmp, 'argv.json');
    process.env.SD_ARGV_FILE = argvFile;
    try {
      server = await startServe({ manifestPath: p.manifest, executePollMs: 0, cli: path.resolve(import.meta.dirname, '../helpers/argv-recorder.mjs') });
      expect(server.executions.size).toBe(0);
      expect((await postDecision(server.url, id, tokenOf(linkFor(links, ALICE)), 'approve')).status).toBe(200);
      await new Promise((r) => setTimeout(r, 50));
      expect(await server.executions.get(id)).toBe(0);
      expect(JSON.parse(await readFile(argvFile, 'utf8'))).toEqual(['-f', p.manifest, '--actor', 'dana@example.com', 'rollback', '--reason', 'canary 5xx spike', '--lock-wait', '60', '--approval', id]);
    } finally {
      delete process.env.SD_ARGV_FILE;
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
