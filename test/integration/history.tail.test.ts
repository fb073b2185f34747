import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendRecord } from '../../src/history/ledger.js';
import { readLastRecord } from '../../src/history/tail.js';

describe('readLastRecord reads the newest record from the end of the file', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sd-tail-'));
    file = path.join(dir, 'history.jsonl');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const input = (n: number) => ({
    kind: 'event' as const,
    actor: `actor-${n}`,
    policy_version: null,
    manifest_sha256: null,
    payload: { action: 'deploy' as const, stage: 'requested' as const, detail: 'x'.repeat(n * 100) },
  });

  it('returns the last of many records, including ones longer than a read chunk', async () => {
    for (let n = 1; n <= 5; n++) await appendRecord(file, input(n));
    await appendRecord(file, input(200)); // a 20 kB record
    const last = await readLastRecord(file);
    expect(last?.seq).toBe(6);
    expect(last?.actor).toBe('actor-200');
  });

  it('passes over a torn tail to the last complete record, without modifying the file', async () => {
    await appendRecord(file, input(1));
    await appendRecord(file, input(2));
    appendFileSync(file, '{"v":1,"seq":3,"actor":"tor');
    const last = await readLastRecord(file);
    expect(last?.actor).toBe('actor-2');
  });

  it('is undefined for an empty file', async () => {
    writeFileSync(file, '');
    expect(await readLastRecord(file)).toBeUndefined();
  });
});
