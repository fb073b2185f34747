/**
 * Notifications from the lifecycle, with the scripted engine (test/helpers/scripted-project.ts) and
 * real receivers on 127.0.0.1: a rollback whose webhook never answers makes its change first and
 * ends at most one budget later; a promote denied by the real OPA tells the webhook why, with the
 * last change before it.
 */
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AppMode } from '../../src/app/config.js';
import { EXIT } from '../../src/errors.js';
import { PolicyDecisionDenied } from '../../src/policy/errors.js';
import { appendRecord } from '../../src/history/ledger.js';
import { initProject } from '../../src/lifecycle/init.js';
import { promote } from '../../src/lifecycle/promote.js';
import { rollback } from '../../src/lifecycle/rollback.js';
import { abortRollout } from '../../src/lifecycle/rollout.js';
import { atStepWeight, newRollout } from '../../src/lifecycle/rollout-state.js';
import { rolloutFileContent, rolloutFileIn } from '../../src/lifecycle/rollout-store.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { verifySignature } from '../../src/notify/sign.js';
import { status } from '../fixtures/audit/records.js';
import { requireOpa } from '../helpers/engines.js';
import { opaForSuite } from '../helpers/opa.js';
import { APP_IMAGE, failure, scriptedProject, type ScriptedProject } from '../helpers/scripted-project.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';

const engine = requireOpa();
const SECRET = 'lifecycle-notify-secret';
const BUDGET_S = 2;
const SLACK_MS = 500;

let p: ScriptedProject | undefined;
let r: Receiver | undefined;
beforeAll(() => {
  process.env.SD_LIFECYCLE_HOOK_SECRET = SECRET;
});
afterAll(() => {
  delete process.env.SD_LIFECYCLE_HOOK_SECRET;
});
afterEach(async () => {
  await p?.close();
  await r?.close();
  p = undefined;
  r = undefined;
});

async function running(mode: AppMode, opaUrl: string, receiver: Receiver, budgetSeconds = BUDGET_S, changes: Record<string, unknown> = {}): Promise<ScriptedProject> {
  const project = await scriptedProject({
    ...changes,
    'opa.url': opaUrl,
    'services.mode': mode,
    notifications: [{ url: `${receiver.url}/hook`, format: 'generic', secret_env: 'SD_LIFECYCLE_HOOK_SECRET', budget_seconds: budgetSeconds }],
  });
  await initProject(project.manifest, project.operator);
  project.host.add('app', { mode, health: 'healthy', image: APP_IMAGE });
  project.host.add('nginx', { image: 'swiftdeploy-nginx:local' });
  await project.nginx.serve(mode);
  return project;
}

