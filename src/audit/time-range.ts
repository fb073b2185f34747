/** `--since` / `--until` values: an ISO 8601 time, a UTC date, or an age such as `90m`, `24h`, `7d`. */
import { UsageError } from '../errors.js';

const AGE = /^(\d{1,6})(s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
// A zone is required on a time of day: "14:00" alone would mean the reader's local time, and an
// audit period must mean the same instant on every machine.
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

export function parseTimeBound(flag: string, text: string, nowMs: number): number {
  const value = text.trim();
  const age = AGE.exec(value);
  if (age !== null) return nowMs - Number(age[1]) * (UNIT_MS[age[2] as string] as number);
  if (ISO_WITH_ZONE.test(value) || DATE_ONLY.test(value)) {
    const ms = Date.parse(DATE_ONLY.test(value) ? `${value}T00:00:00Z` : value);
    if (Number.isFinite(ms)) return ms;
  }
  throw new UsageError(
    `${flag}: expected an ISO 8601 time with a zone (2024-05-01T14:00:00Z), a UTC date (2024-05-01) or an age (90m, 24h, 7d), got ${JSON.stringify(text)}`,
  );
}

export function parseTimeRange(
  since: string | undefined,
  until: string | undefined,
  nowMs: number,
): { sinceMs: number | null; untilMs: number | null } {
  const sinceMs = since === undefined ? null : parseTimeBound('--since', since, nowMs);
  const untilMs = until === undefined ? null : parseTimeBound('--until', until, nowMs);
  if (sinceMs !== null && untilMs !== null && sinceMs > untilMs) {
    throw new UsageError(`--since (${new Date(sinceMs).toISOString()}) is after --until (${new Date(untilMs).toISOString()})`);
  }
  return { sinceMs, untilMs };
}
