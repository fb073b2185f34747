import { describe, expect, it } from 'vitest';
import { toAuditEntry } from '../../src/audit/entry.js';

describe('toAuditEntry and the original swiftdeploy\'s records', () => {
  it('takes the time from `timestamp` (epoch seconds), else from a `time` with a zone; a time without one is no time', () => {
    expect(toAuditEntry({ event: 'deploy', timestamp: 1740995882.417, time: '2001-01-01T00:00:00+00:00' }, 1)?.tsMs).toBe(1740995882417);
    expect(toAuditEntry({ event: 'deploy', time: '2025-03-03T09:58:02.417000+00:00' }, 1)?.tsMs).toBe(Date.UTC(2025, 2, 3, 9, 58, 2, 417));
    expect(toAuditEntry({ event: 'deploy', time: '2025-03-03T11:58:02+02:00' }, 1)?.tsMs).toBe(Date.UTC(2025, 2, 3, 9, 58, 2));
    // Python's datetime.utcnow().isoformat(): read in the machine's zone it would move with the reader.
    expect(toAuditEntry({ event: 'deploy', time: '2025-03-03T09:58:02.417000' }, 1)).toBeNull();
  });

  it('marks records without a hash legacy, and maps the seed\'s events onto today\'s shapes', () => {
    const scrape = toAuditEntry(
      {
        timestamp: 1,
        event: 'status_scrape',
        mode: 'canary',
        chaos: 'error',
        metrics: { requests: 305, error_rate: 0.1213, p99_ms: 618.4, requests_per_second: 10.17 },
        policies: [{ policy: 'canary', decision: { allow: false, violations: [{ rule: 'error_rate', observed: 0.1213, threshold: 0.05, message: 'm' }] } }],
      },
      7,
    );
    expect(scrape).toMatchObject({ line: 7, kind: 'status', legacy: true, actor: 'unknown' });
    expect(scrape?.payload).toMatchObject({
      mode: 'canary',
      chaos: { mode: 'error' },
      window: { requests: 305, error_rate: 0.1213, p99_seconds: 0.6184, requests_per_second: 10.17 },
      decisions: { canary: { domain: 'canary', allowed: false, enforcement: 'enforce', violations: [{ id: 'error_rate', observed: 0.1213, threshold: 0.05, message: 'm' }] } },
    });
    const check = toAuditEntry({ timestamp: 1, event: 'policy_check', action: 'promote', target_mode: 'canary', policies: [{ policy: 'infrastructure', decision: { allow: true, violations: [] } }, { policy: 'canary', decision: { allow: false, violations: [] } }] }, 1);
    expect(check).toMatchObject({ kind: 'event', payload: { action: 'promote', stage: 'policy_decided', to_mode: 'canary', decision: { domain: 'canary', allowed: false } } });
    expect(toAuditEntry({ timestamp: 1, event: 'promote', action: 'promote', mode: 'canary', result: 'blocked', message: 'disk' }, 1)?.payload).toEqual({ action: 'promote', stage: 'denied', to_mode: 'canary', detail: 'disk' });
    expect(toAuditEntry({ timestamp: 1, event: 'chaos_injected', mode: 'slow' }, 1)?.payload).toEqual({ action: 'chaos_injected', stage: 'recorded', to_mode: 'slow' });
    // A chained record is never legacy.
    expect(toAuditEntry({ ts: '2025-01-01T00:00:00Z', kind: 'event', hash: 'a'.repeat(64), actor: 'alice', payload: { action: 'deploy', stage: 'requested' } }, 1)?.legacy).toBe(false);
  });
});
