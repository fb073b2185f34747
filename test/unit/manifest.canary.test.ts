/**
 * The manifest's `canary:` section (a progressive rollout) and the relative thresholds in
 * policy.canary: defaults, every range, every cross-field rule, each with its key path and line:col.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/manifest/load.js';
import { only, problemsOf } from '../helpers/manifest-problems.js';

const DEFAULT_MANIFEST = readFileSync(fileURLToPath(new URL('../../manifest.yaml', import.meta.url)), 'utf8');

/** The default manifest with a `canary:` section of these lines (each indented by two spaces). */
function withCanary(...lines: string[]): string {
  return `${DEFAULT_MANIFEST}\ncanary:\n${lines.map((l) => `  ${l}\n`).join('')}`;
}

/** The default manifest with `policy.canary` given extra lines. */
function withPolicy(...lines: string[]): string {
  const anchor = '    min_requests: 20\n';
  expect(DEFAULT_MANIFEST.split(anchor)).toHaveLength(2);
  return DEFAULT_MANIFEST.replace(anchor, `${anchor}${lines.map((l) => `    ${l}\n`).join('')}`);
}

/** 1-based line and column of the first `needle` at or after `after` in `text`. */
function at(text: string, needle: string, after = 'canary:\n  '): { line: number; col: number } {
  const start = text.lastIndexOf(after);
  const i = text.indexOf(needle, start < 0 ? 0 : start);
  expect(i, `"${needle}" should be in the text`).toBeGreaterThanOrEqual(0);
  const before = text.slice(0, i).split('\n');
  return { line: before.length, col: before[before.length - 1]!.length + 1 };
}


describe('canary: valid', () => {
  it('absent: no canary in the manifest, and the relative thresholds take their defaults', () => {
    const m = parseManifest(DEFAULT_MANIFEST, 'm');
    expect(m.canary).toBeUndefined();
    expect(m.policy.canary).toMatchObject({ max_error_rate_increase: 0.01, max_p99_ratio: 1.5 });
  });

  it('steps alone: every other key takes its default; image and version stay unset (the stable ones apply)', () => {
    const m = parseManifest(withCanary('steps: [10, 25, 50, 100]'), 'm');
    expect(m.canary).toEqual({
      steps: [10, 25, 50, 100],
      step_seconds: 30,
      sticky: false,
      failure_limit: 0,
      inconclusive_limit: 2,
      on_inconclusive: 'pause',
      max_duration: 3600,
    });
  });

  it('every key given, at its bounds', () => {
    const m = parseManifest(
      withCanary(
        'image: registry.local:5000/team/app:1.1.0',
        'version: "1.1.0-rc.1"',
        `steps: [${Array.from({ length: 20 }, (_, i) => 81 + i).join(', ')}]`,
        'step_seconds: 5',
        'sticky: true',
        'failure_limit: 10',
        'inconclusive_limit: 0',
        'on_inconclusive: fail',
        'max_duration: 100',
      ),
      'm',
    );
    expect(m.canary).toEqual({
      image: 'registry.local:5000/team/app:1.1.0',
      version: '1.1.0-rc.1',
      steps: Array.from({ length: 20 }, (_, i) => 81 + i),
      step_seconds: 5,
      sticky: true,
      failure_limit: 10,
      inconclusive_limit: 0,
      on_inconclusive: 'fail',
      max_duration: 100,
    });
  });

  it('a single step of 100, the longest window and duration', () => {
    const m = parseManifest(withCanary('steps: [100]', 'step_seconds: 3600', 'max_duration: 86400'), 'm');
    expect(m.canary).toMatchObject({ steps: [100], step_seconds: 3600, max_duration: 86400 });
  });

  it('max_duration equal to the sum of the step windows is enough', () => {
    expect(parseManifest(withCanary('steps: [50, 100]', 'step_seconds: 30', 'max_duration: 60'), 'm').canary?.max_duration).toBe(60);
  });

  it('a block list of steps loads like a flow list', () => {
    expect(parseManifest(withCanary('steps:', '  - 25', '  - 100'), 'm').canary?.steps).toEqual([25, 100]);
  });

  it('the relative thresholds at their bounds', () => {
    const m = parseManifest(withPolicy('max_error_rate_increase: 0', 'max_p99_ratio: 1'), 'm');
    expect(m.policy.canary).toMatchObject({ max_error_rate_increase: 0, max_p99_ratio: 1 });
    const top = parseManifest(withPolicy('max_error_rate_increase: 1', 'max_p99_ratio: 1000'), 'm');
    expect(top.policy.canary).toMatchObject({ max_error_rate_increase: 1, max_p99_ratio: 1000 });
  });
});

