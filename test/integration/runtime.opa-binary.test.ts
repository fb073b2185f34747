/** Where the pinned opa is looked for, in order: SWIFTDEPLOY_OPA, set-up's link, PATH. Real files. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findOpaBinary } from '../../src/runtime/opa-binary.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'sd-opa-bin-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function program(dir: string, mode = 0o755): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'opa');
  writeFileSync(file, '#!/bin/sh\necho opa\n');
  chmodSync(file, mode);
  return file;
}

describe('findOpaBinary', () => {
  const onPath = program(path.join(root, 'bin'));
  const cached = program(path.join(root, 'cache'));
  const tools = path.join(root, 'tools');
  mkdirSync(tools);
  symlinkSync(cached, path.join(tools, 'opa'));
  const noTools = path.join(root, 'no-tools');
  const PATH = [path.join(root, 'empty'), path.join(root, 'bin')].join(path.delimiter);

  it('an explicit SWIFTDEPLOY_OPA wins over the set-up link and PATH', () => {
    const explicit = program(path.join(root, 'explicit'));
    expect(findOpaBinary({ SWIFTDEPLOY_OPA: explicit, PATH }, tools)).toEqual({ path: explicit, source: 'SWIFTDEPLOY_OPA' });
  });

  it('an explicit SWIFTDEPLOY_OPA that is not executable finds nothing (no silent fallback)', () => {
    const notExec = program(path.join(root, 'not-exec'), 0o644);
    expect(findOpaBinary({ SWIFTDEPLOY_OPA: notExec, PATH }, tools)).toBeNull();
    expect(findOpaBinary({ SWIFTDEPLOY_OPA: path.join(root, 'missing'), PATH }, tools)).toBeNull();
  });

  it("set-up's link comes before PATH", () => {
    expect(findOpaBinary({ PATH }, tools)).toEqual({ path: path.join(tools, 'opa'), source: 'setup' });
  });

  it('PATH is the last resort, skipping directories without an executable opa', () => {
    program(path.join(root, 'empty'), 0o644);
    expect(findOpaBinary({ PATH }, noTools)).toEqual({ path: onPath, source: 'PATH' });
    expect(findOpaBinary({ PATH: path.join(root, 'empty') }, noTools)).toBeNull();
  });
});
