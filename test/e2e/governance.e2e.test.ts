/**
 * The governance loop on a real Docker engine (compose v2, the OPA sidecar), driven through the CLI
 * as an operator would: `guard` (enforce) and `serve` running as processes, a webhook receiver that
 * verifies every signature with the README's verifier, steady traffic through nginx. Chaos on the
 * canary app → the guard policy DETECTS it → signed alerts reach the receiver with the approval links
 * → a chat preview GETs the link (deciding nothing), the approver POSTs it → the guard runs the
 * rollback with that approval → RECOVERED; the ledger holds every stage with its actor and the audit
 * report shows the incident and the approval.
 *
 * Needs: a Docker engine, compose v2, the local base images and the OPA image (npm run setup).
 * In CI a missing piece fails the suite; elsewhere it skips and says so.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localStackChanges, testManifest } from '../helpers/manifest.js';
import { composeV2ForTests, uniqueProjectName } from './helpers/docker.js';
import { makeTempProject, type TempProject } from './helpers/project.js';
import { freePort } from '../helpers/opa-server.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repo, 'bin/swiftdeploy');
const APP_IMAGE = 'swiftdeploy-app:e2e';
const OPERATOR = 'ops@example.com';
const ALICE = 'alice@example.com';
const SETUP = 'npm run setup (as root)';
const WEBHOOK_SECRET = 'e2e-webhook-secret-0123456789';
const APPROVAL_SECRET = 'e2e-approval-secret-0123456789';

const { compose, version: composeV2 } = await composeV2ForTests(SETUP);

/** The README's ten-line verifier, as a receiver would paste it. */
function verify(header: string, rawBody: string, secret: string, toleranceSeconds = 300): boolean {
  const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=', 2)));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

interface Received {
  at: number;
  verified: boolean;
  body: { event: string; summary: string; actor: string; links?: Array<{ url: string; approver?: string }>; correlation?: { label: string; actor: string } | null; violations?: unknown[] };
}

describe.skipIf(!compose.path)(`the governance loop on real Docker, compose ${composeV2 ?? ''}${compose.skipNote}`, () => {
  let project: TempProject;
  let manifest: string;
  let nginxPort: number;
  let servePort: number;
  let receiver: http.Server;
  const received: Received[] = [];
  const env = {
    SWIFTDEPLOY_ACTOR: OPERATOR,
    NO_COLOR: '1',
    SWIFTDEPLOY_COMPOSE: 'plugin',
    SD_E2E_WEBHOOK_SECRET: WEBHOOK_SECRET,
    SD_E2E_APPROVAL_SECRET: APPROVAL_SECRET,
  };
  const cli = (args: string[], timeout = 240_000) => execa(bin, args, { cwd: project.dir, reject: false, stdin: 'ignore', env, timeout });
  const background: ResultPromise[] = [];

  function records(): Array<{ actor: string; payload: Record<string, unknown> }> {
    return readFileSync(path.join(project.dir, 'history.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { actor: string; payload: Record<string, unknown> });
  }

  async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 90_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received: ${received.map((r) => r.body.event).join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    project = await makeTempProject(uniqueProjectName('sdgov'));
    manifest = path.join(project.dir, 'manifest.yaml');
    nginxPort = await freePort();
    servePort = await freePort();
    const opaPort = await freePort();
    receiver = http.createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (raw += c));
      req.on('end', () => {
        const verified = verify(String(req.headers['x-swiftdeploy-signature'] ?? ''), raw, WEBHOOK_SECRET);
        received.push({ at: Date.now(), verified, body: JSON.parse(raw) as Received['body'] });
        res.writeHead(verified ? 204 : 401).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    // The lifecycle suite builds the app image from this checkout; build it here too when run alone (cached otherwise).
    await execa('bash', [path.join(repo, 'scripts/stage-app.sh')], { cwd: repo });
    await execa('docker', ['build', '-q', '--target', 'prebuilt', '--build-arg', 'NODE_IMAGE=swiftdeploy-node:local', '-t', APP_IMAGE, '.'], { cwd: repo });
    const changes = localStackChanges({ projectName: project.projectName, appImage: APP_IMAGE, nginxPort, opaPort });
    changes['services.mode'] = 'canary';
    // Latency on a shared 2-core machine is noise: this suite is about errors.
    changes['policy.canary.max_p99_latency_seconds'] = 5;
    changes['observability.status_interval'] = 1;
    // alice's own webhook (her DM): only it carries her approval link.
    changes.notifications = [{ url: hook, format: 'generic', secret_env: 'SD_E2E_WEBHOOK_SECRET', budget_seconds: 5, approver: ALICE }];
    changes.approvals = { approvers: [ALICE, 'bob@example.com'], secret_env: 'SD_E2E_APPROVAL_SECRET', expires_seconds: 600, serve: { listen: '127.0.0.1', port: servePort } };
    changes.guard = { mode: 'enforce', sustain_ticks: 2, recover_ticks: 2 };
    writeFileSync(manifest, testManifest(changes));
    const r = await cli(['deploy']);
    expect(r.exitCode, r.stderr).toBe(0);
  }, 300_000);

  afterAll(async () => {
    for (const p of background) p.kill('SIGTERM');
    await Promise.allSettled(background);
    receiver?.closeAllConnections();
    await new Promise((resolve) => receiver?.close(resolve));
    await project?.cleanup();
  }, 120_000);

  it('chaos → DETECTED → signed alert with links → a POSTed link authorises the rollback → RECOVERED, all in the ledger and the report', { timeout: 240_000 }, async () => {
    const serve = cli(['serve'], 230_000);
    background.push(serve);
    for (let i = 0; ; i++) {
      const up = await fetch(`http://127.0.0.1:${servePort}/healthz`).then((r) => r.ok, () => false);
      if (up) break;
      if (i > 100) throw new Error('serve never answered /healthz');
      await new Promise((r) => setTimeout(r, 100));
    }
    const guard = cli(['guard', '--once-incident'], 230_000);
    background.push(guard);

    // Steady traffic through nginx, so the windows have requests to judge.
    let running = true;
    const traffic = (async () => {
      while (running) {
        await fetch(`http://127.0.0.1:${nginxPort}/`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(5000) }).then((r) => r.arrayBuffer(), () => undefined);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      // A few healthy ticks first: the guard sees a healthy canary and opens nothing.
      await new Promise((r) => setTimeout(r, 4000));
      expect(records().some((r) => r.payload.action === 'guard')).toBe(false);
      const chaos = await cli(['chaos', 'error', '--rate', '0.8']);
      expect(chaos.exitCode, chaos.stderr).toBe(0);
      const chaosAt = Date.now();

      const proposed = await waitFor('a guard_proposed alert with links', () => received.find((r) => r.body.event === 'guard_proposed' && (r.body.links ?? []).length > 0));
      const detected = received.find((r) => r.body.event === 'guard_detected');
      expect(detected, 'guard_detected alert').toBeDefined();
      expect(received.every((r) => r.verified)).toBe(true);
      // The alert says what changed before it broke: the deploy, by whom.
      expect(detected!.body.correlation).toMatchObject({ label: 'deploy', actor: OPERATOR });
      expect(detected!.body.violations?.length).toBeGreaterThan(0);
      expect(proposed.at - chaosAt).toBeLessThan(60_000);

      const link = proposed.body.links!.find((l) => l.approver === ALICE)!;
      // A chat app's link preview: GET shows the plan and changes nothing.
      const page = await fetch(link.url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('rollback');
      expect(records().some((r) => r.payload.action === 'approval' && r.payload.stage === 'approved')).toBe(false);
      const url = new URL(link.url);
      const post = await fetch(`${url.origin}${url.pathname}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ t: url.searchParams.get('t')!, decision: 'approve', reason: '' }).toString(),
      });
      expect(post.status).toBe(200);

      const g = await guard;
      expect(g.exitCode, `${g.stdout}\n${g.stderr}`).toBe(0);
      expect(g.stdout).toMatch(/GUARD RECOVERED/);
    } finally {
      running = false;
      await traffic;
    }

    const all = records();
    // Chaos fails ordinary requests only, so the guard's scrapes of /metrics through nginx normally
    // keep working and the incident is the error rate. Once in four runs on a loaded machine two
    // scrapes in a row failed right after the chaos (cause not found; see the issue note): the guard
    // then rightly opens the incident on stack_unobservable. Said here, not hidden.
    const scrapeErrors = (all as Array<{ kind?: string; payload: Record<string, unknown> }>).filter((r) => r.kind === 'status' && typeof r.payload.error === 'string').map((r) => String(r.payload.error));
    if (scrapeErrors.length > 0) console.warn(`governance e2e: ${scrapeErrors.length} status scrapes failed: ${scrapeErrors.join('; ')}`);
    const stages = all.filter((r) => r.payload.action === 'guard').map((r) => [r.payload.stage, r.actor]);
    expect(stages).toEqual([
      ['detected', 'policy'],
      ['proposed', 'guard'],
      ['authorised', ALICE],
      ['executed', OPERATOR],
      ['recovered', 'policy'],
    ]);
    const approvalId = (all.find((r) => r.payload.action === 'guard' && r.payload.stage === 'proposed')!.payload.incident as { approval_id?: string }).approval_id;
    expect(approvalId).toMatch(/^ap-/);
    const rollback = all.filter((r) => r.payload.action === 'rollback');
    expect(rollback.find((r) => r.payload.stage === 'authorised')?.payload).toMatchObject({ approval_id: approvalId, authorised_by: [ALICE] });
    expect(rollback.map((r) => r.payload.stage)).toContain('rolled_back');
    expect(readFileSync(manifest, 'utf8')).toMatch(/^ {2}mode: stable\b/m);
    const root = await fetch(`http://127.0.0.1:${nginxPort}/`);
    expect(root.status).toBe(200);
    // Stable mode: no X-Mode header, and the body says stable.
    expect(root.headers.get('x-mode')).toBeNull();
    expect(((await root.json()) as { mode: string }).mode).toBe('stable');
    // Every delivery was recorded, none carries the URL's path or a secret.
    const ledger = readFileSync(path.join(project.dir, 'history.jsonl'), 'utf8');
    expect(all.filter((r) => r.payload.action === 'notify' && r.payload.stage === 'delivered').length).toBeGreaterThanOrEqual(3);
    for (const secret of [WEBHOOK_SECRET, APPROVAL_SECRET, '/hook', new URL(proposed().url).searchParams.get('t')!]) expect(ledger).not.toContain(secret);

    const audit = await cli(['audit']);
    expect(audit.exitCode, audit.stderr).toBe(0);
    const report = readFileSync(path.join(project.dir, 'audit_report.md'), 'utf8');
    expect(report).toContain('## Guard incidents');
    expect(report).toMatch(/\| enforce \| [^|]*(?:canary\/error\\_rate\\_too\\_high|status\/stack\\_unobservable)[^|]*\| [^|]*after deploy by ops@example\.com[^|]*\| rollback [^|]*\| alice@example\.com \| [0-9ms]+ \| ok[^|]*\| [0-9ms]+ \|/);
    expect(report).toContain('## Approvals');
    expect(report).toMatch(/\| rollback: [^|]*\| ops@example\.com \| alice@example\.com \(link\) \| [0-9ms]+ \| approved; used [0-9ms]+ after approval \|/);

    function proposed() {
      return received.find((r) => r.body.event === 'guard_proposed')!.body.links!.find((l) => l.approver === ALICE)!;
    }
  });
});
