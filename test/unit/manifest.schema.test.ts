import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ManifestError } from '../../src/errors.js';
import { parseManifest } from '../../src/manifest/load.js';
import { only, problemsOf } from '../helpers/manifest-problems.js';

const DEFAULT_MANIFEST = readFileSync(fileURLToPath(new URL('../../manifest.yaml', import.meta.url)), 'utf8');

/** The manifest format swiftdeploy accepted before this project added keys: it must still load. */
const OLD_MANIFEST = `services:
  image: swiftdeploy-app:1.0.0
  port: 3000
  mode: stable
  version: "1.0.0"
  restart_policy: unless-stopped
  log_volume: swiftdeploy-logs

nginx:
  image: nginx:1.27-alpine
  port: 8080
  proxy_timeout: 30
  error_contact: oncall@example.com

network:
  name: swiftdeploy-net
  driver_type: bridge

opa:
  image: openpolicyagent/opa:1.4.2
  port: 8181

policy:
  infrastructure:
    min_disk_free_gb: 10
    max_cpu_load: 2.0
  canary:
    max_error_rate: 0.01
    max_p99_latency_seconds: 0.5

observability:
  history_file: history.jsonl
  audit_report: audit_report.md
  status_interval: 5
`;

/** Replaces exactly one occurrence of `from` in the default manifest (fails loudly if it is not there once). */
function edited(from: string, to: string, text = DEFAULT_MANIFEST): string {
  expect(text.split(from).length - 1, `"${from}" should occur exactly once`).toBe(1);
  return text.replace(from, to);
}


