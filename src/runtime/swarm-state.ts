/**
 * What Swarm says about a stack, parsed, and the pure judgement of whether a deploy has converged:
 * every service at its desired replicas, and every service whose task spec changed has finished a
 * rolling update that started after the deploy (completed), or has ended it otherwise
 * (rollback_completed, paused, rollback_paused), which is a failure the caller reports as such.
 */
import { RuntimeError } from '../errors.js';
import { isPlainObject } from '../util/is-plain-object.js';
import { parseJsonListing } from './ps.js';

/** Swarm's UpdateStatus.State values. */
export type UpdateState = 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';

export interface UpdateStatus {
  state: UpdateState;
  startedAt: string;
  message: string;
}

/** One service as `docker service inspect` shows it. */
export interface InspectedService {
  /** The swarm service name, `<stack>_<service>`. */
  name: string;
  /** The task template as canonical text: changes exactly when a deploy makes Swarm replace tasks. */
  taskTemplate: string;
  update: UpdateStatus | undefined;
}

/** Running and desired tasks per service, from `docker service ls`. */
export type Replicas = Map<string, { running: number; desired: number }>;

export function parseServiceList(text: string): Replicas {
  const out: Replicas = new Map();
  for (const row of parseJsonListing(text, 'docker service ls')) {
    const name = String(row.Name ?? '');
    // "2/3", or "2/3 (max 1 per node)"; a global service says the same.
    const m = /^(\d+)\/(\d+)/.exec(String(row.Replicas ?? ''));
    if (name === '' || !m) throw new RuntimeError(`docker service ls: unexpected row ${JSON.stringify(row).slice(0, 200)}`);
    out.set(name, { running: Number(m[1]), desired: Number(m[2]) });
  }
  return out;
}

const UPDATE_STATES: readonly string[] = ['updating', 'paused', 'completed', 'rollback_started', 'rollback_paused', 'rollback_completed'];

export function parseServiceInspect(text: string): InspectedService[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new RuntimeError(`could not parse docker service inspect output as JSON: ${text.slice(0, 200)}`);
  }
  if (!Array.isArray(parsed)) throw new RuntimeError('docker service inspect output is not a JSON array');
  return parsed.map((s: unknown) => {
    if (!isPlainObject(s) || !isPlainObject(s.Spec)) throw new RuntimeError('docker service inspect: an entry without Spec');
    const name = String(s.Spec.Name ?? '');
    const u = s.UpdateStatus;
    let update: UpdateStatus | undefined;
    if (isPlainObject(u) && typeof u.State === 'string' && UPDATE_STATES.includes(u.State)) {
      update = { state: u.State as UpdateState, startedAt: String(u.StartedAt ?? ''), message: String(u.Message ?? '') };
    }
    return { name, taskTemplate: JSON.stringify(s.Spec.TaskTemplate ?? null), update };
  });
}

export type Convergence =
  | { state: 'converging'; detail: string }
  | { state: 'converged'; detail: string }
  | { state: 'failed'; service: string; outcome: UpdateState; message: string; detail: string };

/**
 * Judge one observation after a deploy. `before` is each service as it was before the deploy
 * (absent for a new one); `after` its spec right after. A service whose task template changed must
 * show an update that started after the deploy: an old UpdateStatus (a rollback from last week)
 * says nothing about this one.
 */
export function judgeConvergence(before: readonly InspectedService[], after: readonly InspectedService[], now: readonly InspectedService[], replicas: Replicas): Convergence {
  const was = new Map(before.map((s) => [s.name, s]));
  const spec = new Map(after.map((s) => [s.name, s]));
  const parts: string[] = [];
  let pending = false;
  for (const s of now) {
    const r = replicas.get(s.name);
    const counts = r ? `${r.running}/${r.desired}` : '?';
    const prior = was.get(s.name);
    const changed = prior !== undefined && prior.taskTemplate !== (spec.get(s.name)?.taskTemplate ?? s.taskTemplate);
    const fresh = s.update !== undefined && s.update.startedAt !== prior?.update?.startedAt;
    if (changed && fresh) {
      const state = s.update!.state;
      parts.push(`${s.name} ${counts} ${state}`);
      if (state === 'rollback_completed' || state === 'paused' || state === 'rollback_paused') {
        return { state: 'failed', service: s.name, outcome: state, message: s.update!.message, detail: parts.join(', ') };
      }
      if (state !== 'completed') pending = true;
    } else if (changed) {
      parts.push(`${s.name} ${counts} update not started`);
      pending = true;
    } else {
      parts.push(`${s.name} ${counts}`);
    }
    if (!r || r.running !== r.desired) pending = true;
  }
  if (now.length === 0) return { state: 'converging', detail: 'no services yet' };
  const detail = parts.join(', ');
  return pending ? { state: 'converging', detail } : { state: 'converged', detail };
}
