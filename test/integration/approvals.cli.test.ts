/**
 * The approvals commands through the built CLI, as child processes: `--request --detach`, the
 * automatic request off a TTY, `approvals`, `approve`, `deny`; exit codes and --json without secrets.
 */
import { execa } from 'execa';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readLedgerView } from '../../src/approvals/store.js';
import { ALICE, approvalProject, BOB, SECRET, type ApprovalProject } from '../helpers/approvals.js';

const BIN = path.resolve(import.meta.dirname, '../../bin/swiftdeploy');

let p: ApprovalProject | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

const cli = (project: ApprovalProject, args: string[], actor = 'rita@example.com') =>
  execa(process.execPath, [BIN, '-f', project.manifest, '--actor', actor, ...args], { reject: false, stdin: 'ignore' });

describe('approvals CLI', () => {
  it('promote --request --detach --json: exit 0 with the request id; no token in stdout, stderr or the ledger', async () => {
    p = await approvalProject();
    const run = await cli(p, ['--json', 'promote', 'canary', '--request', '--detach']);
    expect(run.exitCode).toBe(0);
    const doc = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({ ok: true, action: 'approval', executor: 'serve', plan: { action: 'promote', args: { mode: 'canary' } } });
    const id = doc.approval_id as string;
    expect(id).toMatch(/^ap-[0-9a-f]{16}$/);
    expect(run.stdout + run.stderr).not.toContain('?t=');
    expect(run.stdout + run.stderr + (await p.ledgerText())).not.toContain(SECRET);
    const view = await readLedgerView(p.history);
    expect(view.approvals.get(id)?.request).toMatchObject({ requested_by: 'rita@example.com', approvers: [ALICE, BOB], required: 1 });

    const list = await cli(p, ['--json', 'approvals']);
    expect(JSON.parse(list.stdout)).toMatchObject({ ok: true, pending: [{ id, summary: 'promote canary', executor: 'serve' }] });
  });

  it('without --json the links go to the requester\'s terminal only (no webhook configured), never to the ledger', async () => {
    p = await approvalProject();
    const run = await cli(p, ['teardown', '--clean', '--request', '--detach']);
    expect(run.exitCode).toBe(0);
    const links = run.stderr.split('\n').filter((l) => l.includes('/a/ap-'));
    expect(links).toHaveLength(2);
    expect(links[0]).toContain(`${ALICE}: http://127.0.0.1:${p.port}/a/`);
    const ledger = await p.ledgerText();
    for (const l of links) expect(ledger).not.toContain(new URL(l.trim().split(' ')[1]!).searchParams.get('t')!);
  });

  it('approve and deny: actor recorded, must be an approver (exit 9 otherwise), a decided request refuses more', async () => {
    p = await approvalProject({ required: 2 });
    const { request } = await p.request();
    const mallory = await cli(p, ['approve', request.id], 'mallory@example.com');
    expect(mallory.exitCode).toBe(9);
    expect(mallory.stderr).toContain('not an approver of this request');
    const alice = await cli(p, ['--json', 'approve', request.id, '--reason', 'ok by me'], ALICE);
    expect(alice.exitCode).toBe(0);
    expect(JSON.parse(alice.stdout)).toEqual({ ok: true, action: 'approval', approval_id: request.id, stage: 'approved', decided_by: ALICE, outcome: 'pending', pending: 1 });
    expect((await cli(p, ['deny', request.id], BOB)).exitCode).toBe(2); // --reason is required
    const bob = await cli(p, ['deny', request.id, '--reason', 'not during the sale'], BOB);
    expect(bob.exitCode).toBe(0);
    expect(bob.stdout).toContain('the request is denied');
    expect((await cli(p, ['approve', request.id], ALICE)).exitCode).toBe(9);
    const records = (await p.records()).filter((r) => r.payload.action === 'approval');
    expect(records.map((r) => [r.payload.stage, r.actor])).toEqual([
      ['requested', 'rita@example.com'],
      ['refused', 'mallory@example.com'],
      ['approved', ALICE],
      ['denied', BOB],
      ['refused', ALICE],
    ]);
    expect((await cli(p, ['approve', 'ap-0000000000000000'], ALICE)).exitCode).toBe(9);
  });

  it('off a TTY without --yes, with approvals: configured, rollback asks instead of failing; a deny ends it with exit 9', async () => {
    p = await approvalProject();
    const waiting = cli(p, ['rollback', '--reason', 'canary 5xx']);
    let id: string | undefined;
    for (let i = 0; i < 100 && !id; i++) {
      await new Promise((r) => setTimeout(r, 100));
      id = [...(await readLedgerView(p.history)).approvals.keys()][0];
    }
    expect(id).toBeDefined();
    expect((await cli(p, ['deny', id!, '--reason', 'no'], BOB)).exitCode).toBe(0);
    const run = await waiting;
    expect(run.exitCode).toBe(9);
    expect(run.stderr).toContain(`approval ${id} denied by ${BOB}: no; nothing was changed`);
  });

  it('--detach without --request, and --request with --yes, are usage errors', async () => {
    p = await approvalProject();
    expect((await cli(p, ['rollback', '--detach'])).exitCode).toBe(2);
    expect((await cli(p, ['rollback', '--request', '--yes'])).exitCode).toBe(2);
  });
});
