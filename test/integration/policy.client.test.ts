import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/errors.js';
import { OpaClient, waitReady } from '../../src/policy/client.js';
import { PolicyEngineUnavailable, type EngineFailure } from '../../src/policy/errors.js';
import type { PolicyDomain } from '../../src/policy/types.js';
import { startOpaDouble } from '../helpers/opa-double.mjs';
import { canaryThresholds, healthyCanary, healthyHost, infraThresholds } from '../unit/policy.cases.js';
import { NO_OPA_REASON, closedPort, opaBinary, policiesDir, startRealOpa } from './policy.backends.js';

async function failureOf(promise: Promise<unknown>): Promise<PolicyEngineUnavailable> {
  const err = await promise.then(
    () => {
      throw new Error('expected the client to fail closed');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PolicyEngineUnavailable);
  expect((err as PolicyEngineUnavailable).exitCode).toBe(EXIT.POLICY_UNAVAILABLE);
  return err as PolicyEngineUnavailable;
}

/**
 * The same assertions for every backend: what swiftdeploy relies on from any OPA serving
 * policies/, be it the double or `opa run --server`.
 */
const backends = [
  { name: 'OPA double', skip: false, start: async () => startOpaDouble(), startEmpty: async () => startOpaDouble({ undefinedDecision: true }) },
  { name: `real opa${opaBinary ? '' : ` (skipped: ${NO_OPA_REASON})`}`, skip: !opaBinary,
    start: async () => startRealOpa([policiesDir]), startEmpty: async () => startRealOpa([]) },
];

for (const backend of backends) {
  describe.skipIf(backend.skip)(`OPA REST contract and client: ${backend.name}`, () => {
    let server: { url: string; close: () => Promise<void> };
    let client: OpaClient;
    beforeAll(async () => {
      server = await backend.start();
      client = new OpaClient({ url: server.url });
    });
    afterAll(async () => {
      await client?.close();
      await server?.close();
    });

    it('is healthy and waitReady returns at once', async () => {
      expect(await client.health()).toEqual({ ok: true, detail: 'healthy' });
      await waitReady(client, { timeoutMs: 1_000 });
    });

    it.each([
      ['infrastructure', { question: 'pre_deploy', facts: healthyHost, thresholds: infraThresholds }],
      ['canary', { question: 'pre_promote', facts: healthyCanary, thresholds: canaryThresholds }],
    ] as const)('allows a healthy %s input', async (domain, input) => {
      const d = await client.decide(domain as PolicyDomain, input);
      expect(d).toMatchObject({ domain, allowed: true, violations: [] });
    });

    it('returns a deny as a decision with ids, observed and threshold', async () => {
      const d = await client.decide('infrastructure', {
        question: 'pre_deploy', facts: { ...healthyHost, disk_free_gb: 3, cpu_load_per_core: null }, thresholds: infraThresholds,
      });
      expect(d.allowed).toBe(false);
      expect(d.violations).toEqual([
        { id: 'disk_free_too_low', message: 'disk free 3 GB is below the minimum 10 GB', observed: 3, threshold: 10 },
        { id: 'facts_unavailable', message: 'cpu_load_per_core could not be measured', observed: null, threshold: 2 },
      ]);
      expect(d.reason).toBe('disk free 3 GB is below the minimum 10 GB; cpu_load_per_core could not be measured');
    });

    it('answers {} for an undefined document', async () => {
      const res = await fetch(`${server.url}/v1/data/swiftdeploy/nonexistent`, { method: 'POST', body: '{"input":{}}' });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({});
    });

    it('warns api_usage_warning when input is missing, and the client refuses such an answer', async () => {
      const res = await fetch(`${server.url}/v1/data/swiftdeploy/canary/decision`, { method: 'POST', body: '{}' });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { warning?: { code: string } };
      expect(body.warning?.code).toBe('api_usage_warning');
    });

    it('answers 400 invalid_parameter to a body that is not JSON', async () => {
      const res = await fetch(`${server.url}/v1/data/swiftdeploy/canary/decision`, { method: 'POST', body: '{"input":' });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe('invalid_parameter');
    });

    it('fails closed with undefined_decision when the policies are not loaded', async () => {
      const empty = await backend.startEmpty();
      const c = new OpaClient({ url: empty.url });
      try {
        const err = await failureOf(c.decide('canary', { question: 'pre_promote', facts: healthyCanary, thresholds: canaryThresholds }));
        expect(err.failure).toBe('undefined_decision');
      } finally {
        await c.close();
        await empty.close();
      }
    });
  });
}

describe('OPA client failure modes (against the double)', () => {
  let double: Awaited<ReturnType<typeof startOpaDouble>>;
  let client: OpaClient;
  const input = { question: 'pre_promote', facts: healthyCanary, thresholds: canaryThresholds };
  beforeAll(async () => {
    double = await startOpaDouble();
    client = new OpaClient({ url: double.url, timeoutMs: 200 });
  });
  afterAll(async () => {
    await client.close();
    await double.close();
  });

  it('reuses one keep-alive connection across decisions', async () => {
    double.reset();
    const before = double.stats.connections;
    for (let i = 0; i < 20; i += 1) await client.decide('canary', input);
    // One connection normally; once, on a machine at load average 13, a second one appeared (cause not
    // found). Without keep-alive this is 20, so <= 2 still proves reuse.
    expect(double.stats.connections - before).toBeGreaterThanOrEqual(1);
    expect(double.stats.connections - before).toBeLessThanOrEqual(2);
  });

  it('sends exactly {"input": ...} to /v1/data/swiftdeploy/<domain>/decision', async () => {
    double.reset();
    await client.decide('canary', input);
    expect(double.lastInput()).toEqual(input);
    expect(client.decisionUrl('infrastructure')).toBe(`${double.url}/v1/data/swiftdeploy/infrastructure/decision`);
  });

  it('times out a slow answer at the deadline, not when the answer finally comes', async () => {
    double.set({ delayMs: 1_000 });
    const started = Date.now();
    const err = await failureOf(client.decide('canary', input));
    const elapsed = Date.now() - started;
    double.reset();
    expect(err.failure).toBe('timeout');
    expect(err.message).toMatch(/no answer within 200 ms/);
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(800);
  });

  it.each<[string, Parameters<typeof double.set>[0], EngineFailure, RegExp]>([
    ['HTTP 500', { status: 500 }, 'http_status', /HTTP 500: internal_error/],
    ['HTTP 503', { status: 503 }, 'http_status', /HTTP 503/],
    ['invalid JSON', { rawBody: '{"result": ' }, 'invalid_json', /not valid JSON/],
    ['undefined decision', { undefinedDecision: true }, 'undefined_decision', /undefined/],
    ['api_usage_warning', { forceWarning: true }, 'api_usage_warning', /api_usage_warning/],
    ['decision without allowed', { transform: (d) => ({ ...d, allowed: undefined }) }, 'malformed_decision', /`allowed`/],
    ['decision without reason', { transform: (d) => ({ ...d, reason: null }) }, 'malformed_decision', /`reason`/],
    ['bare boolean decision', { transform: () => true }, 'malformed_decision', /not a document/],
  ])('fails closed on %s', async (_name, behaviour, failure, message) => {
    double.reset();
    double.set(behaviour);
    const err = await failureOf(client.decide('canary', input));
    double.reset();
    expect(err.failure).toBe(failure);
    expect(err.message).toMatch(message);
  });

  it('fails closed with "connection refused" when nothing listens', async () => {
    const c = new OpaClient({ url: `http://127.0.0.1:${await closedPort()}` });
    const err = await failureOf(c.decide('canary', input));
    await c.close();
    expect(err.failure).toBe('refused');
    expect(err.message).toMatch(/connection refused \(is OPA running\?\)/);
  });
});

describe('waitReady', () => {
  it('polls /health until healthy, reporting each unhealthy probe', async () => {
    const double = await startOpaDouble({ healthStatus: 500 });
    const client = new OpaClient({ url: double.url });
    const progress: string[] = [];
    const flip = setTimeout(() => double.set({ healthStatus: 200 }), 300);
    try {
      await waitReady(client, { timeoutMs: 5_000, intervalMs: 50, onProgress: (p) => progress.push(p.detail) });
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect(progress[0]).toBe('HTTP 500');
      expect(double.stats.healthRequests).toBe(progress.length + 1);
    } finally {
      clearTimeout(flip);
      await client.close();
      await double.close();
    }
  });

  it('gives up after its bound with not_ready and the last reason', async () => {
    const client = new OpaClient({ url: `http://127.0.0.1:${await closedPort()}`, timeoutMs: 200 });
    const started = Date.now();
    const err = await failureOf(waitReady(client, { timeoutMs: 400, intervalMs: 50 }));
    await client.close();
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(err.failure).toBe('not_ready');
    expect(err.message).toMatch(/not ready after \d+ probes in \d+ ms: .*connection refused/);
  });
});

describe('OpaClient configuration', () => {
  it.each(['not a url', 'ftp://opa:8181', 'http://opa:8181/?x=1'])('rejects opa.url %j as a usage error', (url) => {
    expect(() => new OpaClient({ url })).toThrow(/opa\.url/);
    try {
      new OpaClient({ url });
    } catch (err) {
      expect((err as { exitCode: number }).exitCode).toBe(EXIT.USAGE);
    }
  });

  it('strips a trailing slash and keeps a path prefix (OPA behind a reverse proxy)', async () => {
    const c = new OpaClient({ url: 'http://opa.internal:8181/opa/' });
    expect(c.decisionUrl('canary')).toBe('http://opa.internal:8181/opa/v1/data/swiftdeploy/canary/decision');
    await c.close();
  });

  it('rejects a non-positive timeout', () => {
    expect(() => new OpaClient({ url: 'http://127.0.0.1:1', timeoutMs: 0 })).toThrow(/timeout_ms/);
  });
});
