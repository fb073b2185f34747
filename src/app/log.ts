/**
 * Structured stdout logging: one JSON object per line, so `docker compose logs app | jq` works and a
 * log shipper needs no parser. Request lines carry `event: "request"`; lifecycle lines (listening,
 * chaos changed, draining, stopped) carry their own event name.
 */

export type LogWriter = (line: string) => void;

/** The default writer. stdout to a file or pipe is synchronous on Linux, so lines are never torn. */
export const writeStdout: LogWriter = (line) => {
  process.stdout.write(line);
};

export interface RequestLogEntry {
  method: string;
  /** The request path without its query string (queries may carry secrets), truncated. */
  path: string;
  /** The route template the request matched, or "other". Same value as the metrics `path` label. */
  route: string;
  status: number;
  durationMs: number;
  mode: string;
}

const MAX_LOGGED_PATH = 256;

export function requestPath(url: string): string {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  return path.length > MAX_LOGGED_PATH ? `${path.slice(0, MAX_LOGGED_PATH)}…` : path;
}

export function formatRequestLine(entry: RequestLogEntry, now: Date = new Date()): string {
  return `${JSON.stringify({
    time: now.toISOString(),
    event: 'request',
    method: entry.method,
    path: entry.path,
    route: entry.route,
    status: entry.status,
    duration_ms: Math.round(entry.durationMs * 1000) / 1000,
    mode: entry.mode,
  })}\n`;
}

export function formatEventLine(
  event: string,
  fields: Record<string, unknown> = {},
  now: Date = new Date(),
): string {
  return `${JSON.stringify({ time: now.toISOString(), event, ...fields })}\n`;
}
