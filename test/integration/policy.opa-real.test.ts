import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpaClient } from '../../src/policy/client.js';
import { startOpaDouble } from '../helpers/opa-double.mjs';
import { policyCases } from '../unit/policy.cases.js';
import { NO_OPA_REASON, opaBinary, policiesDir, startRealOpa } from './policy.backends.js';

/**
 * The Rego itself, and the double's faithfulness to it. Needs the real opa binary; without it
 * every test here is skipped and says why (the double's model is still checked against the same
 * expectations by test/unit/policy.model.test.ts).
 */
describe.skipIf(!opaBinary)(`policies/ under real OPA${opaBinary ? '' : ` (skipped: ${NO_OPA_REASON})`}`, () => {
  it('opa check --strict policies/ is clean', () => {
    const r = spawnSync(opaBinary!, ['check', '--strict', policiesDir], { encoding: 'utf8' });
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('opa test policies/ passes every test', () => {
    const r = spawnSync(opaBinary!, ['test', '-v', policiesDir], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/PASS: \d+\/\d+/);
  });

  describe('differential: the double and opa give identical decisions', () => {
    let real: { url: string; close: () => Promise<void> };
    let double: Awaited<ReturnType<typeof startOpaDouble>>;
    beforeAll(async () => {
      real = await startRealOpa([policiesDir]);
      double = await startOpaDouble();
    });
    afterAll(async () => {
      await real?.close();
      await double?.close();
    });

    const ask = async (url: string, domain: string, input: unknown) => {
      const res = await fetch(`${url}/v1/data/swiftdeploy/${domain}/decision`, { method: 'POST', body: JSON.stringify({ input }) });
      return { status: res.status, body: (await res.json()) as unknown };
    };

    it.each(policyCases)('$domain: $name', async ({ domain, input, expect: want }) => {
      const fromOpa = await ask(real.url, domain, input);
      const fromDouble = await ask(double.url, domain, input);
      expect(fromDouble).toEqual(fromOpa);
      const result = (fromOpa.body as { result: { allowed: boolean; violations: Array<{ id: string }> } }).result;
      expect(result.allowed).toBe(want.allowed);
      expect(result.violations.map((v) => v.id)).toEqual(want.ids);
    });

    it('the client reads real OPA decisions', async () => {
      const c = new OpaClient({ url: real.url });
      const first = policyCases[0]!;
      const d = await c.decide(first.domain, first.input as never);
      await c.close();
      expect(d.allowed).toBe(true);
    });
  });
});
