/** The start-up path's runner and the two git readers on it, against real git in a temp work tree. */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveActor } from '../../src/cli/actor.js';
import { gitInfo } from '../../src/lifecycle/git.js';
import { quickOutput, quickOutputSync } from '../../src/runtime/run-quick.js';

const node = process.execPath;
let repo: string;
let plain: string;
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' });

beforeAll(async () => {
  repo = await mkdtemp(path.join(os.tmpdir(), 'sd-git-'));
  plain = await mkdtemp(path.join(os.tmpdir(), 'sd-nogit-'));
  git('init', '-q');
  git('config', 'user.email', 'dana@example.com');
  git('config', 'user.name', 'Dana');
  await writeFile(path.join(repo, 'manifest.yaml'), 'a: 1\n');
  git('add', 'manifest.yaml');
  git('commit', '-qm', 'first manifest');
});
afterAll(async () => {
  await rm(repo, { recursive: true, force: true });
  await rm(plain, { recursive: true, force: true });
});

describe('quickOutput / quickOutputSync', () => {
  it('stdout when the program exits 0; no answer for a failure, a missing program or a timeout', async () => {
    const o = { cwd: plain, timeoutMs: 5000 };
    expect(await quickOutput([node, '-e', 'process.stdout.write("yes")'], o)).toBe('yes');
    expect(quickOutputSync([node, '-e', 'process.stdout.write("yes")'], o)).toBe('yes');
    expect(await quickOutput([node, '-e', 'process.stdout.write("no"); process.exit(1)'], o)).toBeUndefined();
    expect(quickOutputSync([node, '-e', 'process.stdout.write("no"); process.exit(1)'], o)).toBeUndefined();
    expect(await quickOutput(['sd-no-such-program-xyz'], o)).toBeUndefined();
    expect(quickOutputSync(['sd-no-such-program-xyz'], o)).toBeUndefined();
    expect(await quickOutput([node, '-e', 'setTimeout(() => {}, 20000)'], { cwd: plain, timeoutMs: 200 })).toBeUndefined();
  });

  it('runs in the given directory', async () => {
    expect(await quickOutput([node, '-p', 'process.cwd()'], { cwd: repo, timeoutMs: 5000 })).toBe(`${repo}\n`);
  });
});

describe('git on the start-up path', () => {
  it('gitInfo: the commit, its subject and author, clean then dirty', async () => {
    const sha = git('rev-parse', 'HEAD').trim();
    expect(await gitInfo(repo)).toEqual({ sha, subject: 'first manifest', author: 'Dana <dana@example.com>', dirty: false });
    await writeFile(path.join(repo, 'manifest.yaml'), 'a: 2\n');
    expect(await gitInfo(repo)).toMatchObject({ sha, dirty: true });
    git('checkout', '-q', 'manifest.yaml');
  });

  it('gitInfo outside a work tree is absent', async () => {
    expect(await gitInfo(plain)).toBeUndefined();
  });

  it("resolveActor: --actor, then SWIFTDEPLOY_ACTOR, then the project's git user.email", () => {
    expect(resolveActor(' erin ', repo, { SWIFTDEPLOY_ACTOR: 'frank' })).toBe('erin');
    expect(resolveActor(undefined, repo, { SWIFTDEPLOY_ACTOR: 'frank' })).toBe('frank');
    expect(resolveActor(undefined, repo, {})).toBe('dana@example.com');
  });
});
