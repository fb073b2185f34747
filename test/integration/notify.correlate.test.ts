/**
 * The alerts' correlation is the audit report's: for every violation episode of the report's fixture
 * history, the last change read backwards from the ledger's end is the one the report names.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectAudit } from '../../src/audit/collect.js';
import { describeAction } from '../../src/audit/operations.js';
import { correlationText, lastChangeBefore } from '../../src/notify/correlate.js';
import { FIXTURE_T0, fixtureHistoryText, fixtureRecords } from '../fixtures/audit/fixture-history.js';
import { asLines } from '../fixtures/audit/records.js';

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sd-correlate-'));
  file = path.join(dir, 'history.jsonl');
  await writeFile(file, fixtureHistoryText());
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('lastChangeBefore', () => {
  it('agrees with the audit report on every episode of the fixture history', async () => {
    const data = await collectAudit(asLines(fixtureRecords()));
    expect(data.episodes.length).toBeGreaterThan(2);
    for (const episode of data.episodes) {
      const mine = await lastChangeBefore(file, episode.firstMs);
      if (episode.correlation === null) {
        expect(mine).toBeNull();
        continue;
      }
      const { op, afterMs } = episode.correlation;
      expect(mine).toEqual({
        action: op.action,
        label: describeAction(op),
        actor: op.actor,
        at: new Date(op.effectiveMs!).toISOString(),
        after_ms: afterMs,
        commit: op.git?.sha ?? null,
      });
    }
  });

  it('a denied promote is no change: the deploy before it stays the last change', async () => {
    // The fixture's denied promote (bob) starts 640 s after T0; a moment inside it still correlates with the deploy.
    const records = fixtureRecords();
    const denied = records.find((r) => r.actor === 'bob@example.com' && (r.payload as { stage?: string }).stage === 'policy_decided')!;
    const c = await lastChangeBefore(file, Date.parse(denied.ts) + 500);
    expect(c).toMatchObject({ action: 'deploy', label: 'deploy', actor: 'alice@example.com' });
    expect(correlationText(c!)).toMatch(/^\d+m\d\ds after deploy by alice@example\.com at a1b2c3d$/);
  });

  it('the allowed promote is named with its mode and commit; before any change there is none; no file, none', async () => {
    const records = fixtureRecords();
    const promoted = records.filter((r) => r.actor === 'alice@example.com' && (r.payload as { action?: string; stage?: string }).action === 'promote');
    const executed = Date.parse(promoted.find((r) => (r.payload as { stage?: string }).stage === 'executed')!.ts);
    const c = await lastChangeBefore(file, executed + 134_000);
    expect(correlationText(c!)).toBe('2m14s after promote canary by alice@example.com at f00dfee');
    expect(await lastChangeBefore(file, FIXTURE_T0 - 1)).toBeNull();
    expect(await lastChangeBefore(path.join(dir, 'nothing.jsonl'), Date.now())).toBeNull();
  });
});
