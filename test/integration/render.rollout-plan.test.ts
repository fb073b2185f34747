/**
 * planGenerate with a rollout, on real files in a temp project: what a weight change will write.
 * The lifecycle (not yet) writes these plans; here they are written with writeFileAtomic as init does.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadManifest } from '../../src/manifest/load.js';
import { writeFileAtomic } from '../../src/render/atomic-write.js';
import { planGenerate, type GeneratePlan } from '../../src/render/generate.js';

const DEFAULT_MANIFEST = readFileSync(fileURLToPath(new URL('../../manifest.yaml', import.meta.url)), 'utf8');
const CANARY_MANIFEST = readFileSync(fileURLToPath(new URL('../fixtures/golden/canary/manifest.yaml', import.meta.url)), 'utf8');

let dir = '';
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function project(manifestText: string): Promise<string> {
  dir = await mkdtemp(path.join(os.tmpdir(), 'swiftdeploy-rollout-plan-'));
  await mkdir(path.join(dir, 'nginx'));
  const file = path.join(dir, 'manifest.yaml');
  await writeFile(file, manifestText);
  return file;
}

async function write(plans: GeneratePlan[]): Promise<void> {
  for (const p of plans) if (!p.unchanged) await writeFileAtomic(p.abs, p.content);
}

const relative = (plans: GeneratePlan[]) => plans.map((p) => [path.relative(dir, p.abs), p.unchanged]);

describe('planGenerate({ rollout })', () => {
  it('a weight change rewrites nginx.conf only; starting and ending the rollout also rewrites the compose file', async () => {
    const loaded = await loadManifest(await project(CANARY_MANIFEST));
    await write(await planGenerate(loaded));
    expect(relative(await planGenerate(loaded))).toEqual([
      ['nginx/nginx.conf', true],
      ['docker-compose.yml', true],
    ]);

    const start = await planGenerate(loaded, { rollout: { weight: 10 } });
    expect(relative(start)).toEqual([
      ['nginx/nginx.conf', false],
      ['docker-compose.yml', false],
    ]);
    await write(start);
    const compose = YAML.parse(await readFile(path.join(dir, 'docker-compose.yml'), 'utf8')) as { services: object };
    expect(Object.keys(compose.services)).toEqual(['app', 'app-canary', 'nginx', 'opa']);
    expect(await readFile(path.join(dir, 'nginx/nginx.conf'), 'utf8')).toContain('10% canary;');

    // Files swiftdeploy wrote itself are replaced without --force: a step is not drift.
    const step = await planGenerate(loaded, { rollout: { weight: 25 } });
    expect(relative(step)).toEqual([
      ['nginx/nginx.conf', false],
      ['docker-compose.yml', true],
    ]);
    await write(step);
    expect(await readFile(path.join(dir, 'nginx/nginx.conf'), 'utf8')).toContain('25% canary;');

    const end = await planGenerate(loaded);
    expect(relative(end)).toEqual([
      ['nginx/nginx.conf', false],
      ['docker-compose.yml', false],
    ]);
    await write(end);
    expect(relative(await planGenerate(loaded))).toEqual([
      ['nginx/nginx.conf', true],
      ['docker-compose.yml', true],
    ]);
  });

  it('a hand-edited nginx.conf is still refused during a rollout', async () => {
    const loaded = await loadManifest(await project(CANARY_MANIFEST));
    await write(await planGenerate(loaded, { rollout: { weight: 10 } }));
    const conf = path.join(dir, 'nginx/nginx.conf');
    await writeFile(conf, (await readFile(conf, 'utf8')).replace('10% canary;', '90% canary;'));
    await expect(planGenerate(loaded, { rollout: { weight: 25 } })).rejects.toThrow(/nginx\/nginx\.conf was edited by hand/);
  });

  it('without canary: a rollout changes nothing', async () => {
    const loaded = await loadManifest(await project(DEFAULT_MANIFEST));
    await write(await planGenerate(loaded));
    expect((await planGenerate(loaded, { rollout: { weight: 50 } })).every((p) => p.unchanged)).toBe(true);
  });
});
