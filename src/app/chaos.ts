/**
 * Chaos: deliberate slowness or failure of ordinary requests, so a canary can be observed going bad.
 * This module is the state and the validation of requests to change it; the HTTP wiring lives in
 * server.ts. Validation is strict (unknown fields are refused) because a typo such as `"rates"` that
 * silently injected nothing would make an SRE believe the policy tolerated an error rate it never saw.
 */

/** Largest accepted `slow` delay. Keeps a chaos run shorter than a deploy's health timeout. */
export const MAX_SLOW_SECONDS = 30;

export type ChaosState =
  | { readonly mode: 'none' }
  | { readonly mode: 'slow'; readonly duration: number }
  | { readonly mode: 'error'; readonly rate: number };

export const NO_CHAOS: ChaosState = Object.freeze({ mode: 'none' });

/** Value of the `chaos_active` gauge; the numbering is a contract with the CLI's status view. */
export const CHAOS_GAUGE_VALUE: Readonly<Record<ChaosState['mode'], number>> = {
  none: 0,
  slow: 1,
  error: 2,
};

export type ChaosRequestResult =
  | { readonly ok: true; readonly state: ChaosState }
  | { readonly ok: false; readonly reason: string };

const ALLOWED_FIELDS: Readonly<Record<string, readonly string[]>> = {
  slow: ['mode', 'duration'],
  error: ['mode', 'rate'],
  recover: ['mode'],
};

/** Turns a parsed JSON body into the chaos state it asks for, or a one-line reason why it cannot. */
export function parseChaosRequest(body: unknown): ChaosRequestResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return fail('body must be a JSON object');
  }
  const fields = body as Record<string, unknown>;
  const mode = fields['mode'];
  if (typeof mode !== 'string' || !Object.hasOwn(ALLOWED_FIELDS, mode)) {
    return fail('mode: expected "slow", "error" or "recover"');
  }
  const allowed = ALLOWED_FIELDS[mode] ?? [];
  const unknown = Object.keys(fields).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    return fail(`unexpected field for mode "${mode}": ${unknown.map((k) => JSON.stringify(k)).join(', ')}`);
  }

  if (mode === 'recover') return { ok: true, state: NO_CHAOS };

  if (mode === 'slow') {
    const duration = fields['duration'];
    // JSON has no Infinity/NaN literal, but 1e999 parses to Infinity: hence isFinite, not just typeof.
    if (typeof duration !== 'number' || !Number.isFinite(duration)) {
      return fail('duration: expected a finite number of seconds');
    }
    if (duration < 0 || duration > MAX_SLOW_SECONDS) {
      return fail(`duration: expected 0 to ${MAX_SLOW_SECONDS} seconds, got ${duration}`);
    }
    return { ok: true, state: { mode: 'slow', duration } };
  }

  const rate = fields['rate'];
  if (typeof rate !== 'number' || !Number.isFinite(rate)) {
    return fail('rate: expected a finite number between 0 and 1');
  }
  if (rate < 0 || rate > 1) return fail(`rate: expected a number between 0 and 1, got ${rate}`);
  return { ok: true, state: { mode: 'error', rate } };
}

function fail(reason: string): ChaosRequestResult {
  return { ok: false, reason };
}

/** What chaos does to one ordinary request, decided before the route handler runs. */
export type ChaosEffect =
  | { readonly kind: 'pass' }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'fail' };

/**
 * `random` returns a number in [0, 1), like Math.random. With rate r a request fails when
 * random() < r, so rate 0 never fails and rate 1 always does.
 */
export function chaosEffect(state: ChaosState, random: () => number): ChaosEffect {
  switch (state.mode) {
    case 'none':
      return { kind: 'pass' };
    case 'slow':
      return state.duration > 0 ? { kind: 'delay', ms: state.duration * 1000 } : { kind: 'pass' };
    case 'error':
      return random() < state.rate ? { kind: 'fail' } : { kind: 'pass' };
  }
}
