import { OperationFailed } from '../errors.js';
import type { Reporter } from '../events.js';
import { readLastRecord } from '../history/tail.js';
import type { StatusPayload } from '../history/types.js';
import { scrapeMetrics } from '../metrics/scrape.js';
import type { Snapshot, WindowStats } from '../metrics/types.js';
import { windowStats } from '../metrics/window.js';
import { pollUntil } from '../util/poll-until.js';
import type { Session } from './session.js';

export interface CanaryWindow {
  window: WindowStats;
  /** Where the window came from, for the plan and the record. */
  source: string;
}

/**
 * The window the canary policy judges. A fresh one from the status loop is reused when the newest
 * history record is a status tick no older than two status intervals, whose window covers
 * `window_seconds`; otherwise the window is sampled now, for `window_seconds`, through nginx.
 */
export async function canaryWindow(session: Session, now = Date.now()): Promise<CanaryWindow> {
  const m = session.manifest;
  const fresh = await freshStatusWindow(session, now);
  if (fresh) return fresh;
  return sampleWindow(session.nginxUrl('/metrics'), m.policy.canary.window_seconds, session.out);
}

export async function freshStatusWindow(session: Session, now = Date.now()): Promise<CanaryWindow | undefined> {
  const m = session.manifest;
  const last = await readLastRecord(session.historyFile).catch(() => undefined);
  if (!last || last.kind !== 'status') return undefined;
  const payload = last.payload as StatusPayload<object, WindowStats>;
  const window = payload.window;
  const ageMs = now - Date.parse(last.ts);
  const maxAgeMs = 2 * m.observability.status_interval * 1000 + 1000;
  if (!window || ageMs < 0 || ageMs > maxAgeMs) return undefined;
  if (window.seconds < m.policy.canary.window_seconds) return undefined;
  return { window, source: `status history (record ${last.seq}, ${Math.round(ageMs / 1000)}s old, ${window.seconds.toFixed(0)}s window)` };
}

/** Scrape now and once a second for `seconds`; the window is first vs last snapshot. */
export async function sampleWindow(metricsUrl: string, seconds: number, out: Reporter): Promise<CanaryWindow> {
  const scrape = async (): Promise<Snapshot> => {
    try {
      return await scrapeMetrics(metricsUrl, { timeoutMs: 3000 });
    } catch (err) {
      throw new OperationFailed(`cannot scrape ${metricsUrl} for the canary window: ${(err as Error).message}`);
    }
  };
  const first = await scrape();
  const width = 30;
  const bar = out.progress('sampling the canary window');
  // The window is simply over at the deadline: a timeout here is the normal end.
  const polled = await pollUntil<Snapshot>({
    intervalMs: 1000,
    timeoutMs: Math.max(1, seconds * 1000 - (Date.now() - first.at)),
    probe: scrape,
    onObservation: (latest) => {
      const elapsed = Math.min(seconds, (latest.at - first.at) / 1000);
      const done = Math.min(width, Math.round((elapsed / seconds) * width));
      bar.update(`[${'#'.repeat(done)}${'-'.repeat(width - done)}] ${Math.floor(elapsed)}/${seconds}s`);
    },
    until: () => false,
  });
  const latest = polled.last ?? first;
  bar.done('sampled the canary window');
  return { window: windowStats(first, latest), source: `sampled through nginx for ${seconds}s` };
}
