import { Registry, Counter, Histogram } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { MetricsParseError, parsePrometheusText } from '../../src/metrics/parse.js';

describe('parsePrometheusText', () => {
  it('reads samples and skips HELP, TYPE, free comments and blank lines', () => {
    const text = [
      '# HELP http_requests_total Total requests.',
      '# TYPE http_requests_total counter',
      '# a free comment',
      '',
      'http_requests_total{method="GET",path="/",status_code="200"} 1027',
      'up 1',
    ].join('\n');
    expect(parsePrometheusText(text)).toEqual([
      { name: 'http_requests_total', labels: { method: 'GET', path: '/', status_code: '200' }, value: 1027 },
      { name: 'up', labels: {}, value: 1 },
    ]);
  });

  it('unescapes backslash, quote and newline in label values', () => {
    const [s] = parsePrometheusText('m{a="C:\\\\dir",b="say \\"hi\\"",c="two\\nlines"} 1\n');
    expect(s?.labels).toEqual({ a: 'C:\\dir', b: 'say "hi"', c: 'two\nlines' });
  });

  it('keeps braces, commas and spaces inside quoted label values', () => {
    const [s] = parsePrometheusText('m{path="/a{b},c d"} 2');
    expect(s?.labels.path).toBe('/a{b},c d');
  });

  it('parses +Inf, -Inf, NaN, exponents and signed values', () => {
    const values = parsePrometheusText(['a +Inf', 'b -Inf', 'c NaN', 'd 1.5e-3', 'e -2', 'f .5'].join('\n')).map((s) => s.value);
    expect(values.slice(0, 2)).toEqual([Infinity, -Infinity]);
    expect(Number.isNaN(values[2])).toBe(true);
    expect(values.slice(3)).toEqual([0.0015, -2, 0.5]);
  });

  it('reads an optional millisecond timestamp', () => {
    const [s] = parsePrometheusText('m{a="1"} 3 1700000000123');
    expect(s).toEqual({ name: 'm', labels: { a: '1' }, value: 3, timestamp_ms: 1700000000123 });
  });

  it('accepts tabs, spaces around label tokens, a trailing comma, {} and CRLF', () => {
    const samples = parsePrometheusText('m{ a = "1" , b="2", }\t4\r\nn{} 5\r\n');
    expect(samples).toEqual([
      { name: 'm', labels: { a: '1', b: '2' }, value: 4 },
      { name: 'n', labels: {}, value: 5 },
    ]);
  });

  it.each([
    ['m{a="1} 1', /unterminated value for label a/],
    ['m{a="1"} abc', /invalid value "abc"/],
    ['m{a="1",a="2"} 1', /duplicate label a/],
    ['m{a="\\t"} 1', /invalid escape/],
    ['m{a=1} 1', /expected a quoted value/],
    ['m 1 2 3', /expected a value and an optional timestamp/],
    ['m 1 12.5', /invalid timestamp/],
    ['9m 1', /expected a metric name/],
    ['m{a="1"}1', /expected whitespace/],
  ])('rejects %j with a line-numbered error', (line, message) => {
    const text = `ok 1\n${line}\n`;
    expect(() => parsePrometheusText(text)).toThrow(MetricsParseError);
    expect(() => parsePrometheusText(text)).toThrow(/^metrics line 2: /);
    expect(() => parsePrometheusText(text)).toThrow(message);
  });

  it('round-trips what prom-client actually serves, histogram buckets included', async () => {
    const registry = new Registry();
    const requests = new Counter({ name: 'http_requests_total', help: 'h', labelNames: ['method', 'path', 'status_code'], registers: [registry] });
    const duration = new Histogram({ name: 'http_request_duration_seconds', help: 'h', labelNames: ['method', 'path'], buckets: [0.1, 0.5], registers: [registry] });
    requests.inc({ method: 'GET', path: '/a "quoted"\\path', status_code: '503' }, 7);
    duration.observe({ method: 'GET', path: '/' }, 0.3);
    duration.observe({ method: 'GET', path: '/' }, 2);
    const samples = parsePrometheusText(await registry.metrics());
    expect(samples).toContainEqual({
      name: 'http_requests_total',
      labels: { method: 'GET', path: '/a "quoted"\\path', status_code: '503' },
      value: 7,
    });
    const buckets = samples.filter((s) => s.name === 'http_request_duration_seconds_bucket').map((s) => [s.labels.le, s.value]);
    expect(buckets).toEqual([['0.1', 0], ['0.5', 1], ['+Inf', 2]]);
    expect(samples.find((s) => s.name === 'http_request_duration_seconds_sum')?.value).toBe(2.3);
  });
});
