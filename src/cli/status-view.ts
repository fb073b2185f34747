/**
 * How a tick is shown: the TTY dashboard (redrawn in place by the caller), a plain block per tick
 * when stdout is not a terminal, and the NDJSON document for --json. Pure functions of the tick.
 *
 * Each signal is judged on its own, by the policy: a signal is red when a violation names it. There
 * is no composite health score to average an outage away (100% errors at 5 ms is red).
 */
import type { PolicyVerdict, StatusPayload } from '../status/payload.js';
import type { TickResult } from '../status/tick.js';
import { sparkline } from '../status/sparkline.js';
import { decisionLines } from './decision.js';
import { noPaint, type Paint } from './paint.js';

export { noPaint, type Paint };

/** Which violation ids speak about which signal (ids are the policies' own, see policies/*.rego). */
const SIGNAL_RULES: Record<string, string[]> = {
  traffic: ['insufficient_traffic'],
  errors: ['error_rate_too_high'],
  latency: ['p99_latency_too_high'],
};

type Judgement = 'ok' | 'bad' | 'unknown';

function isDecision(v: PolicyVerdict | undefined): v is Extract<PolicyVerdict, { allowed: boolean }> {
  return v !== undefined && 'allowed' in v;
}

function judge(payload: StatusPayload, signal: keyof typeof SIGNAL_RULES): Judgement {
  const canary = payload.decisions.canary;
  if (!isDecision(canary)) return 'unknown';
  const ids = SIGNAL_RULES[signal] ?? [];
  if (canary.violations.some((v) => ids.includes(v.id))) return 'bad';
  if (canary.violations.some((v) => v.id === 'facts_unavailable')) return 'unknown';
  return 'ok';
}

function mark(j: Judgement, p: Paint): string {
  return j === 'ok' ? p.ok('●') : j === 'bad' ? p.bad('●') : p.warn('○');
}

const pct = (x: number | null): string => (x === null ? 'no data' : `${(x * 100).toFixed(2)}%`);
const ms = (x: number | null, capped = false): string => (x === null ? 'no data' : `${capped ? '≥' : ''}${(x * 1000).toFixed(0)} ms`);

