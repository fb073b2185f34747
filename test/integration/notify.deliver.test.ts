/**
 * Webhook deliveries against real HTTP receivers on 127.0.0.1, recorded in a real ledger: the
 * signature a receiver checks, retries (5xx, 429, network) inside the budget, no retry on 4xx, a dead
 * receiver ending within its budget, the events filter, unset environment variables, and nothing
 * secret in history.jsonl.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRecorder } from '../../src/history/ledger.js';
import type { WebhookConfig } from '../../src/manifest/schema.js';
import { WebhookNotifier } from '../../src/notify/notifier.js';
import { verifySignature } from '../../src/notify/sign.js';
import type { Notice } from '../../src/notify/types.js';
import { freePort } from '../helpers/opa.js';
import { readEventRecords } from '../helpers/history.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';

const SECRET = 'whsec_5f1c0ffee-do-not-log';
const ENV = { SD_HOOK_SECRET: SECRET };
/** Slack for timers and socket teardown on a shared, busy machine. */
const SLACK_MS = 400;

let dir: string;
let history: string;
const receivers: Receiver[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sd-notify-'));
  history = path.join(dir, 'history.jsonl');
});
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
  await rm(dir, { recursive: true, force: true });
});

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

function webhook(url: string, extra: Partial<WebhookConfig> = {}): WebhookConfig {
  return { url, format: 'generic', secret_env: 'SD_HOOK_SECRET', budget_seconds: 3, ...extra };
}

function notifier(webhooks: WebhookConfig[], env: NodeJS.ProcessEnv = ENV): WebhookNotifier {
  const recorder = createRecorder(history);
  return new WebhookNotifier(webhooks, {
    project: 'shop-api',
    commit: 'a1b2c3d4e5f6',
    historyFile: history,
    env,
    // Short backoffs keep the suite quick; the retry logic is the same.
    delivery: { baseBackoffMs: 50, maxBackoffMs: 200 },
    record: (stage, delivery) =>
      recorder.append({ kind: 'event', actor: 'ops@example.com', policy_version: null, manifest_sha256: null, payload: { action: 'notify', stage, notify: delivery } }),
    warn: (line) => {
      throw new Error(`unexpected warning: ${line}`);
    },
  });
}

const deny: Notice = { event: 'deny', summary: 'promote canary denied by the canary policy: error_rate_too_high', actor: 'ops@example.com' };