describe.skipIf(!engine.path)(`notifications from the lifecycle${engine.skipNote}`, () => {
  const suite = opaForSuite();

  it('rollback with a webhook that never answers: the change is made and recorded first; the exit comes at most one budget later', async () => {
    r = await startReceiver([], 'hang');
    p = await running('canary', suite.opa.url, r);
    const started = Date.now();
    expect(await rollback(p.manifest, p.operator, { reason: 'canary 5xx spike' }, p.deps)).toBe(EXIT.OK);
    const ended = Date.now();
    const records = await p.records();
    const rolledBack = records.find((x) => x.payload.action === 'rollback' && x.payload.stage === 'rolled_back')!;
    const changedAt = Date.parse(rolledBack.ts);
    const last = records.at(-1)!;
    // The delivery's record comes after the rollback's, and says it was not delivered.
    expect(last.payload).toMatchObject({ action: 'notify', stage: 'undelivered', notify: { event: 'rollback', attempts: 1 } });
    expect(records.indexOf(last)).toBeGreaterThan(records.indexOf(rolledBack));
    // The rollback was not held up: its change was recorded before the webhook's budget could have run out ...
    expect(changedAt - started).toBeLessThan(ended - started);
    // ... and the command ended within one budget of it (the wait for the receiver, nothing more).
    expect(ended - changedAt).toBeGreaterThanOrEqual(BUDGET_S * 1000 - 100);
    expect(ended - changedAt).toBeLessThan(BUDGET_S * 1000 + SLACK_MS);
    // The receiver was asked while the rollback was finishing, after the change.
    expect(r.received).toHaveLength(1);
    expect(r.received[0]!.at).toBeGreaterThanOrEqual(changedAt);
    const body = JSON.parse(r.received[0]!.body) as Record<string, unknown>;
    expect(body).toMatchObject({ event: 'rollback', actor: 'dana@example.com', detail: { from: 'canary', to: 'stable', outcome: 'rolled_back', reason: 'canary 5xx spike' } });
    // Looked for and none found: this project's ledger holds no earlier deploy, promote or rollback.
    expect(body.correlation).toBeNull();
  }, 30_000);

  it('a promote denied by the policy (real OPA): exit 3, and the webhook gets `deny` with observed vs threshold and the last change', async () => {
    r = await startReceiver();
    p = await running('stable', suite.opa.url, r);
    const history = path.join(p.dir, 'history.jsonl');
    const deploy = { action: 'deploy' as const, git: { sha: 'abcdef0123456789abcdef0123456789abcdef01', subject: 's', author: 'a', dirty: false } };
    for (const stage of ['requested', 'executed', 'confirmed'] as const) {
      await appendRecord(history, { kind: 'event', actor: 'ops@example.com', policy_version: null, manifest_sha256: null, payload: { ...deploy, stage } });
    }
    // A fresh status tick with a 50% error rate: the gate judges it and denies.
    const tick = status(Date.now(), { requests: 300, errorRate: 0.5, p99: 0.05 });
    await appendRecord(history, { kind: 'status', actor: 'status', policy_version: tick.policy_version, manifest_sha256: tick.manifest_sha256, payload: tick.payload });
    const err = await failure(promote(p.manifest, 'canary', p.operator, {}, p.deps));
    expect(err).toBeInstanceOf(PolicyDecisionDenied);
    expect(r.received).toHaveLength(1);
    const req = r.received[0]!;
    expect(verifySignature(req.headers['x-swiftdeploy-signature'] as string, req.body, SECRET).ok).toBe(true);
    const body = JSON.parse(req.body) as { event: string; summary: string; violations: Array<Record<string, unknown>>; correlation: Record<string, unknown>; decision: Record<string, unknown> };
    expect(body.event).toBe('deny');
    expect(body.summary).toMatch(/^promote canary denied by the canary policy: /);
    expect(body.decision).toMatchObject({ domain: 'canary', question: 'pre_promote', allowed: false, enforcement: 'enforce' });
    expect(body.violations).toContainEqual(expect.objectContaining({ domain: 'canary', observed: 0.5, threshold: expect.any(Number) }));
    expect(body.correlation).toMatchObject({ action: 'deploy', label: 'deploy', actor: 'ops@example.com', commit: deploy.git.sha });
    expect(body.correlation.text).toMatch(/^\d+s after deploy by ops@example\.com at abcdef0$/);
    const records = await p.records();
    expect(records.at(-1)!.payload).toMatchObject({ action: 'notify', stage: 'delivered', notify: { event: 'deny', status: 200 } });
  }, 30_000);

  for (const verb of ['abort', 'rollback'] as const) {
    it(`${verb} of a rollout at 50%: the webhook is told (${verb === 'abort' ? 'rollout_aborted' : 'rollback'}) with the rollout, the reason and who`, async () => {
      r = await startReceiver();
      p = await running('stable', suite.opa.url, r);
      writeFileSync(p.manifest, `${readFileSync(p.manifest, 'utf8')}\ncanary:\n  version: "2.0.0"\n  steps: [50, 100]\n  step_seconds: 5\n`);
      const config = { steps: [50, 100], failure_limit: 0, inconclusive_limit: 2, on_inconclusive: 'pause' as const, max_duration: 3600 };
      const now = new Date();
      const paused = { ...atStepWeight(newRollout('r-notify', { image: APP_IMAGE, version: '2.0.0' }, config, { pid: 1, host: 'h' }, now), now), status: 'paused' as const, driver: null, running_since: null };
      writeFileSync(rolloutFileIn(path.join(p.dir, '.swiftdeploy')), rolloutFileContent(paused));
      const code = verb === 'abort' ? await abortRollout(p.manifest, p.operator, { reason: 'p99 doubled' }, p.deps) : await rollback(p.manifest, p.operator, { reason: 'p99 doubled' }, p.deps);
      expect(code).toBe(EXIT.OK);
      expect(r.received).toHaveLength(1);
      const body = JSON.parse(r.received[0]!.body) as { event: string; summary: string; actor: string; detail: { rollout: Record<string, unknown> }; correlation: unknown };
      expect(body.event).toBe(verb === 'abort' ? 'rollout_aborted' : 'rollback');
      expect(body.actor).toBe('dana@example.com');
      expect(body.summary).toBe(`sdseq: rollout r-notify aborted: canary removed, stable untouched (${verb} by dana@example.com: p99 doubled)`);
      expect(body.detail.rollout).toMatchObject({ id: 'r-notify', status: 'aborted', weight: 0 });
      expect(body.correlation).toBeNull();
      const records = await p.records();
      expect(records.at(-1)!.payload).toMatchObject({ action: 'notify', stage: 'delivered', notify: { event: body.event } });
    }, 30_000);
  }

  it('a shadow-mode canary policy that would have denied: the promote goes on, and the webhook gets `would_have_blocked` with [SHADOW]', async () => {
    r = await startReceiver();
    p = await running('stable', suite.opa.url, r, BUDGET_S, { 'policy.canary.mode': 'shadow' });
    const history = path.join(p.dir, 'history.jsonl');
    const tick = status(Date.now(), { requests: 300, errorRate: 0.5, p99: 0.05 });
    await appendRecord(history, { kind: 'status', actor: 'status', policy_version: tick.policy_version, manifest_sha256: tick.manifest_sha256, payload: tick.payload });
    expect(await promote(p.manifest, 'canary', p.operator, {}, p.deps)).toBe(EXIT.OK);
    expect(r.received).toHaveLength(1);
    const body = JSON.parse(r.received[0]!.body) as { event: string; summary: string; shadow: boolean; decision: Record<string, unknown> };
    expect(body).toMatchObject({ event: 'would_have_blocked', shadow: true, decision: { enforcement: 'shadow', allowed: false } });
    expect(body.summary).toMatch(/^\[SHADOW\] canary policy would have blocked promote canary: /);
    const records = await p.records();
    const confirmed = records.findIndex((x) => x.payload.action === 'promote' && x.payload.stage === 'confirmed');
    expect(confirmed).toBeGreaterThan(-1);
    // The delivery is recorded after the operation's records, not among them.
    expect(records.findIndex((x) => x.payload.action === 'notify')).toBeGreaterThan(confirmed);
  }, 30_000);
});
