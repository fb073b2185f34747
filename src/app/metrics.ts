/**
 * The app's Prometheus metrics. Names and labels are a contract: src/metrics/ computes request rate,
 * error rate and latency quantiles from them, and the canary policy judges those figures.
 *
 * Label cardinality is bounded by construction: `path` is a route template or "other", `method` one
 * of KNOWN_METHODS or "OTHER", and `status_code` is whatever this app itself answers (a short, fixed
 * set). Nothing a client types in a URL becomes a label value.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CHAOS_GAUGE_VALUE, type ChaosState } from './chaos.js';
import type { AppMode } from './config.js';

/**
 * Seconds. Dense between 0.25 and 1 s so a p99 near the default 0.5 s threshold is resolved to
 * within 50 ms by histogram_quantile's linear interpolation; sparse elsewhere; the top buckets reach
 * the 30 s chaos cap so a slowed canary is measured rather than lumped into +Inf.
 */
export const DURATION_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 1, 2.5, 5, 10,
  30,
];

export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
]);

export const OTHER_PATH = 'other';

export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'OTHER';
}

/** `routeTemplate` is the matched route's URL pattern, undefined when no route matched. */
export function pathLabel(routeTemplate: string | undefined, knownRoutes: ReadonlySet<string>): string {
  return routeTemplate !== undefined && knownRoutes.has(routeTemplate) ? routeTemplate : OTHER_PATH;
}

export interface AppMetrics {
  readonly registry: Registry;
  observeRequest(method: string, path: string, statusCode: number, seconds: number): void;
  setChaos(state: ChaosState): void;
}

export function createAppMetrics(options: { mode: AppMode; startedAt: number }): AppMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route template and status code.',
    labelNames: ['method', 'path', 'status_code'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request received to response finished, including any chaos delay.',
    labelNames: ['method', 'path'] as const,
    buckets: [...DURATION_BUCKETS],
    registers: [registry],
  });
  new Gauge({
    name: 'app_uptime_seconds',
    help: 'Seconds since the app started.',
    registers: [registry],
    collect() {
      this.set((Date.now() - options.startedAt) / 1000);
    },
  });
  const modeGauge = new Gauge({
    name: 'app_mode',
    help: 'Deployment mode: 0 = stable, 1 = canary.',
    registers: [registry],
  });
  modeGauge.set(options.mode === 'canary' ? 1 : 0);
  const chaosGauge = new Gauge({
    name: 'chaos_active',
    help: 'Chaos in effect: 0 = none, 1 = slow, 2 = error.',
    registers: [registry],
  });
  chaosGauge.set(CHAOS_GAUGE_VALUE.none);

  // prom-client hashes a label object on every call; caching the bound children per label tuple
  // keeps the per-request cost to one Map lookup. The Map is bounded by the same label bounds.
  const counterChildren = new Map<string, Counter.Internal>();
  const histogramChildren = new Map<string, Histogram.Internal<'method' | 'path'>>();

  return {
    registry,
    observeRequest(method, path, statusCode, seconds) {
      const status = String(statusCode);
      const seriesKey = `${method} ${path}`;
      let histogram = histogramChildren.get(seriesKey);
      if (histogram === undefined) {
        histogram = duration.labels(method, path);
        histogramChildren.set(seriesKey, histogram);
      }
      histogram.observe(seconds);
      const counterKey = `${seriesKey} ${status}`;
      let counter = counterChildren.get(counterKey);
      if (counter === undefined) {
        counter = requests.labels(method, path, status);
        counterChildren.set(counterKey, counter);
      }
      counter.inc();
    },
    setChaos(state) {
      chaosGauge.set(CHAOS_GAUGE_VALUE[state.mode]);
    },
  };
}
