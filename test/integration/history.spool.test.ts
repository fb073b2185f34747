/** The rollback spool stays inside the project: when its directory cannot be written, it throws (the caller prints the record) and writes nowhere else. */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Spool, spoolDirs } from '../../src/history/spool.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'sd-spool-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const input = { kind: 'event' as const, actor: 'a@example.com', policy_version: null, manifest_sha256: null, payload: { action: 'rollback' as const, stage: 'intent' as const } };

describe('Spool', () => {
  it('writes under <stateDir>/unrecorded and nowhere else', () => {
    const stateDir = path.join(root, 'ok', '.swiftdeploy');
    expect(spoolDirs(stateDir)).toEqual([path.join(stateDir, 'unrecorded')]);
    const file = new Spool(spoolDirs(stateDir)).write(input);
    expect(path.dirname(file)).toBe(path.join(stateDir, 'unrecorded'));
  });

  it('an unwritable state directory is an error, not a file under the OS temp dir', () => {
    const blocked = path.join(root, 'blocked');
    writeFileSync(blocked, 'a file where the state directory should be');
    const before = readdirSync(os.tmpdir()).filter((n) => n.startsWith('swiftdeploy-unrecorded-'));
    expect(() => new Spool(spoolDirs(path.join(blocked, '.swiftdeploy'))).write(input)).toThrow(/no spool file could be written/);
    expect(readdirSync(os.tmpdir()).filter((n) => n.startsWith('swiftdeploy-unrecorded-'))).toEqual(before);
  });
});
