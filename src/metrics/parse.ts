/**
 * Parser for the Prometheus text exposition format (version 0.0.4), the format prom-client serves.
 *
 * Hand-written on purpose: prom-client only writes this format, and the one npm parser for it
 * (parse-prometheus-text-format) has had no release since 2020, returns values as strings and drops
 * timestamps. The grammar is small and fully specified, so a strict parser with line-numbered
 * errors is cheaper to own than a stale dependency on the path every policy decision starts from.
 */
import { OperationFailed } from '../errors.js';
import type { Sample } from './types.js';

/** The exposition could not be parsed. Exit 1: the metrics could not be observed. */
export class MetricsParseError extends OperationFailed {}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    // A trailing \r is tolerated: some proxies rewrite line endings.
    const line = (lines[i] ?? '').replace(/\r$/, '');
    const trimmed = line.trim();
    // Comments (# HELP, # TYPE and free comments) carry nothing a window needs.
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    try {
      samples.push(parseSampleLine(trimmed));
    } catch (err) {
      throw new MetricsParseError(`metrics line ${i + 1}: ${(err as Error).message}: ${truncate(line)}`);
    }
  }
  return samples;
}

function parseSampleLine(line: string): Sample {
  const nameMatch = METRIC_NAME.exec(line);
  if (!nameMatch) throw new Error('expected a metric name');
  const name = nameMatch[0];
  let pos = name.length;
  let labels: Record<string, string> = {};
  if (line[pos] === '{') {
    const parsed = parseLabels(line, pos + 1);
    labels = parsed.labels;
    pos = parsed.end;
  }
  const rest = line.slice(pos);
  if (!/^[ \t]/.test(rest)) throw new Error('expected whitespace before the value');
  const fields = rest.trim().split(/[ \t]+/);
  if (fields.length < 1 || fields.length > 2) throw new Error('expected a value and an optional timestamp');
  const value = parseValue(fields[0] ?? '');
  const sample: Sample = { name, labels, value };
  if (fields[1] !== undefined) {
    if (!/^-?\d+$/.test(fields[1])) throw new Error(`invalid timestamp "${fields[1]}"`);
    sample.timestamp_ms = Number(fields[1]);
  }
  return sample;
}

/** Parses `name="value",...}` starting just after the `{`; returns the index after the `}`. */
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  let pos = skipBlanks(line, start);
  while (line[pos] !== '}') {
    const m = LABEL_NAME.exec(line.slice(pos));
    if (!m) throw new Error(`expected a label name at column ${pos + 1}`);
    const labelName = m[0];
    pos = skipBlanks(line, pos + labelName.length);
    if (line[pos] !== '=') throw new Error(`expected "=" after label ${labelName}`);
    pos = skipBlanks(line, pos + 1);
    if (line[pos] !== '"') throw new Error(`expected a quoted value for label ${labelName}`);
    pos++;
    let value = '';
    for (;;) {
      const ch = line[pos];
      if (ch === undefined) throw new Error(`unterminated value for label ${labelName}`);
      if (ch === '"') break;
      if (ch === '\\') {
        const next = line[pos + 1];
        // The format defines exactly three escapes in label values.
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new Error(`invalid escape "\\${next ?? ''}" in label ${labelName}`);
        pos += 2;
        continue;
      }
      value += ch;
      pos++;
    }
    pos++;
    if (Object.prototype.hasOwnProperty.call(labels, labelName)) throw new Error(`duplicate label ${labelName}`);
    labels[labelName] = value;
    pos = skipBlanks(line, pos);
    if (line[pos] === ',') pos = skipBlanks(line, pos + 1);
    else if (line[pos] !== '}') throw new Error(`expected "," or "}" after label ${labelName}`);
  }
  // A plain object for callers (the null prototype only guarded against "__proto__" as a label name).
  return { labels: { ...labels }, end: pos + 1 };
}

function parseValue(token: string): number {
  // Go's ParseFloat, which Prometheus uses, accepts Inf/NaN in any case.
  const lower = token.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Number.POSITIVE_INFINITY;
  if (lower === '-inf') return Number.NEGATIVE_INFINITY;
  if (lower === 'nan') return Number.NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(token)) throw new Error(`invalid value "${token}"`);
  return Number(token);
}

function skipBlanks(line: string, pos: number): number {
  while (line[pos] === ' ' || line[pos] === '\t') pos++;
  return pos;
}

function truncate(line: string): string {
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}
