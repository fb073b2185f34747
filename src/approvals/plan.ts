/**
 * The plan hash: what an approval approves. sha256 over the canonical JSON of the plan, the
 * manifest's sha256 and the stack's state (the rollout file, and the last change in the ledger), so
 * an approval is void when any of them changed between the request and its use.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { sha256Hex } from '../manifest/load.js';
import { rolloutFileIn } from '../lifecycle/rollout-store.js';
import { canonicalJson } from '../util/canonical-json.js';
import { readLedgerView, type LedgerView } from './store.js';
import type { Plan } from './types.js';

/** Where a plan's inputs are read from (a Session has all three). */
export interface ProjectRef {
  manifestFile: string;
  historyFile: string;
  stateDir: string;
}

export interface StackState {
  rollout: string | null;
  last_change: string | null;
}

export function planHash(plan: Plan, manifestSha256: string, stack: StackState): string {
  return createHash('sha256').update(canonicalJson({ plan, manifest_sha256: manifestSha256, stack })).digest('hex');
}

async function readOrNull(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Which rollout the state file describes (its id), not where it is: null without one, the raw text if unreadable. */
function rolloutIdentity(text: string | null): string | null {
  if (text === null) return null;
  try {
    const parsed = JSON.parse(text) as { id?: unknown };
    return typeof parsed.id === 'string' ? `rollout ${parsed.id}` : text;
  } catch {
    return text;
  }
}

/**
 * The plan hash now (recomputed at every use). `view` saves a second pass over the ledger.
 *
 * Stepping back (rollback, abort) is judged against less of the stack than stepping forward: a
 * progressive rollout records a change at every step, and an approved "abort rollout X" (the guard's
 * proposal during a failing canary) must stay valid while X moves on, or it would be voided before a
 * human could tap. So for rollback and abort the stack state is the manifest and WHICH rollout runs
 * (its id): an approval is still void when the manifest changed or another rollout started.
 */
export async function currentPlanHash(ref: ProjectRef, plan: Plan, view?: LedgerView): Promise<string> {
  const back = plan.action === 'rollback' || plan.action === 'abort';
  const [manifest, rollout, ledger] = await Promise.all([
    readFile(ref.manifestFile, 'utf8'),
    readOrNull(rolloutFileIn(ref.stateDir)),
    back ? undefined : (view ?? readLedgerView(ref.historyFile)),
  ]);
  if (back) return planHash(plan, sha256Hex(manifest), { rollout: rolloutIdentity(rollout), last_change: null });
  return planHash(plan, sha256Hex(manifest), { rollout, last_change: ledger!.lastChange });
}

/** The CLI arguments that run `plan` (after the global options): what `serve` executes. */
export function planArgv(plan: Plan): string[] {
  const a = plan.args;
  const reason = typeof a.reason === 'string' ? ['--reason', a.reason] : [];
  switch (plan.action) {
    case 'promote':
      return ['promote', String(a.mode)];
    case 'rollback':
    case 'abort':
      return [plan.action, ...reason];
    case 'resume':
      return ['resume'];
    case 'teardown':
      return ['teardown', ...(a.clean === true ? ['--clean'] : [])];
  }
}
