/**
 * What the stack says about itself, read from the same /metrics scrape as the window: mode, chaos and
 * uptime come from the app's gauges. Asking `GET /` instead would put swiftdeploy's own requests into
 * the traffic the canary policy judges (one per tick is six requests in a 30 s window, enough to help
 * a dead canary past `min_requests`).
 */
import type { Snapshot } from '../metrics/types.js';

export interface StackObservation {
  mode: string | null;
  chaos: { mode: string } | null;
  uptime_seconds: number | null;
}

const MODES: Record<number, string> = { 0: 'stable', 1: 'canary' };
const CHAOS: Record<number, string> = { 0: 'none', 1: 'slow', 2: 'error' };

function gauge(snapshot: Snapshot, name: string): number | null {
  const sample = snapshot.samples.find((s) => s.name === name);
  return sample === undefined || !Number.isFinite(sample.value) ? null : sample.value;
}

export function observeStack(snapshot: Snapshot): StackObservation {
  const mode = gauge(snapshot, 'app_mode');
  const chaos = gauge(snapshot, 'chaos_active');
  const uptime = gauge(snapshot, 'app_uptime_seconds');
  return {
    mode: mode === null ? null : (MODES[mode] ?? `unknown (${mode})`),
    chaos: chaos === null ? null : { mode: CHAOS[chaos] ?? `unknown (${chaos})` },
    uptime_seconds: uptime === null ? null : Math.floor(uptime),
  };
}
