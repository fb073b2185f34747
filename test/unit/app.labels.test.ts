import { describe, expect, it } from 'vitest';
import { bearerTokenMatches } from '../../src/app/bearer.js';
import { formatRequestLine, requestPath } from '../../src/app/log.js';
import { DURATION_BUCKETS, methodLabel, pathLabel } from '../../src/app/metrics.js';

describe('metric labels', () => {
  const routes = new Set(['/', '/healthz', '/metrics', '/chaos']);

  it('keeps known verbs and folds the rest into OTHER', () => {
    expect(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].map(methodLabel)).toEqual([
      'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS',
    ]);
    expect(['PROPFIND', 'get', 'PURGE', ''].map(methodLabel)).toEqual(['OTHER', 'OTHER', 'OTHER', 'OTHER']);
  });

  it('uses the route template for known routes and "other" for anything else', () => {
    expect(pathLabel('/healthz', routes)).toBe('/healthz');
    expect(pathLabel(undefined, routes)).toBe('other');
    expect(pathLabel('/*', routes)).toBe('other');
  });

  it('has buckets at most 50 ms apart between 0.25 s and 0.6 s, ascending, up to the 30 s chaos cap', () => {
    const around = DURATION_BUCKETS.filter((b) => b >= 0.25 && b <= 0.6);
    expect(around.length).toBeGreaterThanOrEqual(8);
    for (let i = 1; i < DURATION_BUCKETS.length; i++) {
      expect(DURATION_BUCKETS[i]!).toBeGreaterThan(DURATION_BUCKETS[i - 1]!);
    }
    for (let i = 1; i < around.length; i++) expect(around[i]! - around[i - 1]!).toBeLessThanOrEqual(0.05 + 1e-9);
    expect(DURATION_BUCKETS).toContain(0.5);
    expect(DURATION_BUCKETS.at(-1)).toBe(30);
  });
});

describe('bearerTokenMatches', () => {
  const token = 'correct-horse-battery-staple';
  it.each([
    [`Bearer ${token}`, true],
    [`bearer ${token}`, true],
    [`Bearer ${token} `, true],
    [`Bearer ${token}x`, false],
    [`Bearer ${token.slice(0, -1)}`, false],
    [`Basic ${token}`, false],
    [token, false],
    ['Bearer ', false],
    ['', false],
    [undefined, false],
  ])('%s -> %s', (header, expected) => {
    expect(bearerTokenMatches(header, token)).toBe(expected);
  });
});

describe('request log line', () => {
  it('is one JSON object on one line, without the query string', () => {
    const line = formatRequestLine(
      { method: 'GET', path: requestPath('/a/b?token=secret'), route: 'other', status: 404, durationMs: 1.23456, mode: 'canary' },
      new Date('2030-01-02T03:04:05.000Z'),
    );
    expect(line).toBe(
      '{"time":"2030-01-02T03:04:05.000Z","event":"request","method":"GET","path":"/a/b","route":"other","status":404,"duration_ms":1.235,"mode":"canary"}\n',
    );
  });

  it('truncates very long paths', () => {
    expect(requestPath(`/${'x'.repeat(1000)}`)).toHaveLength(257);
  });
});
