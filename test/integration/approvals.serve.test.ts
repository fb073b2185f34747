/**
 * One-tap approvals over real HTTP: `serve` on 127.0.0.1, the real ledger, real tokens. GET shows and
 * changes nothing; POST decides once; every refused attempt is recorded without its token.
 */
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { freePort } from '../helpers/opa.js';
import { afterEach, describe, expect, it } from 'vitest';
import { decide } from '../../src/approvals/decide.js';
import { awaitApproval } from '../../src/approvals/request.js';
import { startServe, type RunningServer, type ServeOptions } from '../../src/approvals/serve.js';
import { UsageError } from '../../src/errors.js';
import { silentSink } from '../../src/events.js';
import { Session } from '../../src/lifecycle/session.js';
import { ALICE, approvalProject, BOB, linkFor, postDecision, SECRET, SECRET_ENV, tokenOf, type ApprovalProject } from '../helpers/approvals.js';

/** An approval record's own fields (src/approvals/types.ts), under `payload.approval`. */
const approvalOf = (r: { payload: Record<string, unknown> }): Record<string, unknown> => (r.payload.approval ?? {}) as Record<string, unknown>;

let p: ApprovalProject | undefined;
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  await p?.close();
  server = undefined;
  p = undefined;
  process.env[SECRET_ENV] = SECRET;
});

async function serve(project: ApprovalProject, options: Partial<ServeOptions> = {}): Promise<RunningServer> {
  server = await startServe({ manifestPath: project.manifest, executePollMs: 0, ...options });
  return server;
}

const approvalStages = async (project: ApprovalProject) =>
  (await project.records()).filter((r) => r.payload.action === 'approval').map((r) => `${r.payload.stage}${approvalOf(r).why ? `:${String(approvalOf(r).why)}` : ''}`);

const sessionOf = (project: ApprovalProject, actor: string) => Session.open(project.manifest, { actor, events: silentSink, yes: false }, 'approval');

describe('serve: GET shows, POST decides once', () => {
  it('GET renders the plan with the token only in a hidden field, no-store, no referrer, a CSP; it records nothing, however often', async () => {
    p = await approvalProject();
    const { request, links } = await p.request();
    const s = await serve(p);
    expect(linkFor(links, ALICE).url.startsWith(`${s.url}/a/${request.id}?t=`)).toBe(true);
    const before = await p.ledgerText();
    for (let i = 0; i < 3; i++) {
      const res = await fetch(linkFor(links, ALICE).url);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
      const html = await res.text();
      expect(html).toContain('rollback (canary 5xx)');
      expect(html).toContain('value="approve"');
      expect(html.split(tokenOf(linkFor(links, ALICE))).length - 1).toBe(1);
      expect(html).toContain(`name="t" value="${tokenOf(linkFor(links, ALICE))}"`);
    }
    expect(await p.ledgerText()).toBe(before);
    expect((await fetch(`${s.url}/a/${request.id}?t=bogus`)).status).toBe(404);
    expect(await p.ledgerText()).toBe(before);
  });

  it('healthz answers; nothing else is routed (no /chaos, no proxy to the app)', async () => {
    p = await approvalProject();
    const s = await serve(p);
    expect(await (await fetch(`${s.url}/healthz`)).text()).toBe('ok\n');
    for (const route of ['/chaos', '/', '/metrics', '/a', '/a/x/y']) expect((await fetch(`${s.url}${route}`)).status).toBe(404);
    expect((await fetch(`${s.url}/chaos`, { method: 'POST', body: 'mode=error' })).status).toBe(404);
  });

  it('POST approves; the same link again is refused as replayed and recorded without the token', async () => {
    p = await approvalProject();
    const { request, links } = await p.request();
    const s = await serve(p);
    const token = tokenOf(linkFor(links, ALICE));
    const first = await postDecision(s.url, request.id, token, 'approve', 'looks right');
    expect(first.status).toBe(200);
    expect(await first.text()).toContain('approved by alice@example.com');
    const again = await postDecision(s.url, request.id, token, 'approve');
    expect(again.status).toBe(409);
    expect(await approvalStages(p)).toEqual(['requested', 'approved', 'refused:replayed']);
    const records = await p.records();
    const approved = records.find((r) => r.payload.stage === 'approved')!;
    expect(approved.actor).toBe(ALICE);
    expect(approvalOf(approved)).toMatchObject({ id: request.id, decided_by: ALICE, via: 'link', token_id: request.tokens[0]!.token_id, reason: 'looks right' });
    const session = await sessionOf(p, 'rita@example.com');
    expect(await awaitApproval(session, request.id)).toEqual({ id: request.id, outcome: 'approved', by: [ALICE] });
  });

  it('a deny ends the request at once; the other approver is then refused', async () => {
    p = await approvalProject({ required: 2 });
    const { request, links } = await p.request();
    const s = await serve(p);
    expect((await postDecision(s.url, request.id, tokenOf(linkFor(links, BOB)), 'deny', 'not today')).status).toBe(200);
    expect((await postDecision(s.url, request.id, tokenOf(linkFor(links, ALICE)), 'approve')).status).toBe(409);
    expect(await approvalStages(p)).toEqual(['requested', 'denied', 'refused:already decided']);
    expect(await awaitApproval(await sessionOf(p, 'x'), request.id)).toEqual({ id: request.id, outcome: 'denied', by: [BOB], reason: 'not today' });
  });
});

