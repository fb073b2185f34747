import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ManifestError } from '../../src/errors.js';
import { parseManifest } from '../../src/manifest/load.js';
import { setServicesKeys, setServicesMode } from '../../src/manifest/edit.js';

const DEFAULT_MANIFEST = readFileSync(fileURLToPath(new URL('../../manifest.yaml', import.meta.url)), 'utf8');

/** Indices of the lines that differ between two texts of equal line count. */
function changedLines(a: string, b: string): number[] {
  const x = a.split('\n');
  const y = b.split('\n');
  expect(y).toHaveLength(x.length);
  return x.flatMap((line, i) => (line === y[i] ? [] : [i]));
}

describe('setServicesMode', () => {
  it('changes exactly the services.mode line and keeps its trailing comment', () => {
    const next = setServicesMode(DEFAULT_MANIFEST, 'canary', 'manifest.yaml');
    const lines = changedLines(DEFAULT_MANIFEST, next);
    expect(lines).toHaveLength(1);
    const i = lines[0]!;
    expect(DEFAULT_MANIFEST.split('\n')[i]).toBe('  mode: stable                 # stable | canary; change it with `swiftdeploy promote`');
    expect(next.split('\n')[i]).toBe('  mode: canary                 # stable | canary; change it with `swiftdeploy promote`');
    // Everything else, byte for byte: the text outside the edited value is identical.
    const at = DEFAULT_MANIFEST.indexOf('mode: stable') + 'mode: '.length;
    expect(next.slice(0, at)).toBe(DEFAULT_MANIFEST.slice(0, at));
    expect(next.slice(at + 'canary'.length)).toBe(DEFAULT_MANIFEST.slice(at + 'stable'.length));
    expect(parseManifest(next, 'm').services.mode).toBe('canary');
  });

  it('leaves policy.*.mode alone (only services.mode is edited)', () => {
    const next = setServicesMode(DEFAULT_MANIFEST, 'canary', 'manifest.yaml');
    const m = parseManifest(next, 'm');
    expect(m.policy.infrastructure.mode).toBe('enforce');
    expect(m.policy.canary.mode).toBe('enforce');
  });

  it('round-trips: stable -> canary -> stable gives the original bytes', () => {
    const there = setServicesMode(DEFAULT_MANIFEST, 'canary', 'm');
    expect(there).not.toBe(DEFAULT_MANIFEST);
    expect(setServicesMode(there, 'stable', 'm')).toBe(DEFAULT_MANIFEST);
  });

  it('setting the current mode is a no-op', () => {
    expect(setServicesMode(DEFAULT_MANIFEST, 'stable', 'm')).toBe(DEFAULT_MANIFEST);
  });

  it('keeps the quoting style of the value', () => {
    for (const [written, expected] of [
      ['"stable"', '"canary"'],
      ["'stable'", "'canary'"],
      ['stable', 'canary'],
    ] as const) {
      const text = DEFAULT_MANIFEST.replace('mode: stable ', `mode: ${written} `);
      const next = setServicesMode(text, 'canary', 'm');
      expect(changedLines(text, next)).toHaveLength(1);
      expect(next).toBe(text.replace(`mode: ${written} `, `mode: ${expected} `));
    }
  });

  it('keeps key order, blank lines, comments, CRLF line endings and unusual formatting elsewhere', () => {
    const text = [
      '# top comment',
      'policy:   # odd spacing kept',
      '  canary: {max_error_rate: 0.01, max_p99_latency_seconds: 0.5}',
      '  infrastructure:',
      '    min_disk_free_gb: 10',
      '    max_cpu_load: 2.0',
      '',
      'services:',
      '  mode:   canary    # two spaces before, four after',
      '  port: 3000',
      '  image: swiftdeploy-app:1.0.0',
      '  version: "1.0.0"',
      '  restart_policy: "no"',
      '  log_volume: logs',
      'nginx: {image: "nginx:1.27-alpine", port: 8080, proxy_timeout: 30, error_contact: oncall@example.com}',
      'network: {name: net, driver_type: bridge}',
      'opa: {image: "openpolicyagent/opa:1.4.2", port: 8181}',
      '',
    ].join('\r\n');
    const next = setServicesMode(text, 'stable', 'm');
    expect(next).toBe(text.replace('mode:   canary    #', 'mode:   stable    #'));
  });

  it('edits a flow-style services mapping in place', () => {
    const text = DEFAULT_MANIFEST.replace(
      /^services:\n(?: {2}.*\n)+/m,
      'services: {image: "swiftdeploy-app:1.0.0", port: 3000, mode: stable, version: "1.0.0", restart_policy: unless-stopped, log_volume: logs}\n',
    );
    const next = setServicesMode(text, 'canary', 'm');
    expect(next).toBe(text.replace('mode: stable,', 'mode: canary,'));
  });

  it('refuses a manifest without services.mode', () => {
    const text = DEFAULT_MANIFEST.replace(/^ {2}mode: stable .*\n/m, '');
    expect(text).not.toContain('mode: stable');
    expect(() => setServicesMode(text, 'canary', '/p/manifest.yaml')).toThrow(ManifestError);
    try {
      setServicesMode(text, 'canary', '/p/manifest.yaml');
    } catch (err) {
      expect((err as ManifestError).exitCode).toBe(2);
      expect((err as ManifestError).problems[0]).toMatchObject({ path: 'services.mode', message: expect.stringContaining('missing') });
    }
    expect(() => setServicesMode('nginx: {}\n', 'canary', 'm')).toThrow(/services\.mode/);
  });

  it('refuses services.mode written as a block scalar, which would change more than one line', () => {
    const text = DEFAULT_MANIFEST.replace(/^ {2}mode: stable .*\n/m, '  mode: |-\n    stable\n');
    expect(parseManifest(text, 'm').services.mode).toBe('stable');
    expect(() => setServicesMode(text, 'canary', 'm')).toThrow(ManifestError);
  });

  it('refuses to produce an invalid manifest (the edited text is re-validated)', () => {
    const text = DEFAULT_MANIFEST.replace('port: 3000', 'port: "80a"');
    expect(() => setServicesMode(text, 'canary', 'm')).toThrow(/services\.port/);
  });
});