describe('a valid manifest', () => {
  it('loads the repository default manifest with every value as written', () => {
    const m = parseManifest(DEFAULT_MANIFEST, '/p/manifest.yaml');
    expect(m.project.name).toBe('swiftdeploy');
    expect(m.services).toMatchObject({ image: 'swiftdeploy-app:1.0.0', port: 3000, mode: 'stable', version: '1.0.0' });
    expect(m.services.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
    expect(m.nginx).toEqual({ image: 'nginx:1.27-alpine', port: 8080, proxy_timeout: 30, error_contact: 'oncall@example.com' });
    expect(m.policy.canary).toEqual({
      max_error_rate: 0.01,
      max_p99_latency_seconds: 0.5,
      window_seconds: 30,
      min_requests: 20,
      max_error_rate_increase: 0.01,
      max_p99_ratio: 1.5,
      mode: 'enforce',
    });
    expect(m.canary).toBeUndefined();
    expect(m.opa.url).toBeUndefined();
  });

  it('returns a frozen manifest', () => {
    const m = parseManifest(DEFAULT_MANIFEST, '/p/manifest.yaml');
    expect(Object.isFrozen(m)).toBe(true);
    expect(Object.isFrozen(m.services)).toBe(true);
    expect(() => {
      (m.services as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('fills in defaults for an old manifest without the new keys', () => {
    const m = parseManifest(OLD_MANIFEST, '/p/manifest.yaml');
    expect(m.project).toEqual({ name: 'swiftdeploy' });
    expect(m.services.health_timeout_seconds).toBe(60);
    expect(m.services.build).toBeUndefined(); // no build section: the image must exist already
    expect(m.policy.infrastructure).toEqual({ min_disk_free_gb: 10, max_cpu_load: 2, min_memory_available_mb: 256, mode: 'enforce' });
    expect(m.policy.canary).toMatchObject({ window_seconds: 30, min_requests: 20, mode: 'enforce' });
    expect(m.opa).toEqual({ image: 'openpolicyagent/opa:1.4.2', port: 8181, timeout_ms: 2000 });
    expect(m.opa.url).toBeUndefined();
  });

  it('defaults a missing observability section and build keys', () => {
    const noObs = OLD_MANIFEST.slice(0, OLD_MANIFEST.indexOf('observability:'));
    const m = parseManifest(`${noObs}`.replace('  log_volume: swiftdeploy-logs\n', '  log_volume: swiftdeploy-logs\n  build: {}\n'), 'm');
    expect(m.observability).toEqual({ history_file: 'history.jsonl', audit_report: 'audit_report.md', status_interval: 5 });
    expect(m.services.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
  });

  it('accepts the optional keys when given', () => {
    const m = parseManifest(
      edited('  timeout_ms: 2000\n', '  timeout_ms: 500\n  url: "https://opa.internal:8181"\n').replace(
        '    dockerfile: Dockerfile\n',
        '    dockerfile: Dockerfile\n    target: runtime\n    node_image: node:20.18-bookworm-slim\n',
      ),
      'm',
    );
    expect(m.opa.url).toBe('https://opa.internal:8181');
    expect(m.opa.timeout_ms).toBe(500);
    expect(m.services.build).toEqual({ context: '.', dockerfile: 'Dockerfile', target: 'runtime', node_image: 'node:20.18-bookworm-slim' });
  });

  it('keeps YAML 1.1 booleans as strings (YAML 1.2 core schema): restart_policy: no is "no"', () => {
    const m = parseManifest(edited('restart_policy: unless-stopped', 'restart_policy: no'), 'm');
    expect(m.services.restart_policy).toBe('no');
  });
});

describe('every invalid class is rejected with key path, expected and got', () => {
  it('wrong type: a string where an integer belongs', () => {
    const p = only(edited('port: 3000', 'port: "80a"'));
    expect(p).toMatchObject({ path: 'services.port', line: 8, col: 9 });
    expect(p.message).toBe('expected an integer from 1 to 65535, got "80a"');
  });

  it('wrong type: a mapping where a value belongs, and a value where a section belongs', () => {
    expect(only(edited('  port: 8080', '  port: {a: 1}')).message).toMatch(/^expected an integer from 1 to 65535, got a mapping$/);
    const section = only(edited('network:\n  name: swiftdeploy-net\n  driver_type: bridge', 'network: foo'));
    expect(section).toMatchObject({ path: 'network' });
    expect(section.message).toBe('expected a mapping of keys, got "foo"');
  });

  it('out of range, and a fraction where an integer belongs', () => {
    expect(only(edited('port: 8080', 'port: 70000'))).toMatchObject({
      path: 'nginx.port',
      message: 'expected an integer from 1 to 65535, got 70000 (a number)',
    });
    expect(only(edited('proxy_timeout: 30', 'proxy_timeout: 2.5')).message).toMatch(/^expected an integer from 1 to 3600 seconds, got 2.5/);
    expect(only(edited('max_error_rate: 0.01', 'max_error_rate: 1.5'))).toMatchObject({ path: 'policy.canary.max_error_rate' });
    expect(only(edited('timeout_ms: 2000', 'timeout_ms: 10')).message).toMatch(/from 50 to 60000 milliseconds, got 10/);
  });

  it('bad enum lists the allowed values', () => {
    const p = only(edited('mode: stable ', 'mode: blue '));
    expect(p).toMatchObject({ path: 'services.mode', line: 9 });
    expect(p.message).toBe('expected one of "stable", "canary", got "blue"');
    expect(only(edited('mode: enforce              # enforce | shadow', 'mode: audit')).message).toBe(
      'expected one of "enforce", "shadow", got "audit"',
    );
  });

  it('missing required key says the key is missing', () => {
    const p = only(edited('  port: 3000\n', ''));
    expect(p.path).toBe('services.port');
    expect(p.message).toBe('expected an integer from 1 to 65535, but the key is missing');
    expect(p.line).toBe(6); // the parent section's line: there is no line for a key that is absent
    const section = only(DEFAULT_MANIFEST.replace(/^opa:\n(?: {2}.*\n)+/m, ''));
    expect(section).toMatchObject({ path: 'opa', message: 'expected a mapping of keys, but the key is missing' });
  });

  it('an empty value is reported as nothing', () => {
    expect(only(edited('image: swiftdeploy-app:1.0.0', 'image:')).message).toMatch(/got nothing \(an empty value\)$/);
  });

  it('unknown key: error with a did-you-mean hint and the allowed keys', () => {
    const p = only(edited('  port: 3000\n', '  port: 3000\n  imgae: x\n'));
    expect(p).toMatchObject({ path: 'services.imgae', line: 9, col: 3 });
    expect(p.message).toContain('did you mean "services.image"?');
    expect(p.message).toContain('allowed here: image, port, mode');
    const top = only(`${DEFAULT_MANIFEST}observabilty:\n  x: 1\n`);
    expect(top.path).toBe('observabilty');
    expect(top.message).toContain('did you mean "observability"?');
    const nested = only(edited('    window_seconds: 30', '    windows_seconds: 30'));
    expect(nested.path).toBe('policy.canary.windows_seconds');
    expect(nested.message).toContain('did you mean "policy.canary.window_seconds"?');
  });

  it('unknown key far from every known key gets no hint', () => {
    const p = only(edited('  port: 3000\n', '  port: 3000\n  zzzzzzzz: 1\n'));
    expect(p.message).not.toContain('did you mean');
    expect(p.message).toContain('unknown key');
  });

  it('YAML syntax error gives line and column', () => {
    const p = problemsOf(edited('  port: 3000', '  port: [3000'))[0]!;
    expect(p.message).toMatch(/^invalid YAML: /);
    expect(p.line).toBe(9);
    expect(p.col).toBeGreaterThan(0);
    const err = catchError(edited('  port: 3000', '  port: [3000'));
    expect(err.message).toMatch(/\/p\/manifest\.yaml:9:\d+: invalid YAML/);
  });

  it('duplicate key is an error at the second occurrence', () => {
    const p = only(edited('  port: 3000\n', '  port: 3000\n  port: 3001\n'));
    expect(p).toMatchObject({ line: 9, col: 3 });
    expect(p.message).toMatch(/invalid YAML: .*unique/);
  });

  it('version: 1.10 is not silently read as 1.1', () => {
    const p = only(edited('version: "1.0.0"', 'version: 1.10'));
    expect(p.path).toBe('services.version');
    expect(p.message).toContain('got 1.10, which YAML reads as the number 1.1; quote it to keep it a string');
    expect(only(edited('version: "1.0.0"', 'version: 2')).message).toMatch(/got 2 \(a number\)$/);
  });

  it('an empty file and non-mapping documents are rejected', () => {
    for (const [text, got] of [
      ['', 'got an empty document'],
      ['# only a comment\n', 'got an empty document'],
      ['- services\n- nginx\n', 'got a list'],
      ['hello\n', 'got "hello"'],
    ] as const) {
      const p = only(text);
      expect(p.path).toBe('');
      expect(p.message).toMatch(/^expected a mapping of sections \(project, services, nginx/);
      expect(p.message).toContain(got);
    }
  });

  it('more than one YAML document is rejected', () => {
    expect(only(`${DEFAULT_MANIFEST}---\nservices: {}\n`).message).toMatch(/invalid YAML: .*multiple documents/);
  });
});

describe('all problems at once', () => {
  it('reports every problem in one error, in file order, each with its path and position', () => {
    let text = edited('port: 3000', 'port: "80a"');
    text = edited('mode: stable ', 'mode: blue ', text);
    text = edited('version: "1.0.0"', 'version: 1.10', text);
    text = edited('  proxy_timeout: 30\n', '  proxy_timeout: 30\n  proxy_timout: 31\n', text);
    text = edited('error_contact: oncall@example.com', 'error_contact: not-an-email', text);
    text = edited('driver_type: bridge', 'driver_type: host', text);
    text = edited('max_cpu_load: 2.0', 'max_cpu_load: "high"', text);
    text = edited('history_file: history.jsonl', 'history_file: /var/log/h', text);
    const problems = problemsOf(text);
    expect(problems.map((p) => p.path)).toEqual([
      'services.port',
      'services.mode',
      'services.version',
      'nginx.proxy_timout',
      'nginx.error_contact',
      'network.driver_type',
      'policy.infrastructure.max_cpu_load',
      'observability.history_file',
    ]);
    for (const p of problems) {
      expect(p.line, p.path).toBeGreaterThan(0);
      expect(p.message, p.path).toMatch(/^(expected |unknown key)/);
    }
    const lines = problems.map((p) => p.line!);
    expect(lines).toEqual([...lines].sort((a, b) => a - b));

    // The rendered message names the file, the count and every problem with file:line:col.
    const err = catchError(text);
    expect(err.message.split('\n')[0]).toBe('/p/manifest.yaml: 8 problems');
    expect(err.message).toContain('/p/manifest.yaml:8:9: services.port: expected an integer from 1 to 65535, got "80a"');
    expect(err.message).toContain('network.driver_type: expected one of "bridge", "overlay", "macvlan", "ipvlan", got "host"');
  });
});

describe('history_file and audit_report stay inside the project', () => {
  for (const key of ['history_file', 'audit_report'] as const) {
    const current = key === 'history_file' ? 'history_file: history.jsonl' : 'audit_report: audit_report.md';
    for (const bad of ['/etc/passwd', '../outside.jsonl', 'logs/../../outside', '..', 'a/..']) {
      it(`${key}: ${bad} is rejected`, () => {
        const p = only(edited(current, `${key}: "${bad}"`));
        expect(p.path).toBe(`observability.${key}`);
        expect(p.message).toBe(`expected a relative file path inside the project directory (no absolute path, no ".."), got ${JSON.stringify(bad)}`);
      });
    }
  }

  it('a nested relative path is accepted', () => {
    expect(parseManifest(edited('history_file: history.jsonl', 'history_file: state/history.jsonl'), 'm').observability.history_file).toBe(
      'state/history.jsonl',
    );
  });

  it('./ and . segments are accepted for a path of its own', () => {
    const m = parseManifest(edited('history_file: history.jsonl', 'history_file: ./state/./history.jsonl'), 'm');
    expect(m.observability.history_file).toBe('./state/./history.jsonl');
  });
});

describe('history_file and audit_report name a file of their own, however spelled', () => {
  // Symlinks and hard links are judged when a command resolves the path (test/integration/paths.matrix.test.ts).
  const cases: Array<[key: 'history_file' | 'audit_report', value: string, message: string]> = [
    ['history_file', 'manifest.yaml/', 'but it ends with "/", which names a directory'],
    ['history_file', '.', 'but its last component is ".", which names a directory'],
    ['history_file', './', 'but it ends with "/", which names a directory'],
    ['history_file', 'state/.', 'but its last component is ".", which names a directory'],
    ['audit_report', 'history.jsonl/', 'but it ends with "/", which names a directory'],
    ['history_file', './manifest.yaml', 'which is the manifest'],
    ['history_file', 'nginx/./nginx.conf', 'which is a generated file'],
    ['history_file', 'nginx//other.jsonl', 'which is the generated nginx/ directory'],
    ['history_file', './docker-compose.yml', 'which is a generated file'],
    ['history_file', '.swiftdeploy/lock', 'which is the project lock'],
    ['audit_report', './.swiftdeploy/chaos-token', 'which is the chaos token'],
    ['audit_report', '.swiftdeploy', "which is swiftdeploy's state directory"],
    ['audit_report', './history.jsonl', 'which is the history file'],
    ['audit_report', 'history.jsonl.lock', "which is the history file's lock"],
  ];
  for (const [key, value, message] of cases) {
    it(`${key}: ${JSON.stringify(value)} is refused: ${message}`, () => {
      const current = key === 'history_file' ? 'history_file: history.jsonl' : 'audit_report: audit_report.md';
      const p = only(edited(current, `${key}: "${value}"`));
      expect(p.path).toBe(`observability.${key}`);
      expect(p.message).toContain(message);
      expect(p.message).toContain(JSON.stringify(value));
      expect(p.line).toBeGreaterThan(0);
    });
  }

  it('the two may not name the same file: one problem, on the second key', () => {
    let text = edited('history_file: history.jsonl', 'history_file: ./shared.log');
    text = edited('audit_report: audit_report.md', 'audit_report: shared.log', text);
    const p = only(text);
    expect(p.path).toBe('observability.audit_report');
    expect(p.message).toContain('which is the history file');
  });
});

function catchError(text: string): ManifestError {
  try {
    parseManifest(text, '/p/manifest.yaml');
  } catch (err) {
    return err as ManifestError;
  }
  throw new Error('expected the manifest to be rejected');
}
