/**
 * The OPA release is pinned in one place (src/policy/opa-version.ts); everything that names it must
 * agree with it: the manifest default, set-up (which parses the constant), the README.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/manifest/load.js';
import { OPA_IMAGE, OPA_VERSION } from '../../src/policy/opa-version.js';
import { testManifest } from '../helpers/manifest.js';

const repo = path.resolve(import.meta.dirname, '../..');

describe('the pinned OPA release', () => {
  it('is a plain x.y.z that scripts/setup.sh can read from the source line', () => {
    expect(OPA_VERSION).toMatch(/^1\.\d+\.\d+$/);
    const line = readFileSync(path.join(repo, 'src/policy/opa-version.ts'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('export const OPA_VERSION = '));
    // The exact shape setup.sh's sed expects.
    expect(line).toBe(`export const OPA_VERSION = '${OPA_VERSION}';`);
    expect(readFileSync(path.join(repo, 'scripts/setup.sh'), 'utf8')).toContain(
      `sed -n "s/^export const OPA_VERSION = '\\([^']*\\)';$/\\1/p" src/policy/opa-version.ts`,
    );
  });

  it("is the default opa.image's tag", () => {
    const manifest = parseManifest(testManifest({ 'opa.image': undefined }), 'manifest.yaml');
    expect(manifest.opa.image).toBe(`openpolicyagent/opa:${OPA_VERSION}`);
    expect(OPA_IMAGE).toBe(`openpolicyagent/opa:${OPA_VERSION}`);
  });

  it('is the one the README names', () => {
    const readme = readFileSync(path.join(repo, 'README.md'), 'utf8');
    const named = new Set([...readme.matchAll(/OPA (\d+\.\d+\.\d+)|opa:(\d+\.\d+\.\d+)|opa@v(\d+\.\d+\.\d+)|opa-v(\d+\.\d+\.\d+)/g)].map((m) => m.slice(1).find(Boolean)));
    expect([...named]).toEqual([OPA_VERSION]);
  });
});