describe('setServicesKeys (promote stable after a rollout)', () => {
  it('changes the image and version lines only, keeping comments and the version quoted', () => {
    const next = setServicesKeys(DEFAULT_MANIFEST, { image: 'registry.local:5000/team/app:2.1', version: '1.10' }, 'manifest.yaml');
    const lines = changedLines(DEFAULT_MANIFEST, next);
    expect(lines).toHaveLength(2);
    const after = next.split('\n');
    expect(after[lines[0]!]).toMatch(/^ {2}image: registry\.local:5000\/team\/app:2\.1/);
    // 1.10 would read back as the number 1.1 unquoted: it stays a quoted string.
    expect(after[lines[1]!]).toMatch(/^ {2}version: "1\.10"/);
    const before = DEFAULT_MANIFEST.split('\n');
    for (const i of lines) expect(after[i]!.split('#')[1]).toBe(before[i]!.split('#')[1]);
    const m = parseManifest(next, 'manifest.yaml');
    expect(m.services).toMatchObject({ image: 'registry.local:5000/team/app:2.1', version: '1.10' });
  });

  it('an unchanged value changes nothing; a missing key is refused naming it', () => {
    const m = parseManifest(DEFAULT_MANIFEST, 'manifest.yaml');
    expect(setServicesKeys(DEFAULT_MANIFEST, { image: m.services.image, version: m.services.version }, 'manifest.yaml')).toBe(DEFAULT_MANIFEST);
    const noVersion = DEFAULT_MANIFEST.replace(/^ {2}version:.*\n/m, '');
    expect(() => setServicesKeys(noVersion, { version: '2.0.0' }, 'manifest.yaml')).toThrow(ManifestError);
  });
});

describe('setServicesKeys quoting', () => {
  it('a plain version that would not read back as the same string is double-quoted', () => {
    const plain = DEFAULT_MANIFEST.replace(/^ {2}version: "1\.0\.0"/m, '  version: v1');
    expect(plain).not.toBe(DEFAULT_MANIFEST);
    const next = setServicesKeys(plain, { version: '1.10' }, 'manifest.yaml');
    expect(next).toMatch(/^ {2}version: "1\.10"/m);
    expect(setServicesKeys(plain, { version: 'v2' }, 'manifest.yaml')).toMatch(/^ {2}version: v2 /m);
  });
});