function uptime(seconds: number | null): string {
  if (seconds === null) return 'unknown';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(seconds % 60).padStart(2, '0')}s`;
}

export function verdictLines(payload: StatusPayload, p: Paint): string[] {
  const lines: string[] = [];
  for (const domain of ['infrastructure', 'canary'] as const) {
    const v = payload.decisions[domain];
    if (v === undefined) continue;
    if (!isDecision(v)) {
      lines.push(`  ${p.warn('UNAVAILABLE')} ${domain.padEnd(14)} ${v.unavailable} (${v.enforcement})`);
      continue;
    }
    // The one decision printer, with the enforcement and the policy version this tick was judged under.
    const [head, ...violations] = decisionLines(v, v.enforcement === 'shadow' && !v.allowed, p);
    lines.push(`  ${head} ${p.dim(`(${v.enforcement}, policy ${v.policy_version.replace(/^sha256:/, '').slice(0, 12)})`)}`);
    for (const line of violations) lines.push(`  ${line}`);
  }
  return lines;
}

export interface SparkSeries {
  rps: ReadonlyArray<number | null>;
  errorRate: ReadonlyArray<number | null>;
  p99: ReadonlyArray<number | null>;
}

export function renderDashboard(tick: TickResult, series: SparkSeries, p: Paint, width = 60): string {
  const { payload } = tick;
  const w = payload.window;
  const lines = [
    p.bold(`swiftdeploy status  ${new Date(tick.at).toISOString().replace(/\.\d{3}Z$/, 'Z')}`),
    `  mode ${p.bold(payload.mode ?? 'unknown')}   chaos ${payload.chaos?.mode ?? 'unknown'}   uptime ${uptime(payload.uptime_seconds)}`,
  ];
  if (payload.error !== undefined) lines.push(`  ${p.bad('metrics unavailable:')} ${payload.error}`);
  if (w !== null) {
    lines.push(
      `  ${mark(judge(payload, 'traffic'), p)} req/s    ${w.requests_per_second.toFixed(2).padStart(9)}   ${w.requests} requests in ${w.seconds.toFixed(0)} s`,
      `  ${mark(judge(payload, 'errors'), p)} errors   ${pct(w.error_rate).padStart(9)}   ${w.errors} of ${w.requests}`,
      `  ${mark(judge(payload, 'latency'), p)} latency  p50 ${ms(w.p50_seconds)}  p95 ${ms(w.p95_seconds)}  p99 ${ms(w.p99_seconds, w.quantiles_capped)}${w.quantiles_capped ? ' (+Inf bucket)' : ''}`,
    );
    if (w.counter_resets > 0) lines.push(`  ${p.dim(`counters reset in ${w.counter_resets} series (app restarted)`)}`);
  }
  lines.push('  policy');
  lines.push(...verdictLines(payload, p));
  lines.push(
    `  ${p.dim('req/s ')} ${sparkline(series.rps, width)}`,
    `  ${p.dim('errors')} ${sparkline(series.errorRate, width)}`,
    `  ${p.dim('p99   ')} ${sparkline(series.p99, width)}`,
    p.dim('  Ctrl-C to stop; the record being written is completed first.'),
  );
  return lines.join('\n');
}

/** One block per tick for logs and pipes: no colour, no cursor movement. */
export function renderPlainBlock(tick: TickResult): string {
  const { payload } = tick;
  const w = payload.window;
  const lines = [
    `${new Date(tick.at).toISOString()} mode=${payload.mode ?? 'unknown'} chaos=${payload.chaos?.mode ?? 'unknown'} uptime=${payload.uptime_seconds ?? 'unknown'}s`,
  ];
  if (payload.error !== undefined) lines.push(`  metrics unavailable: ${payload.error}`);
  if (w !== null) {
    lines.push(
      `  traffic ${w.requests_per_second.toFixed(2)} req/s, ${w.requests} requests in ${w.seconds.toFixed(0)} s`,
      `  errors  ${pct(w.error_rate)}`,
      `  latency p50 ${ms(w.p50_seconds)}, p95 ${ms(w.p95_seconds)}, p99 ${ms(w.p99_seconds, w.quantiles_capped)}`,
    );
  }
  lines.push(...verdictLines(payload, noPaint));
  return `${lines.join('\n')}\n`;
}

/** The --json document of one tick (one line of NDJSON). */
export function tickDocument(tick: TickResult): Record<string, unknown> {
  return {
    ts: new Date(tick.at).toISOString(),
    ...tick.payload,
    exit_code: tick.exit,
    record: tick.record,
  };
}

/** "120 req, errors 0.4%, p99 12 ms", or "no window yet". */
function windowSummary(w: StatusPayload['window']): string {
  return w === null
    ? 'no window yet'
    : `${w.requests} req, errors ${w.error_rate === null ? 'n/a' : `${Math.round(w.error_rate * 1000) / 10}%`}, p99 ${w.p99_seconds === null ? 'n/a' : `${Math.round(w.p99_seconds * 1000)} ms`}`;
}

/** During a rollout: "tracks: stable 120 req, errors 0.4%, p99 12 ms | canary 40 req, errors 30.2%, p99 n/a". */
export function tracksLine(tracks: NonNullable<StatusPayload['tracks']>): string {
  return `tracks: stable ${windowSummary(tracks.stable)} | canary ${windowSummary(tracks.canary)}`;
}

/**
 * On swarm, one line per replica under a head saying how many were summed into the window above:
 * "  shop_app.2  manager  40 req, errors 0%, p99 12 ms  (task 3k2j4h5g6f7d)".
 */
export function replicaLines(replicas: NonNullable<StatusPayload['replicas']>): string[] {
  const scraped = replicas.filter((r) => r.error === undefined).length;
  const label = (r: (typeof replicas)[number]) => r.name ?? r.task.slice(0, 12);
  const width = Math.max(0, ...replicas.map((r) => label(r).length));
  const nodeWidth = Math.max(0, ...replicas.map((r) => (r.node ?? '').length));
  return [
    `replicas: ${scraped} of ${replicas.length} scraped, summed into the window above`,
    ...replicas.map(
      (r) =>
        `  ${label(r).padEnd(width)}  ${(r.node ?? '').padEnd(nodeWidth)}  ${r.error !== undefined ? r.error : windowSummary(r.window)}  (task ${r.task.slice(0, 12)})`,
    ),
  ];
}
