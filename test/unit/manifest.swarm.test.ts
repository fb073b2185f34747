/**
 * `runtime:` and the `swarm:` section: defaults (old manifests unchanged), every range, the
 * cross-field rules, each refusal with its key path and line:col.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/manifest/load.js';
import { swarmConfigOf } from '../../src/manifest/schema.js';
import { only, problemsOf } from '../helpers/manifest-problems.js';

const DEFAULT_MANIFEST = readFileSync(fileURLToPath(new URL('../../manifest.yaml', import.meta.url)), 'utf8');

function withSwarm(...lines: string[]): string {
  return `${DEFAULT_MANIFEST}\nruntime: swarm\nswarm:\n${lines.map((l) => `  ${l}\n`).join('')}`;
}

/** 1-based line and column of the first `needle` after the `swarm:` line. */
function at(text: string, needle: string, after = '\nswarm:\n'): { line: number; col: number } {
  const start = text.lastIndexOf(after);
  const i = text.indexOf(needle, start < 0 ? 0 : start);
  expect(i, `"${needle}" should be in the text`).toBeGreaterThanOrEqual(0);
  const before = text.slice(0, i).split('\n');
  return { line: before.length, col: before[before.length - 1]!.length + 1 };
}

const DEFAULTS = {
  replicas: 3,
  publish: 'ingress',
  update: { parallelism: 1, delay: 0, order: 'start-first', failure_action: 'rollback', monitor: 15 },
  rollback: { parallelism: 1, delay: 0, order: 'start-first', failure_action: 'pause', monitor: 15 },
  placement: { constraints: [] },
};

describe('runtime: valid', () => {
  it('absent: compose, and no swarm section (an old manifest loads as before)', () => {
    const m = parseManifest(DEFAULT_MANIFEST, 'm');
    expect(m.runtime).toBe('compose');
    expect(m.swarm).toBeUndefined();
  });

  it('runtime: swarm alone: the section stays absent and swarmConfigOf gives every default', () => {
    const m = parseManifest(`${DEFAULT_MANIFEST}\nruntime: swarm\n`, 'm');
    expect(m.runtime).toBe('swarm');
    expect(m.swarm).toBeUndefined();
    expect(swarmConfigOf(m)).toEqual(DEFAULTS);
  });

  it('an empty-ish swarm section takes every default: start-first, failure_action rollback (not Swarm\'s pause)', () => {
    expect(parseManifest(withSwarm('replicas: 3'), 'm').swarm).toEqual(DEFAULTS);
  });

  it('every key given', () => {
    const m = parseManifest(
      withSwarm(
        'replicas: 5',
        'publish: host',
        'update: { parallelism: 2, delay: 3, order: stop-first, failure_action: pause, monitor: 30 }',
        'rollback: { parallelism: 0, delay: 1, order: stop-first, failure_action: continue, monitor: 5 }',
        'placement:',
        '  constraints: ["node.role==manager", "node.labels.zone!=b"]',
      ),
      'm',
    );
    expect(m.swarm).toEqual({
      replicas: 5,
      publish: 'host',
      update: { parallelism: 2, delay: 3, order: 'stop-first', failure_action: 'pause', monitor: 30 },
      rollback: { parallelism: 0, delay: 1, order: 'stop-first', failure_action: 'continue', monitor: 5 },
      placement: { constraints: ['node.role==manager', 'node.labels.zone!=b'] },
    });
  });
});

