/**
 * Markdown building blocks for the audit report. Every value that came from a record (an actor, a
 * reason, a commit subject) goes through `escapeMarkdown` before it reaches the page: an auditor's
 * copy must show exactly what was recorded, never a table broken by a `|` or a link smuggled in by a
 * `[`.
 */

// Characters that start emphasis, code, links, tables, strikethrough or headings in GitHub Flavored
// Markdown. Parentheses and `!` stay readable: with `[` escaped no link or image can form.
const MARKDOWN_SPECIAL = /[\\`*_[\]#|~]/g;

export function escapeMarkdown(value: unknown): string {
  const text = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  return (
    text
      // A newline inside a table cell ends the row; a report is read, so one line is enough.
      .replace(/\r\n|\r|\n/g, ' ')
      .replace(MARKDOWN_SPECIAL, (c) => `\\${c}`)
      // Entities rather than backslashes: GitHub renders raw HTML, and `&` would start an entity.
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
  );
}

/** One table row from already-escaped cells. */
export function tableRow(cells: readonly string[]): string {
  return `| ${cells.map((c) => (c === '' ? ' ' : c)).join(' | ')} |`;
}

export function tableHeader(titles: readonly string[]): string {
  return `${tableRow(titles)}\n|${titles.map(() => '---').join('|')}|`;
}

/** "2m14s", "3h05m", "4d02h": compact, and never rounds a short gap up to a misleading unit. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const totalSeconds = Math.floor(ms / 1000);
  if (totalSeconds < 60) return `${totalSeconds}s`;
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = totalSeconds % 60;
  if (minutes < 60) return `${minutes}m${String(seconds).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, '0')}h`;
}

/** ISO time without milliseconds: the report is read by people, the ledger keeps the precise value. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function formatRate(fraction: number | null): string {
  return fraction === null ? 'no data' : `${(fraction * 100).toFixed(2)}%`;
}

export function formatLatency(seconds: number | null, capped = false): string {
  if (seconds === null) return 'no data';
  const text = seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(2)} s`;
  // A rank in the +Inf bucket only says "at least the highest finite bound".
  return capped ? `≥ ${text}` : text;
}

/** "1,000,000": fixed separators (not the reader's locale, so golden files are byte-stable). */
export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A value of unknown shape (a violation's observed/threshold) as short, escaped text. */
export function formatValue(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  if (value === null || value === undefined) return 'none';
  return escapeMarkdown(value);
}

/** "1 tick", "30 ticks". */
export function plural(n: number, singular: string, pluralForm = `${singular}s`): string {
  return `${formatCount(n)} ${n === 1 ? singular : pluralForm}`;
}

/** A policy version as people compare it: the first 12 hex digits, without the algorithm prefix. */
export function shortVersion(version: string): string {
  return version.replace(/^sha256:/, '').slice(0, 12);
}
