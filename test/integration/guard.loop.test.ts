/**
 * The guard loop end to end without Docker: real status ticks against a local /metrics server
 * standing in for nginx, the real OPA loaded with policies/ (guard.rego decides), a real ledger in a
 * scripted project whose lifecycle runs on a recording runner (test/helpers/scripted-project.ts), and
 * for enforce mode's human approval the real approvals flow: a request in the ledger, its link POSTed to a real `serve`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServe } from '../../src/approvals/serve.js';
import { createGuardDeps, type ApprovalPort, type GuardDeps } from '../../src/guard/deps.js';
import type { GuardEffect, GuardSettings } from '../../src/guard/incident.js';
import { runGuard } from '../../src/guard/loop.js';
import { opaGuardPolicy } from '../../src/guard/policy.js';
import type { IncidentPayload } from '../../src/guard/types.js';
import { verifyHistory } from '../../src/history/ledger.js';
import { initProject } from '../../src/lifecycle/init.js';
import { Session } from '../../src/lifecycle/session.js';
import { OpaClient } from '../../src/policy/client.js';
import { createStatusDeps } from '../../src/status/deps.js';
import { StatusMonitor } from '../../src/status/tick.js';
import { ALICE, SECRET, SECRET_ENV, approvalsChanges, linkFor, postDecision, tokenOf } from '../helpers/approvals.js';
import { requireOpa } from '../helpers/engines.js';
import { freePort, opaForSuite } from '../helpers/opa.js';
import { APP_IMAGE, scriptedProject, type ScriptedProject } from '../helpers/scripted-project.js';
import type { EventRecord } from '../helpers/history.js';

const engine = requireOpa();
const WINDOW_S = 0.05;
const INTERVAL_MS = 80;

/** A /metrics endpoint whose counters grow by 100 requests a scrape: all good, or all failing. */
class Metrics {
  failing = false;
  private ok = 0;
  private errors = 0;
  private server!: http.Server;
  url = '';
  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      if (this.failing) this.errors += 100;
      else this.ok += 100;
      const labels = 'method="GET",path="/"';
      const total = this.ok + this.errors;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(
        [
          '# TYPE http_requests_total counter',
          `http_requests_total{${labels},status_code="200"} ${this.ok}`,
          `http_requests_total{${labels},status_code="500"} ${this.errors}`,
          '# TYPE http_request_duration_seconds histogram',
          `http_request_duration_seconds_bucket{le="0.05",${labels}} ${total}`,
          `http_request_duration_seconds_bucket{le="+Inf",${labels}} ${total}`,
          `http_request_duration_seconds_sum{${labels}} 1`,
          `http_request_duration_seconds_count{${labels}} ${total}`,
          'app_mode 0',
          'chaos_active 0',
          'app_uptime_seconds 10',
          'process_start_time_seconds 1700000000',
          '',
        ].join('\n'),
      );
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/metrics`;
  }
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

let p: ScriptedProject | undefined;
let metrics: Metrics;
const clients: OpaClient[] = [];
beforeEach(async () => {
  metrics = new Metrics();
  await metrics.start();
});
afterEach(async () => {
  await metrics.close();
  for (const c of clients.splice(0)) await c.close();
  await p?.close();
  p = undefined;
});

/** A project deployed in `mode` (rendered files, app + nginx running) with the given guard section. */
async function project(opaUrl: string, guard: Record<string, unknown>, mode: 'stable' | 'canary' = 'stable', extra: Record<string, unknown> = {}): Promise<ScriptedProject> {
  const made = await scriptedProject({ 'opa.url': opaUrl, 'services.mode': mode, guard, ...extra });
  p = made;
  await initProject(made.manifest, made.operator);
  made.host.add('app', { mode, health: 'healthy', image: APP_IMAGE });
  made.host.add('nginx', { image: 'swiftdeploy-nginx:local' });
  await made.nginx.serve(mode);
  return made;
}

/** Runs the guard through one incident: the metrics fail from the first tick on, `onStage` sees each stage (and heals them when the test wants); its exit code. */
function incident(g: Awaited<ReturnType<typeof guardOf>>, onStage: (s: Stage) => void, maxTicks: number): Promise<number> {
  let ticks = 0;
  return runGuard({
    ...g,
    intervalMs: INTERVAL_MS,
    signal: new AbortController().signal,
    onceIncident: true,
    maxTicks,
    onTick: () => {
      if (++ticks === 1) metrics.failing = true;
    },
    onStage,
  });
}

/** The real guard dependencies over the project, with status ticks on the local /metrics and a short window. */
async function guardOf(made: ScriptedProject, opaUrl: string, propose?: ApprovalPort): Promise<{ deps: GuardDeps; settings: GuardSettings; recoverTicks: number }> {
  const session = await Session.open(made.manifest, made.operator, 'guard');
  const client = new OpaClient({ url: opaUrl, timeoutMs: 2000 });
  clients.push(client);
  const deps = createGuardDeps({ session, operator: made.operator, client, policy: opaGuardPolicy(client), metricsUrl: metrics.url, lifecycle: made.deps, ...(propose ? { propose } : {}) });
  const statusDeps = createStatusDeps({
    metricsUrl: metrics.url,
    client,
    thresholds: {
      infrastructure: { min_disk_free_gb: 0, max_cpu_load: 1000, min_memory_available_mb: 0 },
      canary: { max_error_rate: 0.05, max_p99_latency_seconds: 0.5, window_seconds: WINDOW_S, min_requests: 20 },
    },
    modes: { infrastructure: 'enforce', canary: 'enforce' },
    policyVersions: { infrastructure: session.policyVersion('infrastructure'), canary: session.policyVersion('canary') },
    recordPolicyVersion: session.policyVersion('all'),
    projectDir: made.dir,
    historyFile: session.historyFile,
    actor: made.operator.actor,
    manifestSha256: session.loaded.sha256,
    hostFacts: async () => ({ disk_free_gb: 100, disk_path: made.dir, cpu_load_1m: 0.1, cpu_cores: 2, cpu_load_per_core: 0.05, memory_available_mb: 1000, sources: {} }),
  });
  const g = session.manifest.guard!;
  return {
    deps: { ...deps, monitor: new StatusMonitor(statusDeps, { windowSeconds: WINDOW_S, canaryEnforcement: 'enforce' }) },
    settings: { mode: g.mode, autoAbortCanary: g.auto_abort_canary, sustainTicks: g.sustain_ticks, operator: made.operator.actor },
    recoverTicks: g.recover_ticks,
  };
}

type Stage = Extract<GuardEffect, { kind: 'record' }>;
const guardRecords = (records: EventRecord[]) => records.filter((r) => r.payload.action === 'guard');
const incidentOf = (r: EventRecord) => r.payload.incident as IncidentPayload;

describe.skipIf(!engine.path)(`guard loop${engine.skipNote}`, () => {
  const suite = opaForSuite();

  it('shadow: DETECTED and PROPOSED (shadow: true) after sustain_ticks failing ticks, nothing run, RECOVERED when the metrics heal', async () => {
    const made = await project(suite.opa.url, { mode: 'shadow', sustain_ticks: 2, recover_ticks: 2 });
    const g = await guardOf(made, suite.opa.url);
    const callsBefore = made.runner.calls.length;
    const seen: Stage[] = [];
    const code = await incident(g, (s) => {
        seen.push(s);
        if (s.stage === 'proposed') metrics.failing = false;
      }, 30);
    expect(code).toBe(0);
    expect(seen.map((s) => s.stage)).toEqual(['detected', 'proposed', 'recovered']);
    const records = guardRecords(await made.records());
    expect(records.map((r) => [r.payload.stage, r.actor])).toEqual([
      ['detected', 'policy'],
      ['proposed', 'guard'],
      ['recovered', 'policy'],
    ]);
    const ids = new Set(records.map((r) => incidentOf(r).id));
    expect(ids.size).toBe(1);
    for (const r of records) {
      expect(incidentOf(r).shadow).toBe(true);
      expect(String(r.payload.detail)).toMatch(/^\[SHADOW\] /);
    }
    expect(incidentOf(records[0]!).violations?.map((v) => v.id)).toContain('error_rate_too_high');
    expect(incidentOf(records[0]!).policy_version).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(incidentOf(records[2]!).policy_version).toBe(incidentOf(records[0]!).policy_version);
    expect(incidentOf(records[1]!).policy_version).toBeUndefined();
    expect(incidentOf(records[0]!).violations?.[0]?.domain).toBe('canary');
    expect(incidentOf(records[1]!).plan).toEqual({ action: 'rollback', summary: 'rollback sdseq to stable' });
    expect(records[1]!.payload.detail).toBe('[SHADOW] would have proposed rollback sdseq to stable (a human would be asked to approve)');
    // No action ran: no lifecycle record, no compose call.
    expect((await made.records()).filter((r) => ['rollback', 'abort'].includes(String(r.payload.action)))).toEqual([]);
    expect(made.runner.calls.length).toBe(callsBefore);
    expect((await verifyHistory(path.join(made.dir, 'history.jsonl'))).ok).toBe(true);
  }, 30_000);

  it('enforce with auto_abort_canary: a failing canary is aborted as actor policy, no human asked; then RECOVERED', async () => {
    const made = await project(suite.opa.url, { mode: 'enforce', sustain_ticks: 2, recover_ticks: 2, auto_abort_canary: true }, 'stable', {
      canary: { version: '2.0.0', steps: [25, 100], step_seconds: 5 },
    });
    const { newRollout, atStepWeight } = await import('../../src/lifecycle/rollout-state.js');
    const { rolloutFileContent, rolloutFileIn } = await import('../../src/lifecycle/rollout-store.js');
    const config = { steps: [25, 100], failure_limit: 0, inconclusive_limit: 2, on_inconclusive: 'pause' as const, max_duration: 3600 };
    const now = new Date();
    const running = atStepWeight(newRollout('r-guard', { image: APP_IMAGE, version: '2.0.0' }, config, { pid: 1, host: 'h' }, now), now);
    const stateFile = rolloutFileIn(path.join(made.dir, '.swiftdeploy'));
    writeFileSync(stateFile, rolloutFileContent(running));
    const g = await guardOf(made, suite.opa.url, {
      request: () => Promise.reject(new Error('no human may be asked under auto_abort_canary')),
      await: () => Promise.reject(new Error('no human may be asked')),
    });
    const code = await incident(g, (s) => {
        if (s.stage === 'executed') metrics.failing = false;
      }, 30);
    expect(code).toBe(0);
    const all = await made.records();
    const guard = guardRecords(all);
    expect(guard.map((r) => [r.payload.stage, r.actor])).toEqual([
      ['detected', 'policy'],
      ['proposed', 'guard'],
      ['authorised', 'policy'],
      ['executed', 'dana@example.com'],
      ['recovered', 'policy'],
    ]);
    expect(incidentOf(guard[1]!).plan?.action).toBe('abort');
    expect(incidentOf(guard[2]!).authorised_by).toEqual(['policy']);
    expect(incidentOf(guard[3]!)).toMatchObject({ outcome: 'ok', shadow: false });
    // The abort itself ran as actor policy, and the rollout is over.
    const abort = all.filter((r) => r.payload.action === 'abort');
    expect(abort.map((r) => r.payload.stage)).toEqual(expect.arrayContaining(['requested', 'authorised', 'rolled_back']));
    expect(new Set(abort.map((r) => r.actor))).toEqual(new Set(['policy']));
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toMatchObject({ status: 'aborted', weight: 0 });
    expect((await verifyHistory(path.join(made.dir, 'history.jsonl'))).ok).toBe(true);
  }, 30_000);

  it('enforce with a human: PROPOSED requests a real approval, the link is POSTed to a real `serve`, the rollback runs with it', async () => {
    const servePort = await freePort();
    process.env[SECRET_ENV] = SECRET;
    const made = await project(suite.opa.url, { mode: 'enforce', sustain_ticks: 2, recover_ticks: 1 }, 'canary', approvalsChanges(servePort));
    const server = await startServe({ manifestPath: made.manifest, executePollMs: 0 });
    try {
      const g = await guardOf(made, suite.opa.url);
      const posts: number[] = [];
      let previewed = 0;
      const code = await incident(g, (s) => {
          if (s.stage === 'proposed') {
            const link = linkFor(s.links ?? [], ALICE);
            void (async () => {
              // A chat app's preview fetches the link first: that decides nothing.
              previewed = (await fetch(link.url)).status;
              posts.push((await postDecision(server.url, new URL(link.url).pathname.split('/')[2]!, tokenOf(link), 'approve')).status);
            })();
          }
          if (s.stage === 'executed') metrics.failing = false;
        }, 60);
      expect(code).toBe(0);
      expect(previewed).toBe(200);
      expect(posts).toEqual([200]);
      const all = await made.records();
      const guard = guardRecords(all);
      expect(guard.map((r) => [r.payload.stage, r.actor])).toEqual([
        ['detected', 'policy'],
        ['proposed', 'guard'],
        ['authorised', ALICE],
        ['executed', 'dana@example.com'],
        ['recovered', 'policy'],
      ]);
      const approvalId = incidentOf(guard[1]!).approval_id;
      expect(approvalId).toMatch(/^ap-[0-9a-f]{16}$/);
      expect(incidentOf(guard[2]!).authorised_by).toEqual([ALICE]);
      expect(incidentOf(guard[3]!).outcome).toBe('ok');
      // The approval as recorded: requested by the guard, approved by alice by link, then used by the rollback.
      const approval = all.filter((r) => r.payload.action === 'approval').map((r) => [r.payload.stage, r.actor]);
      expect(approval).toEqual([
        ['requested', 'dana@example.com'],
        ['approved', ALICE],
      ]);
      const rollback = all.filter((r) => r.payload.action === 'rollback');
      expect(rollback.map((r) => r.payload.stage)).toContain('rolled_back');
      const authorised = rollback.find((r) => r.payload.stage === 'authorised');
      expect(authorised?.payload).toMatchObject({ approval_id: approvalId, authorised_by: [ALICE] });
      expect(new Set(rollback.map((r) => r.actor))).toEqual(new Set(['dana@example.com']));
      expect(readFileSync(made.manifest, 'utf8')).toMatch(/^ {2}mode: stable\b/m);
    } finally {
      await server.close();
    }
  }, 30_000);

  it('enforce: the stack heals while a human is asked: RECOVERED, the request is withdrawn (voided), and a late tap runs nothing', async () => {
    const servePort = await freePort();
    process.env[SECRET_ENV] = SECRET;
    const made = await project(suite.opa.url, { mode: 'enforce', sustain_ticks: 2, recover_ticks: 1 }, 'canary', approvalsChanges(servePort));
    const server = await startServe({ manifestPath: made.manifest, executePollMs: 0 });
    try {
      const g = await guardOf(made, suite.opa.url);
      let link: { url: string } | undefined;
      const code = await incident(g, (s) => {
          if (s.stage === 'proposed') {
            link = linkFor(s.links ?? [], ALICE);
            metrics.failing = false;
          }
        }, 60);
      expect(code).toBe(0);
      const url = new URL(link!.url);
      const late = await postDecision(server.url, url.pathname.split('/')[2]!, url.searchParams.get('t')!, 'approve');
      expect(late.status).not.toBe(200);
      const all = await made.records();
      expect(guardRecords(all).map((r) => r.payload.stage)).toEqual(['detected', 'proposed', 'recovered']);
      expect(all.filter((r) => r.payload.action === 'approval').map((r) => r.payload.stage)).toEqual(['requested', 'voided', 'refused']);
      expect(all.some((r) => r.payload.action === 'rollback')).toBe(false);
      expect(readFileSync(made.manifest, 'utf8')).toMatch(/^ {2}mode: canary\b/m);
    } finally {
      await server.close();
    }
  }, 30_000);
});