describe('swarm: each key out of range or of the wrong type, with key path and line:col', () => {
  const cases: Array<[line: string, path: string, message: string]> = [
    ['replicas: 0', 'swarm.replicas', 'expected an integer from 1 to 100, got 0 (a number)'],
    ['replicas: 101', 'swarm.replicas', 'expected an integer from 1 to 100, got 101 (a number)'],
    ['replicas: "3"', 'swarm.replicas', 'expected an integer from 1 to 100, got "3"'],
    ['publish: mesh', 'swarm.publish', 'expected one of "ingress", "host", got "mesh"'],
  ];
  for (const [line, path, message] of cases) {
    it(`${line} -> ${path}`, () => {
      const text = withSwarm(line);
      const key = at(text, line);
      expect(only(text)).toEqual({ path, message, line: key.line, col: key.col + line.indexOf(': ') + 2 });
    });
  }

  const nested: Array<[lines: string[], needle: string, path: string, message: RegExp]> = [
    [['update:', '  order: sideways'], 'sideways', 'swarm.update.order', /^expected one of "start-first", "stop-first"/],
    [['update:', '  failure_action: ignore'], 'ignore', 'swarm.update.failure_action', /^expected one of "rollback", "pause", "continue"/],
    [['rollback:', '  failure_action: rollback'], 'rollback\n', 'swarm.rollback.failure_action', /^expected one of "pause", "continue"/],
    [['update:', '  monitor: 0'], '0', 'swarm.update.monitor', /^expected an integer from 1 to 3600 seconds/],
    [['update:', '  parallelism: -1'], '-1', 'swarm.update.parallelism', /^expected an integer from 0 to 100/],
    [['placement:', '  constraints: ["node.role == manager"]'], '"node.role', 'swarm.placement.constraints.0', /whitespace/],
    [['placement:', '  constraints: ["node.role==manager;rm"]'], '"node.role', 'swarm.placement.constraints.0', /";"/],
    [['placement:', '  constraints: ["role==manager"]'], '"role', 'swarm.placement.constraints.0', /^expected a placement constraint without spaces/],
  ];
  for (const [lines, needle, path, message] of nested) {
    it(`${lines.join(' ')} -> ${path}`, () => {
      const text = withSwarm(...lines);
      const p = only(text);
      const key = at(text, needle, lines.at(-1)!.split(':')[0]!);
      expect(p.path).toBe(path);
      expect(p.message).toMatch(message);
      expect({ line: p.line, col: p.col }).toEqual(key);
    });
  }

  it('an unknown key is named', () => {
    const p = only(withSwarm('replica: 3'));
    expect(p.path).toMatch(/^swarm/);
    expect(p.message).toMatch(/replica/);
  });
});

describe('runtime: the cross-field rules', () => {
  it('runtime: kubernetes is refused with the choices', () => {
    const text = `${DEFAULT_MANIFEST}\nruntime: kubernetes\n`;
    const p = only(text);
    expect(p).toMatchObject({ path: 'runtime', line: text.split('\n').length - 1 });
    expect(p.message).toMatch(/^expected one of "compose", "swarm"/);
  });

  it('a swarm section under runtime compose is refused at swarm', () => {
    const text = `${DEFAULT_MANIFEST}\nswarm:\n  replicas: 3\n`;
    const p = only(text);
    expect(p.path).toBe('swarm');
    expect(p.message).toBe('expected runtime: swarm for a swarm: section (runtime is "compose"), got a mapping');
  });

  it('runtime swarm needs a bridge network for the OPA sidecar', () => {
    const text = withSwarm('replicas: 2').replace('driver_type: bridge', 'driver_type: overlay');
    const p = only(text);
    expect(p.path).toBe('network.driver_type');
    expect(p.message).toMatch(/^expected "bridge" with runtime: swarm/);
    expect(p.line).toBe(at(text, 'driver_type', '\nnetwork:\n').line);
  });

  it('runtime swarm with a canary: section needs publish: host (ingress, the default, is refused saying why)', () => {
    for (const publish of [[], ['publish: ingress']]) {
      const problems = problemsOf(`${withSwarm('replicas: 2', ...publish)}canary:\n  steps: [50, 100]\n`);
      expect(problems.map((p) => p.path)).toEqual(['canary']);
      expect(problems[0]!.message).toMatch(/^expected swarm\.publish: host for a progressive canary with runtime: swarm \(nginx is then pinned to the manager and reloaded in place/);
    }
  });

  it('runtime swarm, publish: host, with a canary: section is accepted', () => {
    const m = parseManifest(`${withSwarm('replicas: 2', 'publish: host')}canary:\n  steps: [50, 100]\n`, 'm');
    expect(m.canary?.steps).toEqual([50, 100]);
    expect(m.swarm?.publish).toBe('host');
  });
});
