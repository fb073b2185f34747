import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RuntimeError, UsageError } from '../../src/errors.js';
import { ensureChaosToken, readChaosToken } from '../../src/runtime/chaos-token.js';

let root: string;
let stateDir: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sd-token-'));
  stateDir = join(root, '.swiftdeploy');
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe('ensureChaosToken on real files', () => {
  it('creates <stateDir>/chaos-token, owner-only, and returns it', async () => {
    const token = await ensureChaosToken(stateDir);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await readFile(join(stateDir, 'chaos-token'), 'utf8')).toBe(`${token}\n`);
    expect((await stat(join(stateDir, 'chaos-token'))).mode & 0o777).toBe(0o600);
  });

  it('returns the same token next time and leaves no temp files', async () => {
    const first = await ensureChaosToken(stateDir);
    expect(await ensureChaosToken(stateDir)).toBe(first);
    expect(await readdir(stateDir)).toEqual(['chaos-token']);
  });

  it('concurrent first calls agree on one token', async () => {
    const tokens = await Promise.all(Array.from({ length: 8 }, () => ensureChaosToken(stateDir)));
    expect(new Set(tokens).size).toBe(1);
    expect(await readdir(stateDir)).toEqual(['chaos-token']);
  });

  it('tightens a token file others can read', async () => {
    const token = await ensureChaosToken(stateDir);
    await chmod(join(stateDir, 'chaos-token'), 0o644);
    expect(await ensureChaosToken(stateDir)).toBe(token);
    expect((await stat(join(stateDir, 'chaos-token'))).mode & 0o777).toBe(0o600);
  });

  it('refuses a file that holds no valid token and leaves it alone', async () => {
    await ensureChaosToken(stateDir);
    await writeFile(join(stateDir, 'chaos-token'), 'short\n');
    await expect(ensureChaosToken(stateDir)).rejects.toThrow(RuntimeError);
    expect(await readFile(join(stateDir, 'chaos-token'), 'utf8')).toBe('short\n');
  });

  it('never reads (or chmods) a token through a symlink: another file would be sent as the bearer token', async () => {
    // A file that would pass as a token, readable by others: following the link would send it and chmod it to 0600.
    const victim = join(root, 'victim');
    await writeFile(victim, `${'v'.repeat(43)}\n`, { mode: 0o644 });
    await mkdir(stateDir);
    await symlink(victim, join(stateDir, 'chaos-token'));
    const err = await ensureChaosToken(stateDir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(`${join(stateDir, 'chaos-token')} is a symlink (to ${victim}), not a chaos token swiftdeploy wrote; remove it to have a new one generated`);
    await expect(readChaosToken(stateDir)).rejects.toThrow(UsageError);
    expect((await stat(victim)).mode & 0o777).toBe(0o644);
  });
});
