/**
 * The gate over HTTP, writing to a real history.jsonl in a temp dir: decisions from a real
 * `opa run --server` loaded with policies/; an engine that is down or failing from a closed port or
 * the fault stub.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/errors.js';
import { createRecorder, readRecords } from '../../src/history/ledger.js';
import type { EventPayload, HistoryRecord, Recorder } from '../../src/history/types.js';
import { OpaClient } from '../../src/policy/client.js';
import { PolicyDecisionDenied, PolicyEngineUnavailable } from '../../src/policy/errors.js';
import { gate, type GateContext, type GateRequest } from '../../src/policy/gate.js';
import { requireOpa } from '../helpers/engines.js';
import { errorBody, startFaultStub } from '../helpers/opa-fault-stub.js';
import { deadOpaUrl, opaForSuite } from '../helpers/opa.js';
import { healthyHost, infraThresholds } from '../unit/policy.cases.js';

const engine = requireOpa();

let dir: string;
let history: string;
let warnings: string[];

const healthy: GateRequest = { domain: 'infrastructure', question: 'pre_deploy', facts: healthyHost, thresholds: infraThresholds, mode: 'enforce' };
const sick: GateRequest = { ...healthy, facts: { ...healthyHost, disk_free_gb: 2, memory_available_mb: 100 } };

function ctx(client: OpaClient, overrides: Partial<GateContext> = {}): GateContext {
  return {
    client, recorder: createRecorder(history, { warn: () => {} }), policyVersion: 'sha256:test', manifestSha256: 'm1',
    actor: 'alice@laptop', action: 'deploy', warn: (line) => warnings.push(line), ...overrides,
  };
}

async function records(): Promise<HistoryRecord[]> {
  const out: HistoryRecord[] = [];
  try {
    for await (const item of readRecords(history, { warn: () => {} })) out.push(item.record);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'swiftdeploy-gate-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async (t) => {
  history = path.join(dir, `${t.task.id}.jsonl`);
  warnings = [];
});

describe.skipIf(!engine.path)(`policy gate against real OPA: enforce and shadow${engine.skipNote}`, () => {
  const real = opaForSuite();

  it('enforce + allow: records the decision and lets the action proceed', async () => {
    const record = await gate(healthy, ctx(real.client));
    expect(record).toMatchObject({ allowed: true, enforcement: 'enforce', policy_version: 'sha256:test' });
    const [r, ...rest] = await records();
    expect(rest).toEqual([]);
    expect(r).toMatchObject({ kind: 'event', actor: 'alice@laptop', policy_version: 'sha256:test', manifest_sha256: 'm1' });
    expect(r!.payload).toMatchObject({ action: 'deploy', stage: 'policy_decided', decision: { allowed: true, enforcement: 'enforce' } });
    expect(warnings).toEqual([]);
  });

  it('enforce + deny: records the denial, then stops the action with exit 3', async () => {
    const err = await gate(sick, ctx(real.client)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyDecisionDenied);
    expect((err as PolicyDecisionDenied).exitCode).toBe(EXIT.POLICY_DENIED);
    expect((err as PolicyDecisionDenied).decision.violations.map((v) => v.id)).toEqual(['disk_free_too_low', 'memory_available_too_low']);
    expect((err as Error).message).toBe(
      'policy/infrastructure denied pre_deploy: disk free 2 GB is below the minimum 10 GB; available memory 100 MB is below the minimum 512 MB',
    );
    const [r] = await records();
    expect((r!.payload as EventPayload).decision).toMatchObject({ allowed: false, enforcement: 'enforce' });
  });

  it('shadow + deny: prints [SHADOW] would have blocked, records actor shadow, and proceeds', async () => {
    const record = await gate({ ...sick, mode: 'shadow' }, ctx(real.client));
    expect(record).toMatchObject({ allowed: false, enforcement: 'shadow', would_have_blocked: ['disk_free_too_low', 'memory_available_too_low'] });
    expect(warnings).toEqual(['[SHADOW] would have blocked: disk_free_too_low, memory_available_too_low']);
    const [r] = await records();
    expect(r!.actor).toBe('shadow');
    expect(r!.payload).toMatchObject({ operator: 'alice@laptop', decision: { enforcement: 'shadow' } });
  });

  it('shadow + allow: records quietly', async () => {
    await gate({ ...healthy, mode: 'shadow' }, ctx(real.client));
    expect(warnings).toEqual([]);
    expect((await records())[0]!.actor).toBe('shadow');
  });

  it('does not let an allowed action proceed when the decision cannot be recorded', async () => {
    const broken: Recorder = { append: async () => { throw new Error('disk full'); } };
    await expect(gate(healthy, ctx(real.client, { recorder: broken }))).rejects.toThrow('disk full');
  });

  it('writes a ledger line that is valid JSON with the decision in it', async () => {
    await gate(healthy, ctx(real.client));
    const text = await readFile(history, 'utf8');
    expect(text.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(text).payload.decision.domain).toBe('infrastructure');
  });
});

describe('policy gate: engine unavailable (never an allow)', () => {
  it('enforce + engine down: records the failure and stops with exit 4, never an allow', async () => {
    const down = new OpaClient({ url: await deadOpaUrl() });
    const err = await gate(healthy, ctx(down)).catch((e: unknown) => e);
    await down.close();
    expect(err).toBeInstanceOf(PolicyEngineUnavailable);
    expect((err as PolicyEngineUnavailable).exitCode).toBe(EXIT.POLICY_UNAVAILABLE);
    const [r] = await records();
    expect(r!.payload).toMatchObject({ stage: 'failed', policy_unavailable: { failure: 'refused', enforcement: 'enforce' } });
    expect((r!.payload as EventPayload).decision).toBeUndefined();
  });

  it('shadow + engine down: says so loudly, records it, and proceeds', async () => {
    const failing = await startFaultStub({ data: { status: 500, body: errorBody('internal_error', 'canned by the test') } });
    const broken = new OpaClient({ url: failing.url });
    const record = await gate({ ...healthy, mode: 'shadow' }, ctx(broken)).finally(async () => {
      await broken.close();
      await failing.close();
    });
    expect(record).toBeNull();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^\[SHADOW\] policy engine unavailable, not enforced: policy\/infrastructure: OPA answered HTTP 500/);
    const [r] = await records();
    expect(r).toMatchObject({ actor: 'shadow', payload: { stage: 'policy_decided', policy_unavailable: { failure: 'http_status' } } });
  });
});
