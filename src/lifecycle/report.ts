import type { Output } from '../cli/output.js';
import type { Decision } from '../policy/types.js';

/** `[PASS] policy/infrastructure: <reason>` and one line per violation with observed vs threshold. */
export function printDecision(out: Output, decision: Decision, shadow = false): void {
  const { c } = out;
  const tag = decision.allowed ? c.green('[PASS]') : shadow ? c.yellow('[SHADOW]') : c.red('[FAIL]');
  out.info(`${tag} policy/${decision.domain} (${decision.question}): ${decision.reason}`);
  for (const v of decision.violations) {
    out.info(`       - ${v.id}: ${v.message} (observed ${fmt(v.observed)}, threshold ${fmt(v.threshold)})`);
  }
}

function fmt(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}