/** The README's ten-line receiver-side verifier, verbatim in spirit: parse, refuse stale, HMAC, timing-safe compare. */
function readmeVerifier(header: string, rawBody: string, secret: string, nowSeconds = Date.now() / 1000): boolean {
  const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

describe('a delivery', () => {
  it('is signed: the receiver verifies the signature over the raw body; a tampered body or an old timestamp fails', async () => {
    const r = await receiver();
    const n = notifier([webhook(`${r.url}/hooks/sd`)]);
    n.send(deny);
    await n.settle();
    expect(r.received).toHaveLength(1);
    const { headers, body, path: reqPath } = r.received[0]!;
    expect(reqPath).toBe('/hooks/sd');
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-swiftdeploy-event']).toBe('deny');
    const sig = headers['x-swiftdeploy-signature'] as string;
    expect(sig).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(readmeVerifier(sig, body, SECRET)).toBe(true);
    expect(verifySignature(sig, body, SECRET).ok).toBe(true);
    expect(readmeVerifier(sig, body.replace('error_rate_too_high', 'all fine'), SECRET)).toBe(false);
    expect(verifySignature(sig, body.replace('error_rate_too_high', 'all fine'), SECRET)).toEqual({ ok: false, reason: 'mismatch' });
    // Replayed ten minutes later: refused.
    expect(verifySignature(sig, body, SECRET, { now: Date.now() + 600_000 })).toEqual({ ok: false, reason: 'stale' });
    expect(readmeVerifier(sig, body, SECRET, Date.now() / 1000 + 600)).toBe(false);
    expect(JSON.parse(body)).toMatchObject({ event: 'deny', project: 'shop-api', actor: 'ops@example.com', commit: 'a1b2c3d4e5f6' });
  });

  it('a flaky receiver (503, 503, 200): three attempts, each freshly signed, one `delivered` record', async () => {
    const r = await receiver([503, 503, 200]);
    const n = notifier([webhook(r.url)]);
    n.send(deny);
    await n.settle();
    expect(r.received).toHaveLength(3);
    for (const req of r.received) expect(verifySignature(req.headers['x-swiftdeploy-signature'] as string, req.body, SECRET).ok).toBe(true);
    // The same delivery id on every attempt: a receiver can drop a duplicate.
    expect(new Set(r.received.map((q) => q.headers['x-swiftdeploy-delivery'])).size).toBe(1);
    const records = await readEventRecords(history);
    expect(records).toHaveLength(1);
    expect(records[0]!.payload).toMatchObject({ action: 'notify', stage: 'delivered', notify: { event: 'deny', attempts: 3, status: 200, webhook: { index: 0, origin: r.url, format: 'generic' } } });
    expect(records[0]!.payload.notify).not.toHaveProperty('error');
  });

  it('a 4xx other than 429 is not retried: one attempt, `undelivered`, HTTP 404', async () => {
    const r = await receiver([404]);
    const n = notifier([webhook(r.url)]);
    n.send(deny);
    await n.settle();
    expect(r.received).toHaveLength(1);
    const [rec] = await readEventRecords(history);
    expect(rec!.payload).toMatchObject({ stage: 'undelivered', notify: { attempts: 1, status: 404, error: 'HTTP 404' } });
  });

  it('429 with a Retry-After that fits the budget waits that long, then succeeds; one past the budget ends at once', async () => {
    const r = await receiver([{ status: 429, headers: { 'retry-after': '1' } }, 200]);
    const n = notifier([webhook(r.url)]);
    n.send(deny);
    await n.settle();
    expect(r.received).toHaveLength(2);
    expect(r.received[1]!.at - r.received[0]!.at).toBeGreaterThanOrEqual(950);
    const r2 = await receiver([{ status: 429, headers: { 'retry-after': '60' } }]);
    const n2 = notifier([webhook(r2.url, { budget_seconds: 2 })]);
    const started = performance.now();
    n2.send(deny);
    await n2.settle();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(r2.received).toHaveLength(1);
    const records = await readEventRecords(history);
    expect(records.map((x) => x.payload.stage)).toEqual(['delivered', 'undelivered']);
    expect(records[1]!.payload).toMatchObject({ notify: { attempts: 1, status: 429, error: 'HTTP 429, Retry-After 60 s is past the budget' } });
  });
});

describe('a dead receiver ends `undelivered` within its budget', () => {
  it('a port nobody listens on: a bounded number of retries with backoff, never beyond the budget', async () => {
    const url = `http://127.0.0.1:${await freePort()}/hook`;
    const n = notifier([webhook(url, { budget_seconds: 1 })]);
    const started = performance.now();
    n.send(deny);
    await n.settle();
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(1000 + SLACK_MS);
    const [rec] = await readEventRecords(history);
    expect(rec!.payload).toMatchObject({ stage: 'undelivered', notify: { webhook: { origin: new URL(url).origin } } });
    const notify = rec!.payload.notify as { attempts: number; error: string; elapsed_ms: number };
    expect(notify.attempts).toBeGreaterThan(1);
    expect(notify.error).toMatch(/ECONNREFUSED/);
    expect(notify.elapsed_ms).toBeLessThan(1000 + SLACK_MS);
  });

  it('a receiver that accepts and never answers: the attempt is cut at the budget', async () => {
    const r = await receiver([], 'hang');
    const n = notifier([webhook(r.url, { budget_seconds: 1 })]);
    const started = performance.now();
    n.send(deny);
    await n.settle();
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(1000 + SLACK_MS);
    expect(r.received).toHaveLength(1);
    const [rec] = await readEventRecords(history);
    expect(rec!.payload).toMatchObject({ stage: 'undelivered', notify: { attempts: 1 } });
    expect((rec!.payload.notify as { error: string }).error).toMatch(/^no answer within \d+ ms/);
  });

  it('`send` returns at once whatever the receiver does', async () => {
    const r = await receiver([], 'hang');
    const n = notifier([webhook(r.url, { budget_seconds: 1 })]);
    const started = performance.now();
    n.send(deny);
    expect(performance.now() - started).toBeLessThan(50);
    await n.settle();
  });
});

describe('which webhooks, and with what', () => {
  it('the events filter: only the webhooks listing the event (or listing none) are sent it', async () => {
    const [a, b, c] = [await receiver(), await receiver(), await receiver()];
    const n = notifier([webhook(a.url, { events: ['deny'] }), webhook(b.url, { events: ['rollback'] }), webhook(c.url)]);
    n.send(deny);
    n.send({ event: 'rollback', summary: 'rolled back', actor: 'ops@example.com' });
    await n.settle();
    expect(a.received.map((q) => q.headers['x-swiftdeploy-event'])).toEqual(['deny']);
    expect(b.received.map((q) => q.headers['x-swiftdeploy-event'])).toEqual(['rollback']);
    expect(c.received.map((q) => q.headers['x-swiftdeploy-event']).sort()).toEqual(['deny', 'rollback']);
    const records = await readEventRecords(history);
    expect(records.map((x) => `${(x.payload.notify as { event: string }).event}->${(x.payload.notify as { webhook: { index: number } }).webhook.index}`)).toEqual(['deny->0', 'deny->2', 'rollback->1', 'rollback->2']);
  });

  it("an approver's link reaches only the webhook naming that approver; a channel webhook gets the notice without any link", async () => {
    const [alice, bob, channel] = [await receiver(), await receiver(), await receiver()];
    const n = notifier([webhook(alice.url, { approver: 'alice@example.com' }), webhook(bob.url, { approver: 'bob@example.com' }), webhook(channel.url)]);
    n.send({
      event: 'approval_requested',
      summary: 'rollback requested',
      actor: 'ops@example.com',
      approval: { id: 'ap-1', action: 'rollback', plan_hash: 'c'.repeat(64), expires_at: '2026-11-30T16:00:00Z', required: 2 },
      links: [
        { label: 'Review and approve', url: 'http://127.0.0.1:8787/a/ap-1?t=alice-token', approver: 'alice@example.com' },
        { label: 'Review and approve', url: 'http://127.0.0.1:8787/a/ap-1?t=bob-token', approver: 'bob@example.com' },
      ],
    });
    await n.settle();
    const linksOf = (r: Receiver) => (JSON.parse(r.received[0]!.body) as { links: Array<{ url: string }> }).links.map((l) => l.url);
    expect(linksOf(alice)).toEqual(['http://127.0.0.1:8787/a/ap-1?t=alice-token']);
    expect(linksOf(bob)).toEqual(['http://127.0.0.1:8787/a/ap-1?t=bob-token']);
    expect(linksOf(channel)).toEqual([]);
    expect(channel.received[0]!.body).not.toContain('-token');
    expect((JSON.parse(channel.received[0]!.body) as { approval: { id: string } }).approval.id).toBe('ap-1');
  });

  it('url_env or secret_env unset: `undelivered`, naming the variable, nothing sent', async () => {
    const r = await receiver();
    const n = notifier([webhook(r.url, { secret_env: 'SD_MISSING_SECRET' }), { format: 'slack', url_env: 'SD_MISSING_URL', secret_env: 'SD_HOOK_SECRET', budget_seconds: 3 }]);
    n.send(deny);
    await n.settle();
    expect(r.received).toHaveLength(0);
    const records = await readEventRecords(history);
    expect(records.map((x) => x.payload.notify)).toEqual([
      expect.objectContaining({ attempts: 0, error: 'environment variable SD_MISSING_SECRET is not set', webhook: { index: 0, origin: r.url, format: 'generic' } }),
      expect.objectContaining({ attempts: 0, error: 'environment variable SD_MISSING_URL is not set', webhook: { index: 1, origin: 'unknown (url_env unset)', format: 'slack' } }),
    ]);
    expect(records.every((x) => x.payload.stage === 'undelivered')).toBe(true);
  });

  it('nothing secret reaches the ledger: not the signing key, not the URL path or query from url_env', async () => {
    const r = await receiver([503], 404);
    const secretPath = '/services/T0SECRET/B0SECRET/XyZsecretPathToken';
    const env = { ...ENV, SD_SLACK_URL: `${r.url}${secretPath}?token=qSECRETq` };
    const dead = `http://127.0.0.1:${await freePort()}/hooks/deadPathSecret?k=v1SECRET`;
    const n = notifier([{ format: 'slack', url_env: 'SD_SLACK_URL', secret_env: 'SD_HOOK_SECRET', budget_seconds: 2 }, webhook(dead, { budget_seconds: 0.5 })], env);
    n.send(deny);
    await n.settle();
    expect(r.received[0]!.path).toBe(`${secretPath}?token=qSECRETq`);
    const text = await readFile(history, 'utf8');
    expect(text).toContain(r.url);
    for (const secret of [SECRET, 'T0SECRET', 'XyZsecretPathToken', 'qSECRETq', 'deadPathSecret', 'v1SECRET']) expect(text).not.toContain(secret);
  });
});
