/**
 * resolveProjectPath on real files: where a path really leads (symlinks, dangling links, loops, a
 * file used as a directory), and the refusals that follow. The CLI-level matrix is
 * paths.matrix.test.ts; this covers the resolver's own edges in-process.
 */
import { execFileSync } from 'node:child_process';
import { link, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT, UsageError } from '../../src/errors.js';
import { appendRecord } from '../../src/history/ledger.js';
import type { RecordInput } from '../../src/history/types.js';
import {
  HISTORY_ID,
  filePathProblem,
  ownedPaths,
  REPORT_ID,
  resolveProjectFiles,
  resolveProjectPath,
  resolveStateDir,
  type ResolveRequest,
} from '../../src/util/project-paths.js';

let dir: string;
let outside: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sd-resolve-'));
  outside = await mkdtemp(path.join(tmpdir(), 'sd-resolve-out-'));
  await writeFile(path.join(dir, 'manifest.yaml'), 'x\n');
  await writeFile(path.join(dir, 'history.jsonl'), '');
});
afterEach(() => Promise.all([rm(dir, { recursive: true, force: true }), rm(outside, { recursive: true, force: true })]));

const OBS = { history_file: 'history.jsonl', audit_report: 'audit_report.md' };
const report = (requested: string, extra: Partial<ResolveRequest> = {}) =>
  resolveProjectPath({ projectDir: dir, requested, label: '--out', owned: ownedPaths('manifest.yaml', OBS), self: [REPORT_ID], ...extra });

async function refusal(p: Promise<unknown>): Promise<UsageError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UsageError);
  expect((err as UsageError).exitCode).toBe(EXIT.USAGE);
  return err as UsageError;
}

describe('filePathProblem: a file path must not be spelled as a directory', () => {
  it.each(['', '/', 'a/', '.', './', 'a/.', '..', 'a/..'])('%j is refused', (v) => expect(filePathProblem(v)).toBeDefined());
  it.each(['a', './a', 'a/b', '.hidden', 'a..b', '...'])('%j is a file path', (v) => expect(filePathProblem(v)).toBeUndefined());
});

describe('resolveProjectPath', () => {
  it('returns the canonical path, re-rooted at the project directory as the caller named it', async () => {
    await mkdir(path.join(dir, 'reports'));
    await symlink('reports', path.join(dir, 'r'));
    expect(await report('r/./a.md')).toEqual({ abs: path.join(dir, 'reports/a.md'), rel: 'reports/a.md', exists: false });
    expect(await report('new/dir/a.md')).toMatchObject({ abs: path.join(dir, 'new/dir/a.md'), exists: false });
    expect(await report('..notes.md')).toMatchObject({ abs: path.join(dir, '..notes.md'), rel: '..notes.md' });
    // The project reached through a symlink: results stay under the name the caller used.
    const via = path.join(outside, 'project-link');
    await symlink(dir, via);
    expect(await resolveProjectPath({ projectDir: via, requested: 'r/a.md', label: '--out', owned: [] })).toMatchObject({
      abs: path.join(via, 'reports/a.md'),
    });
  });

  it('relative to baseDir (the working directory for --out)', async () => {
    await mkdir(path.join(dir, 'sub'));
    expect((await report('../a.md', { baseDir: path.join(dir, 'sub') })).abs).toBe(path.join(dir, 'a.md'));
    const err = await refusal(report('a.md', { baseDir: outside }));
    expect(err.message).toBe(`--out "a.md": it is outside the project directory ${dir}; refusing to use it`);
  });

  it('a dangling symlink is followed to where a write would create the file', async () => {
    await symlink(path.join(outside, 'nowhere/h.jsonl'), path.join(dir, 'dangling.md'));
    const err = await refusal(report('dangling.md'));
    expect(err.message).toContain(`through the symlink ${path.join(dir, 'dangling.md')} -> ${path.join(outside, 'nowhere/h.jsonl')}`);
    await symlink('history.jsonl', path.join(dir, 'to-history'));
    await symlink('to-history', path.join(dir, 'chain.md'));
    expect((await refusal(report('chain.md'))).message).toContain('leads (through a symlink) to the history file (history.jsonl)');
  });

  it('a symlink that leaves and comes back inside is fine: the write lands inside', async () => {
    await mkdir(path.join(dir, 'data'));
    await symlink(path.join(dir, 'data'), path.join(outside, 'back'));
    await symlink(path.join(outside, 'back'), path.join(dir, 'round'));
    expect((await report('round/a.md')).abs).toBe(path.join(dir, 'data/a.md'));
  });

  it('names the symlink that leads out, not an earlier one inside', async () => {
    await mkdir(path.join(dir, 'a'));
    await symlink('a', path.join(dir, 'first'));
    await symlink(outside, path.join(dir, 'a/out'));
    const err = await refusal(report('first/out/x.md'));
    expect(err.message).toContain(`through the symlink ${path.join(dir, 'a/out')} -> ${outside}`);
  });

  it('refuses a symlink loop, a file used as a directory, a directory, and a non-regular file', async () => {
    await symlink('loop2', path.join(dir, 'loop1'));
    await symlink('loop1', path.join(dir, 'loop2'));
    expect((await refusal(report('loop1/a.md'))).message).toMatch(/too many symlinks/);
    expect((await refusal(report('manifest.yaml/a.md'))).message).toContain(`${path.join(dir, 'manifest.yaml')} is not a directory`);
    await mkdir(path.join(dir, 'reports'));
    expect((await refusal(report('reports'))).message).toContain('is a directory');
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    expect((await refusal(report('fifo'))).message).toContain('is not a regular file');
  });

  it('inPlace refuses a file with a second name; a report (replaced by rename) is only refused when that name is owned', async () => {
    await writeFile(path.join(outside, 'victim'), 'v');
    await link(path.join(outside, 'victim'), path.join(dir, 'shared.jsonl'));
    const owned = ownedPaths('manifest.yaml', { ...OBS, history_file: 'shared.jsonl' });
    const err = await refusal(resolveProjectPath({ projectDir: dir, requested: 'shared.jsonl', label: HISTORY_ID, owned, self: [HISTORY_ID], inPlace: true }));
    expect(err.message).toContain('has 2 names (hard links)');
    expect((await report('shared.jsonl')).exists).toBe(true);
  });
});