describe('canary: each key out of range or of the wrong type, with key path and line:col', () => {
  const cases: Array<[line: string, path: string, message: string, needle?: string]> = [
    ['image: "Bad Image"', 'canary.image', 'expected an image reference such as "nginx:1.27-alpine" or "registry.local:5000/team/app:1.2.0"; the value contains whitespace, which would change the meaning of a generated file; refusing to render it, got "Bad Image"'],
    ['version: 1.10', 'canary.version', 'expected a version string of letters, digits, ".", "_", "+" or "-" (quote it, e.g. version: "1.10"), got 1.10, which YAML reads as the number 1.1; quote it to keep it a string'],
    ['version: "1;0"', 'canary.version', 'expected a version string of letters, digits, ".", "_", "+" or "-" (quote it, e.g. version: "1.10"); the value contains ";", which would change the meaning of a generated file; refusing to render it, got "1;0"'],
    ['step_seconds: 4', 'canary.step_seconds', 'expected an integer from 5 to 3600 seconds, got 4 (a number)'],
    ['step_seconds: 3601', 'canary.step_seconds', 'expected an integer from 5 to 3600 seconds, got 3601 (a number)'],
    ['sticky: yes', 'canary.sticky', 'expected true or false, got "yes"'],
    ['failure_limit: -1', 'canary.failure_limit', 'expected an integer from 0 to 10, got -1 (a number)'],
    ['failure_limit: 11', 'canary.failure_limit', 'expected an integer from 0 to 10, got 11 (a number)'],
    ['inconclusive_limit: 1.5', 'canary.inconclusive_limit', 'expected an integer from 0 to 10, got 1.5 (a number)'],
    ['on_inconclusive: abort', 'canary.on_inconclusive', 'expected one of "pause", "fail", got "abort"'],
    ['max_duration: 59', 'canary.max_duration', 'expected an integer from 60 to 86400 seconds, got 59 (a number)'],
    ['max_duration: 86401', 'canary.max_duration', 'expected an integer from 60 to 86400 seconds, got 86401 (a number)'],
  ];
  for (const [line, path, message] of cases) {
    it(`${line} -> ${path}`, () => {
      const text = withCanary('steps: [10, 25, 50, 100]', line);
      const key = at(text, line);
      // Reported at the value, after "key: ".
      expect(only(text)).toEqual({ path, message, line: key.line, col: key.col + line.indexOf(': ') + 2 });
    });
  }

  it('an unknown key gets a did-you-mean and the allowed keys', () => {
    const text = withCanary('steps: [10, 100]', 'stiky: true');
    expect(only(text)).toEqual({
      path: 'canary.stiky',
      message:
        'unknown key; did you mean "canary.sticky"? (allowed here: image, version, steps, step_seconds, sticky, failure_limit, inconclusive_limit, on_inconclusive, max_duration)',
      ...at(text, 'stiky'),
    });
  });

  it('a section that is not a mapping', () => {
    const text = `${DEFAULT_MANIFEST}\ncanary: true\n`;
    expect(only(text)).toEqual({ path: 'canary', message: 'expected a mapping of keys, got true (a boolean)', ...at(text, 'true', '\ncanary: ') });
  });
});

describe('canary.steps', () => {
  const WHAT = 'expected a list of 1 to 20 traffic weights in %, integers from 1 to 100 (e.g. [10, 25, 50, 100])';

  it('missing: the key is required', () => {
    const text = withCanary('sticky: true');
    expect(only(text)).toEqual({ path: 'canary.steps', message: `${WHAT}, but the key is missing`, ...at(text, 'canary:', '\ncanary:') });
  });

  it('empty, a single number, or more than 20', () => {
    let text = withCanary('steps: []');
    expect(only(text)).toEqual({ path: 'canary.steps', message: `${WHAT}, got an empty list`, ...at(text, '[]') });
    text = withCanary('steps: 100');
    expect(only(text)).toEqual({ path: 'canary.steps', message: `${WHAT}, got 100 (a number)`, ...at(text, '100') });
    const many = Array.from({ length: 21 }, (_, i) => 80 + i);
    text = withCanary(`steps: [${many.join(', ')}]`, 'max_duration: 86400');
    expect(only(text)).toEqual({ path: 'canary.steps', message: `${WHAT}, got a list of 21`, ...at(text, '[') });
  });

  it('each weight out of range is reported at the item itself', () => {
    const text = withCanary('steps: [0, 101, 2.5, "50", 100]');
    expect(problemsOf(text)).toEqual([
      { path: 'canary.steps.0', message: 'expected an integer from 1 to 100%, got 0 (a number)', ...at(text, '0,') },
      { path: 'canary.steps.1', message: 'expected an integer from 1 to 100%, got 101 (a number)', ...at(text, '101') },
      { path: 'canary.steps.2', message: 'expected an integer from 1 to 100%, got 2.5 (a number)', ...at(text, '2.5') },
      { path: 'canary.steps.3', message: 'expected an integer from 1 to 100%, got "50"', ...at(text, '"50"') },
    ]);
  });

  it('strictly increasing: a repeated weight, at the repeat', () => {
    const text = withCanary('steps: [10, 25, 25, 100]');
    expect(only(text)).toEqual({
      path: 'canary.steps.2',
      message: 'expected steps in strictly increasing order (a weight above the 25% before it), got 25 (a number)',
      ...at(text, '25, 100'),
    });
  });

  it('strictly increasing: a smaller weight in a block list, at its line', () => {
    const text = withCanary('steps:', '  - 50', '  - 10', '  - 100');
    expect(only(text)).toEqual({
      path: 'canary.steps.1',
      message: 'expected steps in strictly increasing order (a weight above the 50% before it), got 10 (a number)',
      ...at(text, '10'),
    });
  });

  it('the last step must be 100', () => {
    const text = withCanary('steps: [10, 25, 50]');
    expect(only(text)).toEqual({
      path: 'canary.steps.2',
      message: 'expected 100 as the last step (a finished rollout sends all traffic to the canary), got 50 (a number)',
      ...at(text, '50'),
    });
  });

  it('max_duration below the sum of the step windows', () => {
    const text = withCanary('steps: [10, 25, 50, 100]', 'step_seconds: 60', 'max_duration: 239');
    expect(only(text)).toEqual({
      path: 'canary.max_duration',
      message: 'expected at least the sum of the step windows (4 steps x 60 s = 240 s), got 239 (a number)',
      ...at(text, '239'),
    });
  });

  it('max_duration\'s default (3600 s) is checked too', () => {
    const text = withCanary('steps: [25, 50, 100]', 'step_seconds: 1800');
    expect(only(text)).toMatchObject({
      path: 'canary.max_duration',
      message: 'expected at least the sum of the step windows (3 steps x 1800 s = 5400 s), but the key is missing',
    });
  });

  it('not ending at 100 and too short a duration are both reported', () => {
    const text = withCanary('steps: [10, 50]', 'step_seconds: 60', 'max_duration: 60');
    expect(problemsOf(text).map((p) => p.path)).toEqual(['canary.steps.1', 'canary.max_duration']);
  });
});

