import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatherHostFacts } from '../../src/policy/host-facts.js';
import { policyVersion, readPolicyFiles } from '../../src/policy/version.js';
import { policiesDir } from '../helpers/opa.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'swiftdeploy-policy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(process.platform !== 'linux')('gatherHostFacts on this Linux host (skipped elsewhere: asserts Linux sources)', () => {
  it('measures every fact with a named source', async () => {
    const f = await gatherHostFacts({ projectDir: dir });
    expect(f.disk_free_gb).toBeGreaterThan(0);
    expect(f.disk_path).toBe(dir);
    expect(f.cpu_cores).toBe(os.cpus().length);
    expect(f.cpu_load_1m).toBeGreaterThanOrEqual(0);
    expect(f.cpu_load_per_core).toBeGreaterThanOrEqual(0);
    expect(f.memory_available_mb).toBeGreaterThan(0);
    expect(f.sources).toMatchObject({ disk_free_gb: `statfs:${dir}`, cpu_load_1m: 'os.loadavg', memory_available_mb: '/proc/meminfo:MemAvailable' });
  });

  it('falls back to the project dir when the docker data root does not exist here', async () => {
    const f = await gatherHostFacts({ projectDir: dir, dockerDataRoot: path.join(dir, 'no-such-docker-root') });
    expect(f.disk_path).toBe(dir);
    expect(f.sources.disk_free_gb).toMatch(/not measurable here: ENOENT/);
  });
});

describe('readPolicyFiles / policyVersion', () => {
  it('reads .rego files recursively, leaves out *_test.rego, and versions them', async () => {
    const root = path.join(dir, 'policies');
    await mkdir(path.join(root, 'lib'), { recursive: true });
    await writeFile(path.join(root, 'canary.rego'), 'package swiftdeploy.canary\n');
    await writeFile(path.join(root, 'canary_test.rego'), 'package swiftdeploy.canary_test\n');
    await writeFile(path.join(root, 'lib', 'util.rego'), 'package swiftdeploy.lib\n');
    await writeFile(path.join(root, 'README.md'), 'not policy');
    const files = await readPolicyFiles(root);
    expect(files.map((f) => f.path).sort()).toEqual(['canary.rego', 'lib/util.rego']);

    const before = policyVersion(await readPolicyFiles(root), { a: 1 });
    await writeFile(path.join(root, 'canary_test.rego'), 'package swiftdeploy.canary_test\n# more tests\n');
    expect(policyVersion(await readPolicyFiles(root), { a: 1 })).toBe(before);
    await writeFile(path.join(root, 'canary.rego'), 'package swiftdeploy.canary\n\n');
    expect(policyVersion(await readPolicyFiles(root), { a: 1 })).not.toBe(before);
  });

  it('treats a missing directory as no files (a central OPA holds the rules)', async () => {
    expect(await readPolicyFiles(path.join(dir, 'absent'))).toEqual([]);
    expect(policyVersion(await readPolicyFiles(path.join(dir, 'absent')), { a: 1 })).toBe(policyVersion([], { a: 1 }));
  });

  it("finds the project's own policies (the two domains, their shared number formatting, and the guard)", async () => {
    expect((await readPolicyFiles(policiesDir)).map((f) => f.path).sort()).toEqual(['canary.rego', 'format.rego', 'guard.rego', 'infrastructure.rego']);
  });
});
