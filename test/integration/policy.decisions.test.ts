/**
 * The decisions policies/*.rego give, input by input: every case in test/unit/policy.cases.ts sent to
 * a real `opa run --server` loaded with policies/, the whole decision document checked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireOpa } from '../helpers/engines.js';
import { startOpa, type OpaServer } from '../helpers/opa.js';
import { policyCases } from '../unit/policy.cases.js';

const engine = requireOpa();

interface DecisionDocument {
  domain: string;
  question: unknown;
  allowed: boolean;
  reason: string;
  violations: Array<{ id: string; message: string; observed: unknown; threshold: unknown }>;
  observed: unknown;
  outcome?: unknown;
}

describe.skipIf(!engine.path)(`policy decisions under real OPA${engine.skipNote}`, () => {
  let opa: OpaServer;
  beforeAll(async () => {
    opa = await startOpa();
  });
  afterAll(async () => {
    await opa?.close();
  });

  it.each(policyCases)('$domain: $name', async ({ domain, input, expect: want }) => {
    const res = await fetch(`${opa.url}/v1/data/swiftdeploy/${domain}/decision`, { method: 'POST', body: JSON.stringify({ input }) });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { result?: DecisionDocument; warning?: unknown };
    expect(answer.warning).toBeUndefined();
    const d = answer.result!;
    const keys = ['allowed', 'domain', 'observed', 'question', 'reason', 'violations'];
    // Only the step question carries an outcome, and there it always does.
    expect(Object.keys(d).sort()).toEqual(want.outcome === undefined ? keys : [...keys.slice(0, 3), 'outcome', ...keys.slice(3)]);
    const given = input as { question?: unknown; facts?: unknown };
    expect(d.domain).toBe(domain);
    expect(d.question).toEqual(given.question ?? null);
    expect(d.observed).toEqual(typeof given.facts === 'object' && given.facts !== null ? given.facts : {});
    expect(d.allowed).toBe(want.allowed);
    expect(d.violations.map((v) => v.id)).toEqual(want.ids);
    if (want.messages) expect(d.violations.map((v) => v.message)).toEqual(want.messages);
    if (want.reason) expect(d.reason).toBe(want.reason);
    if (want.outcome) expect(d.outcome).toBe(want.outcome);
    if (!want.allowed) expect(d.reason).toBe(d.violations.map((v) => v.message).join('; '));
  });
});
