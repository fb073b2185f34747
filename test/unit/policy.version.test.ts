import { describe, expect, it } from 'vitest';
import { policyVersion, type PolicyFile } from '../../src/policy/version.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const files: PolicyFile[] = [
  { path: 'canary.rego', bytes: bytes('package swiftdeploy.canary\n') },
  { path: 'infrastructure.rego', bytes: bytes('package swiftdeploy.infrastructure\n') },
];
const thresholds = { min_disk_free_gb: 10, max_cpu_load: 2, min_memory_available_mb: 512 };

describe('policyVersion', () => {
  const base = policyVersion(files, thresholds);

  it('is sha256:<64 hex>', () => {
    expect(base).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('is stable: same files and thresholds, in any order, give the same version', () => {
    expect(policyVersion([...files].reverse(), { max_cpu_load: 2, min_memory_available_mb: 512, min_disk_free_gb: 10 })).toBe(base);
  });

  it('changes when any byte of any policy changes', () => {
    const f = files[0]!;
    for (let i = 0; i < f.bytes.length; i += 1) {
      const changed = Uint8Array.from(f.bytes);
      changed[i] = changed[i]! ^ 1;
      expect(policyVersion([{ path: f.path, bytes: changed }, files[1]!], thresholds)).not.toBe(base);
    }
  });

  it('changes when a threshold changes, appears or disappears', () => {
    expect(policyVersion(files, { ...thresholds, max_cpu_load: 2.0001 })).not.toBe(base);
    expect(policyVersion(files, { ...thresholds, extra: 1 })).not.toBe(base);
    const { max_cpu_load: _dropped, ...fewer } = thresholds;
    expect(policyVersion(files, fewer)).not.toBe(base);
  });

  it('changes when a file is renamed, added or removed', () => {
    expect(policyVersion([{ ...files[0]!, path: 'canary2.rego' }, files[1]!], thresholds)).not.toBe(base);
    expect(policyVersion([...files, { path: 'extra.rego', bytes: bytes('') }], thresholds)).not.toBe(base);
    expect(policyVersion([files[0]!], thresholds)).not.toBe(base);
  });

  it('frames files so moving bytes across a file boundary changes the version', () => {
    const a = policyVersion([{ path: 'a.rego', bytes: bytes('xy') }, { path: 'b.rego', bytes: bytes('z') }], {});
    const b = policyVersion([{ path: 'a.rego', bytes: bytes('x') }, { path: 'b.rego', bytes: bytes('yz') }], {});
    expect(a).not.toBe(b);
  });
});
