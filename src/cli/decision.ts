import type { Decision } from '../policy/types.js';
import type { Paint } from './paint.js';

/**
 * The one decision printer: `[PASS] policy/<domain> (<question>): <reason>`, `[FAIL]` for a deny
 * that is obeyed, `[SHADOW]` for one that is only recorded, then one line per violation with
 * observed vs threshold. Used by deploy/promote's decision events, `policy check` and `status`.
 */
export function decisionLines(decision: Decision, shadow: boolean, paint: Paint): string[] {
  const tag = decision.allowed ? paint.ok('[PASS]') : shadow ? paint.warn('[SHADOW]') : paint.bad('[FAIL]');
  return [
    `${tag} policy/${decision.domain} (${decision.question}): ${decision.reason}`,
    ...decision.violations.map((v) => `       - ${v.id}: ${v.message} (observed ${show(v.observed)}, threshold ${show(v.threshold)})`),
  ];
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}
