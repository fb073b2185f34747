/** An approval's end as the audit report states it (src/audit/governance.ts approvalOutcome). */
import { describe, expect, it } from 'vitest';
import { approvalOutcome, type ApprovalView } from '../../src/audit/governance.js';

const T0 = Date.parse('2024-07-01T10:00:00Z');
const base: ApprovalView = {
  id: 'ap-1',
  action: 'rollback',
  summary: 'rollback',
  requestedBy: 'ops@example.com',
  requestedMs: T0,
  expiresMs: T0 + 1_800_000,
  required: 1,
  executor: 'requester',
  decisions: [],
  ended: null,
  refused: {},
  usedMs: null,
  inPeriod: true,
};

describe('approvalOutcome', () => {
  it('pending until its expiry; expired once the history runs past it, though nobody recorded the expiry', () => {
    expect(approvalOutcome(base, T0 + 60_000).outcome).toBe('pending');
    expect(approvalOutcome(base, T0 + 1_800_000)).toEqual({ outcome: 'expired', atMs: T0 + 1_800_000, by: [] });
  });

  it('a recorded end is final: approved, then voided, stays voided', () => {
    const voided: ApprovalView = {
      ...base,
      decisions: [{ by: 'alice@example.com', outcome: 'approved', via: 'link', atMs: T0 + 5_000, reason: null }],
      ended: { outcome: 'voided', atMs: T0 + 9_000, reason: 'the manifest changed' },
    };
    expect(approvalOutcome(voided, T0 + 10_000)).toEqual({ outcome: 'voided', atMs: T0 + 9_000, by: ['alice@example.com'] });
    expect(approvalOutcome({ ...voided, ended: null }, T0 + 10_000).outcome).toBe('approved');
  });
});