describe('policy.canary relative thresholds', () => {
  const cases: Array<[line: string, path: string, message: string]> = [
    ['max_error_rate_increase: -0.01', 'policy.canary.max_error_rate_increase', 'expected a fraction from 0 to 1 (e.g. 0.01: at most 1 percentage point above stable), got -0.01 (a number)'],
    ['max_error_rate_increase: 1.5', 'policy.canary.max_error_rate_increase', 'expected a fraction from 0 to 1 (e.g. 0.01: at most 1 percentage point above stable), got 1.5 (a number)'],
    ['max_error_rate_increase: "1%"', 'policy.canary.max_error_rate_increase', 'expected a fraction from 0 to 1 (e.g. 0.01: at most 1 percentage point above stable), got "1%"'],
    ['max_p99_ratio: 0.9', 'policy.canary.max_p99_ratio', 'expected a ratio from 1 to 1000 (e.g. 1.5: canary p99 at most 1.5 x stable p99), got 0.9 (a number)'],
    ['max_p99_ratio: 1001', 'policy.canary.max_p99_ratio', 'expected a ratio from 1 to 1000 (e.g. 1.5: canary p99 at most 1.5 x stable p99), got 1001 (a number)'],
    ['max_p99_ratio: .inf', 'policy.canary.max_p99_ratio', 'expected a ratio from 1 to 1000 (e.g. 1.5: canary p99 at most 1.5 x stable p99), got .inf, which YAML reads as the number Infinity; quote it to keep it a string'],
  ];
  for (const [line, path, message] of cases) {
    it(`${line} -> ${path}`, () => {
      const text = withPolicy(line);
      const key = at(text, line, 'min_requests: 20');
      expect(only(text)).toEqual({ path, message, line: key.line, col: key.col + line.indexOf(': ') + 2 });
    });
  }
});

describe('cross-field rules judge only values that passed their own checks', () => {
  it('an out-of-range step_seconds is one problem, not also a max_duration one', () => {
    expect(problemsOf(withCanary('steps: [10, 25, 50, 100]', 'step_seconds: 3601')).map((p) => p.path)).toEqual(['canary.step_seconds']);
  });

  it('an out-of-range weight is not also an ordering problem', () => {
    expect(problemsOf(withCanary('steps: [10, 0, 100]')).map((p) => p.path)).toEqual(['canary.steps.1']);
    expect(problemsOf(withCanary('steps: [10, 101]')).map((p) => p.path)).toEqual(['canary.steps.1']);
  });
});

describe('canary.steps: one ordering problem at a time, and the duration still judged', () => {
  it('unordered steps report the first repeat only, and too short a max_duration beside it', () => {
    const text = withCanary('steps: [50, 10, 5]', 'step_seconds: 60', 'max_duration: 100');
    expect(problemsOf(text).map((p) => `${p.path}: ${p.message}`)).toEqual([
      'canary.steps.1: expected steps in strictly increasing order (a weight above the 50% before it), got 10 (a number)',
      'canary.max_duration: expected at least the sum of the step windows (3 steps x 60 s = 180 s), got 100 (a number)',
    ]);
  });
});