describe('serve: refused attempts', () => {
  it('forgery: a changed MAC, a made-up token, a token of another request', async () => {
    p = await approvalProject();
    const one = await p.request();
    const other = await p.request();
    const s = await serve(p);
    const token = tokenOf(linkFor(one.links, ALICE));
    const flipped = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    expect((await postDecision(s.url, one.request.id, flipped, 'approve')).status).toBe(403);
    expect((await postDecision(s.url, one.request.id, 'not-a-token', 'approve')).status).toBe(403);
    expect((await postDecision(s.url, other.request.id, token, 'approve')).status).toBe(403);
    const refused = (await p.records()).filter((r) => r.payload.stage === 'refused');
    expect(refused.map((r) => approvalOf(r).why)).toEqual(['forged', 'forged', 'forged']);
    expect(refused.every((r) => approvalOf(r).address === '127.0.0.1' || approvalOf(r).address === '::ffff:127.0.0.1')).toBe(true);
    expect((await p.records()).some((r) => r.payload.stage === 'approved')).toBe(false);
  });

  it('wrong approver: bob\'s token relabelled as alice\'s; an actor not listed, at the terminal', async () => {
    p = await approvalProject();
    const { request, links } = await p.request();
    const s = await serve(p);
    const [, nonce, mac] = tokenOf(linkFor(links, BOB)).split('.');
    const relabelled = `${Buffer.from(ALICE).toString('base64url')}.${nonce}.${mac}`;
    expect((await postDecision(s.url, request.id, relabelled, 'approve')).status).toBe(403);
    const mallory = await decide(await sessionOf(p, 'mallory@example.com'), { via: 'terminal', id: request.id, verdict: 'approve', actor: 'mallory@example.com' });
    expect(mallory).toMatchObject({ ok: false, why: 'wrong approver' });
    expect(await approvalStages(p)).toEqual(['requested', 'refused:wrong approver', 'refused:wrong approver']);
  });

  it('expiry: after expires_at a valid link is refused and the request recorded expired', async () => {
    p = await approvalProject({ expires_seconds: 60 });
    const { request, links } = await p.request();
    const s = await serve(p, { now: () => new Date(Date.now() + 61_000) });
    expect((await postDecision(s.url, request.id, tokenOf(linkFor(links, ALICE)), 'approve')).status).toBe(410);
    expect(await approvalStages(p)).toEqual(['requested', 'expired', 'refused:expired']);
  });

  it('plan changed: the manifest edited after the request voids it; the waiting requester learns so', async () => {
    p = await approvalProject();
    const { request, links } = await p.request();
    const s = await serve(p);
    await appendFile(p.manifest, '# edited after the request\n');
    expect((await postDecision(s.url, request.id, tokenOf(linkFor(links, ALICE)), 'approve')).status).toBe(409);
    expect(await approvalStages(p)).toEqual(['requested', 'voided', 'refused:plan changed']);
    expect((await awaitApproval(await sessionOf(p, 'x'), request.id)).outcome).toBe('voided');
  });

  it('rate limiting per token: past the limit 429, and one `rate limited` record per window, not one per attempt', async () => {
    p = await approvalProject();
    const { request } = await p.request();
    const s = await serve(p, { perToken: 3, perAddress: 100 });
    const forged = `${Buffer.from(ALICE).toString('base64url')}.AAAAAAAAAAAAAAAAAAAAAA.${'A'.repeat(43)}`;
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await postDecision(s.url, request.id, forged, 'approve')).status);
    expect(statuses).toEqual([403, 403, 403, 429, 429, 429, 429]);
    expect(await approvalStages(p)).toEqual(['requested', 'refused:forged', 'refused:forged', 'refused:forged', 'refused:rate limited']);
  });

  it('rate limiting per address, whatever the token', async () => {
    p = await approvalProject();
    const { request } = await p.request();
    const s = await serve(p, { perToken: 100, perAddress: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await postDecision(s.url, request.id, `x${i}`, 'approve')).status);
    expect(statuses).toEqual([403, 403, 429, 429]);
  });

  it('behind the reverse proxy (public_url set): each client is the address the proxy put last in X-Forwarded-For, so one abuser does not lock out every approver', async () => {
    p = await approvalProject({ serve: { listen: '127.0.0.1', port: await freePort(), public_url: 'https://deploy.example.com' } });
    const { request, links } = await p.request();
    const s = await serve(p, { perToken: 100, perAddress: 2 });
    const post = (token: string, forwardedFor: string) =>
      fetch(`${s.url}/a/${request.id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': forwardedFor },
        body: new URLSearchParams({ t: token, decision: 'approve', reason: '' }).toString(),
      }).then((r) => r.status);
    // The abuser claims other addresses first; the proxy appends the one it saw.
    const abuser: number[] = [];
    for (let i = 0; i < 4; i++) abuser.push(await post(`x${i}`, `10.9.9.${i}, 203.0.113.66`));
    expect(abuser).toEqual([403, 403, 429, 429]);
    // Alice, from her own address, is not locked out.
    expect(await post(tokenOf(linkFor(links, ALICE)), '198.51.100.7')).toBe(200);
    const refused = (await p.records()).filter((r) => r.payload.stage === 'refused').map((r) => approvalOf(r).address);
    expect(new Set(refused)).toEqual(new Set(['203.0.113.66']));
  });
});

describe('serve: required approvers and concurrency', () => {
  it('four eyes: an approver cannot approve their own request (by terminal or by their link); another approver can', async () => {
    p = await approvalProject();
    const { requestApproval } = await import('../../src/approvals/request.js');
    const { request, links } = await requestApproval(await sessionOf(p, ALICE), { action: 'rollback', args: { reason: 'r' }, summary: 'rollback (r)' }, { executor: 'requester' });
    expect(await decide(await sessionOf(p, ALICE), { via: 'terminal', id: request.id, verdict: 'approve', actor: ALICE })).toMatchObject({ ok: false, why: 'own request' });
    const s = await serve(p);
    expect((await postDecision(s.url, request.id, tokenOf(linkFor(links, ALICE)), 'approve')).status).toBe(403);
    expect(await decide(await sessionOf(p, BOB), { via: 'terminal', id: request.id, verdict: 'approve', actor: BOB })).toMatchObject({ ok: true, stage: 'approved' });
    const stages = (await p.records()).filter((r) => r.payload.action === 'approval').map((r) => `${r.payload.stage}${approvalOf(r).why ? `:${String(approvalOf(r).why)}` : ''}`);
    expect(stages).toEqual(['requested', 'refused:own request', 'refused:own request', 'approved']);
  });

  it('two required: one approval leaves it pending, the same approver again is refused, a distinct one completes it', async () => {
    p = await approvalProject({ required: 2 });
    const { request, links } = await p.request();
    const s = await serve(p);
    const res = await postDecision(s.url, request.id, tokenOf(linkFor(links, ALICE)), 'approve');
    expect(await res.text()).toContain('1 more approval needed');
    const session = await sessionOf(p, 'x');
    const waiting = awaitApproval(session, request.id, { pollMs: 20 });
    expect(await decide(await sessionOf(p, ALICE), { via: 'terminal', id: request.id, verdict: 'approve', actor: ALICE })).toMatchObject({ ok: false, why: 'already decided' });
    expect((await postDecision(s.url, request.id, tokenOf(linkFor(links, ALICE)), 'approve')).status).toBe(409);
    expect((await postDecision(s.url, request.id, tokenOf(linkFor(links, BOB)), 'approve')).status).toBe(200);
    expect(await waiting).toEqual({ id: request.id, outcome: 'approved', by: [ALICE, BOB] });
    expect(await approvalStages(p)).toEqual(['requested', 'approved', 'refused:already decided', 'refused:replayed', 'approved']);
  });

  it('20 parallel POSTs of one link: exactly one approved, the rest refused as replayed', async () => {
    p = await approvalProject();
    const { request, links } = await p.request();
    const s = await serve(p, { perToken: 100, perAddress: 100 });
    const token = tokenOf(linkFor(links, ALICE));
    const statuses = await Promise.all(Array.from({ length: 20 }, () => postDecision(s.url, request.id, token, 'approve').then((r) => r.status)));
    expect(statuses.filter((c) => c === 200)).toHaveLength(1);
    expect(statuses.filter((c) => c === 409)).toHaveLength(19);
    const stages = await approvalStages(p);
    expect(stages.filter((x) => x === 'approved')).toHaveLength(1);
    expect(stages.filter((x) => x === 'refused:replayed')).toHaveLength(19);
  });

  it('a terminal approve racing a link approve by two approvers with required 1: one wins, the other is refused', async () => {
    p = await approvalProject();
    const { request, links } = await p.request();
    const s = await serve(p);
    const [web, terminal] = await Promise.all([
      postDecision(s.url, request.id, tokenOf(linkFor(links, ALICE)), 'approve').then((r) => r.status),
      sessionOf(p, BOB).then((session) => decide(session, { via: 'terminal', id: request.id, verdict: 'approve', actor: BOB })),
    ]);
    expect([web === 200, terminal.ok].filter(Boolean)).toHaveLength(1);
    expect((await approvalStages(p)).filter((x) => x === 'approved')).toHaveLength(1);
  });
});

describe('serve: listening and secrets', () => {
  it('refuses a non-loopback listen address without TLS unless --insecure-listen', async () => {
    p = await approvalProject({ serve: { listen: '0.0.0.0', port: 8787 } });
    await expect(startServe({ manifestPath: p.manifest, executePollMs: 0 })).rejects.toThrow(/refusing to listen on 0\.0\.0\.0 without TLS/);
    await expect(startServe({ manifestPath: p.manifest, executePollMs: 0 })).rejects.toBeInstanceOf(UsageError);
    server = await startServe({ manifestPath: p.manifest, executePollMs: 0, insecureListen: true, port: 0 });
    expect(server.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
  });

  it('a missing secret variable is a usage error naming it', async () => {
    p = await approvalProject();
    delete process.env[SECRET_ENV];
    await expect(p.request()).rejects.toThrow(new RegExp(`approvals.secret_env names ${SECRET_ENV}, which is not set`));
    await expect(startServe({ manifestPath: p.manifest, executePollMs: 0 })).rejects.toBeInstanceOf(UsageError);
  });

  it('no token, nonce, MAC or secret reaches the ledger', async () => {
    p = await approvalProject({ required: 2 });
    const { request, links } = await p.request();
    const s = await serve(p);
    await postDecision(s.url, request.id, tokenOf(linkFor(links, ALICE)), 'approve');
    await postDecision(s.url, request.id, tokenOf(linkFor(links, ALICE)), 'approve');
    await postDecision(s.url, request.id, tokenOf(linkFor(links, BOB)), 'deny', 'no');
    const ledger = await readFile(p.history, 'utf8');
    expect(ledger).not.toContain(SECRET);
    for (const link of links) {
      for (const part of tokenOf(link).split('.').slice(1)) expect(ledger).not.toContain(part);
      expect(ledger).not.toContain(link.url);
    }
    expect(ledger).toContain(request.tokens[0]!.token_id);
  });

  it('an approver taken off the manifest list can no longer decide (and the plan changed anyway)', async () => {
    p = await approvalProject();
    const { request, links } = await p.request();
    const s = await serve(p);
    const text = await readFile(p.manifest, 'utf8');
    await writeFile(p.manifest, text.replace(`- ${BOB}`, '- carol@example.com'));
    expect((await postDecision(s.url, request.id, tokenOf(linkFor(links, BOB)), 'approve')).status).toBe(403);
    expect(await approvalStages(p)).toEqual(['requested', 'refused:wrong approver']);
  });
});
