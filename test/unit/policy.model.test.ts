import { describe, expect, it } from 'vitest';
// The double's reference model of the Rego; see test/helpers/opa-double.mjs.
import { decideCanary, decideInfrastructure, formatRegoNumber } from '../helpers/opa-double.mjs';
import { policyCases } from './policy.cases.js';

describe('OPA double: reference model of policies/*.rego', () => {
  it.each(policyCases)('$domain: $name', ({ domain, input, expect: want }) => {
    const d = domain === 'infrastructure' ? decideInfrastructure(input) : decideCanary(input);
    expect(d.domain).toBe(domain);
    expect(d.allowed).toBe(want.allowed);
    expect(d.violations.map((v) => v.id)).toEqual(want.ids);
    if (want.messages) expect(d.violations.map((v) => v.message)).toEqual(want.messages);
    if (want.reason) expect(d.reason).toBe(want.reason);
    if (!want.allowed) expect(d.reason).toBe(d.violations.map((v) => v.message).join('; '));
  });

  it('echoes the facts it was given as `observed`', () => {
    const facts = { disk_free_gb: 1, disk_path: '/x', sources: { disk_free_gb: 'statfs:/x' } };
    expect(decideInfrastructure({ question: 'status', facts, thresholds: {} }).observed).toEqual(facts);
  });

  it('formats numbers as Go formats float64 with %v (shortest %g, exponent from 1e6 and below 1e-4)', () => {
    const cases: Array<[number, string]> = [
      [1, '1'], [10, '10'], [0.5, '0.5'], [2.25, '2.25'], [0.0001, '0.0001'], [0.00001, '1e-05'],
      [123456.5, '123456.5'], [1234567.5, '1.2345675e+06'], [1e21, '1e+21'], [-0.5, '-0.5'], [4096, '4096'],
    ];
    for (const [n, text] of cases) expect(formatRegoNumber(n), String(n)).toBe(text);
  });
});