describe('resolveProjectFiles and resolveStateDir', () => {
  it('resolves the files a session uses', async () => {
    expect(await resolveProjectFiles(dir, path.join(dir, 'manifest.yaml'), OBS)).toEqual({
      history: path.join(dir, 'history.jsonl'),
      stateDir: path.join(dir, '.swiftdeploy'),
      nginxConf: path.join(dir, 'nginx/nginx.conf'),
      compose: path.join(dir, 'docker-compose.yml'),
      stack: path.join(dir, 'docker-stack.yml'),
    });
  });

  it('refuses a state directory that is a file or leads outside', async () => {
    await writeFile(path.join(dir, '.swiftdeploy'), '');
    expect((await refusal(resolveStateDir(dir))).message).toContain('is not a directory');
    await rm(path.join(dir, '.swiftdeploy'));
    await symlink(outside, path.join(dir, '.swiftdeploy'));
    expect((await refusal(resolveStateDir(dir))).message).toContain(`-> ${outside}`);
    await rm(path.join(dir, '.swiftdeploy'));
    await symlink('.', path.join(dir, '.swiftdeploy'));
    expect((await refusal(resolveStateDir(dir))).message).toContain('it is the project directory itself');
  });

  it('refuses a generated file that is a symlink to another owned file', async () => {
    await mkdir(path.join(dir, 'nginx'));
    await symlink('../history.jsonl', path.join(dir, 'nginx/nginx.conf'));
    const err = await refusal(resolveProjectFiles(dir, path.join(dir, 'manifest.yaml'), OBS));
    expect(err.message).toContain('generated file "nginx/nginx.conf": it leads (through a symlink) to the history file');
  });

  it('of two names for one file, the one redirected by a symlink is blamed', async () => {
    await writeFile(path.join(dir, 'docker-compose.yml'), '');
    await symlink('docker-compose.yml', path.join(dir, 'h.jsonl'));
    const err = await refusal(resolveProjectFiles(dir, path.join(dir, 'manifest.yaml'), { ...OBS, history_file: 'h.jsonl' }));
    expect(err.message).toBe(`${HISTORY_ID} "h.jsonl": it leads (through a symlink) to a generated file (docker-compose.yml); refusing to use it`);
  });
});

describe("the ledger's own guard (a path swapped after it was resolved)", () => {
  const input: RecordInput = { kind: 'event', actor: 'a', policy_version: null, manifest_sha256: null, payload: { action: 'init', stage: 'executed' } };

  it('refuses to append through a symlink, naming where it points', async () => {
    await writeFile(path.join(outside, 'victim'), 'outside\n');
    await symlink(path.join(outside, 'victim'), path.join(dir, 'linked.jsonl'));
    const err = await refusal(appendRecord(path.join(dir, 'linked.jsonl'), input));
    expect(err.message).toBe(`${path.join(dir, 'linked.jsonl')} is a symlink (to ${path.join(outside, 'victim')}); refusing to append history through it`);
    expect(await readFile(path.join(outside, 'victim'), 'utf8')).toBe('outside\n');
  });

  it('refuses to append to a file with a second name', async () => {
    await writeFile(path.join(outside, 'victim'), '');
    await link(path.join(outside, 'victim'), path.join(dir, 'hard.jsonl'));
    expect((await refusal(appendRecord(path.join(dir, 'hard.jsonl'), input))).message).toContain('has 2 names (hard links)');
    expect(await readFile(path.join(outside, 'victim'), 'utf8')).toBe('');
  });
});
