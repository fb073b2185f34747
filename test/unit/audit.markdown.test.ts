import { describe, expect, it } from 'vitest';
import { escapeMarkdown, formatDuration, formatLatency, formatRate, tableRow } from '../../src/audit/markdown.js';
import { parseTimeBound, parseTimeRange } from '../../src/audit/time-range.js';

describe('escapeMarkdown', () => {
  it('neutralises every character that would change a table, start markup, or open HTML', () => {
    expect(escapeMarkdown('a|b')).toBe('a\\|b');
    expect(escapeMarkdown('*bold* _it_ `code`')).toBe('\\*bold\\* \\_it\\_ \\`code\\`');
    expect(escapeMarkdown('[click](http://x) ![img](y)')).toBe('\\[click\\](http://x) !\\[img\\](y)');
    expect(escapeMarkdown('<img src=x onerror=alert(1)>')).toBe('&lt;img src=x onerror=alert(1)&gt;');
    expect(escapeMarkdown('# heading ~~gone~~ !')).toBe('\\# heading \\~\\~gone\\~\\~ !');
    expect(escapeMarkdown('back\\slash')).toBe('back\\\\slash');
    expect(escapeMarkdown('a &amp; b')).toBe('a &amp;amp; b');
  });

  it('keeps a table row on one line', () => {
    expect(escapeMarkdown('line one\nline two\r\nthree')).toBe('line one line two three');
    const row = tableRow([escapeMarkdown('x|y\nz'), 'ok']);
    expect(row).toBe('| x\\|y z | ok |');
    // A row must split into exactly its cells on unescaped pipes.
    expect(row.split(/(?<!\\)\|/).length - 2).toBe(2);
  });

  it('leaves ordinary text alone', () => {
    expect(escapeMarkdown('alice@example.com deployed v1.2.3-rc.1')).toBe('alice@example.com deployed v1.2.3-rc.1');
  });
});

describe('formatting', () => {
  it('durations are compact and exact to the second', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(59_999)).toBe('59s');
    expect(formatDuration(134_000)).toBe('2m14s');
    expect(formatDuration(3_600_000 + 5 * 60_000)).toBe('1h05m');
    expect(formatDuration(26 * 3_600_000)).toBe('1d02h');
    expect(formatDuration(-1)).toBe('?');
  });

  it('no data is never shown as zero', () => {
    expect(formatRate(null)).toBe('no data');
    expect(formatRate(0)).toBe('0.00%');
    expect(formatLatency(null)).toBe('no data');
    expect(formatLatency(0.4126)).toBe('413 ms');
    expect(formatLatency(2.5, true)).toBe('≥ 2.50 s');
  });
});

describe('time bounds', () => {
  const now = Date.parse('2024-05-10T12:00:00Z');
  it('accepts ISO times with a zone, UTC dates and ages', () => {
    expect(parseTimeBound('--since', '2024-05-01T14:00:00Z', now)).toBe(Date.parse('2024-05-01T14:00:00Z'));
    expect(parseTimeBound('--since', '2024-05-01T16:00:00+02:00', now)).toBe(Date.parse('2024-05-01T14:00:00Z'));
    expect(parseTimeBound('--since', '2024-05-01', now)).toBe(Date.parse('2024-05-01T00:00:00Z'));
    expect(parseTimeBound('--since', '90m', now)).toBe(now - 90 * 60_000);
    expect(parseTimeBound('--since', '7d', now)).toBe(now - 7 * 86_400_000);
  });

  it('refuses ambiguous or malformed times with a usage error', () => {
    for (const bad of ['2024-05-01T14:00:00', 'yesterday', '5 minutes', '', '2024-13-45']) {
      expect(() => parseTimeBound('--since', bad, now), bad).toThrowError(/--since: expected/);
    }
    expect(() => parseTimeRange('1d', '2d', now)).toThrowError(/after --until/);
  });
});
