/**
 * The verify fast path (chainedLineHash): a line is accepted without JSON.parse only when it is
 * exactly what the writer wrote and continues the chain. Every way to get it wrong returns null,
 * which sends the line through the full checks.
 */
import { describe, expect, it } from 'vitest';
import { GENESIS_PREV, canonicalLayout, chainedLineHash, recordHash } from '../../src/history/chain.js';
import type { HistoryRecord } from '../../src/history/types.js';
import { canonicalJson } from '../../src/util/canonical-json.js';

function written(fields: Partial<Omit<HistoryRecord, 'hash'>> = {}): { line: Buffer; record: HistoryRecord } {
  const unsigned = {
    v: 1,
    seq: 7,
    ts: '2026-01-02T03:04:05.000Z',
    kind: 'status' as const,
    actor: 'alice@example.com',
    policy_version: 'pv1',
    manifest_sha256: null,
    payload: { mode: 'canary', chaos: null, uptime_seconds: 5, window: null, decisions: {} },
    prev: 'a'.repeat(64),
    ...fields,
  } as Omit<HistoryRecord, 'hash'>;
  const record = { ...unsigned, hash: recordHash(unsigned) } as HistoryRecord;
  return { line: Buffer.from(canonicalJson(record)), record };
}

describe('chainedLineHash', () => {
  it('accepts a line as the writer wrote it and returns its hash (the same as recordHash)', () => {
    const { line, record } = written();
    expect(chainedLineHash(line, 7, 'a'.repeat(64))).toBe(record.hash);
  });

  it('refuses the right line in the wrong place: another seq or another prev', () => {
    const { line } = written();
    expect(chainedLineHash(line, 8, 'a'.repeat(64))).toBeNull();
    expect(chainedLineHash(line, 7, 'b'.repeat(64))).toBeNull();
    expect(chainedLineHash(line, 7, GENESIS_PREV)).toBeNull();
  });

  it('refuses every single-byte edit anywhere in the line', () => {
    const { line } = written({ payload: { mode: 'stable', chaos: null, uptime_seconds: 12, window: null, decisions: {}, error: 'x' } as never });
    for (let i = 0; i < line.length; i++) {
      for (const replacement of [0x30, 0x61, 0x22]) {
        if (line[i] === replacement) continue;
        const edited = Buffer.from(line);
        edited[i] = replacement;
        expect(chainedLineHash(edited, 7, 'a'.repeat(64)), `byte ${i} -> ${String.fromCharCode(replacement)}`).toBeNull();
      }
    }
  });

  it('is not fooled by a "hash" inside the payload: a nested key or text that looks like the member', () => {
    const { line, record } = written();
    const decoy = written({
      payload: { mode: 'canary', chaos: null, uptime_seconds: 5, window: null, decisions: {}, hash: record.hash, note: `","hash":"${record.hash}"` } as never,
    });
    expect(chainedLineHash(decoy.line, 7, 'a'.repeat(64))).toBe(decoy.record.hash);
    // The decoy's own hash member swapped for the payload's: refused.
    const swapped = Buffer.from(decoy.line.toString().replace(`"hash":"${decoy.record.hash}"`, `"hash":"${record.hash}"`));
    expect(chainedLineHash(swapped, 7, 'a'.repeat(64))).toBeNull();
    // The payload's decoy edited: refused (the bytes are hashed, decoy and all).
    const edited = Buffer.from(decoy.line.toString().replace(`"hash":"${record.hash}","mode"`, `"hash":"${'f'.repeat(64)}","mode"`));
    expect(edited.equals(decoy.line)).toBe(false);
    expect(chainedLineHash(edited, 7, 'a'.repeat(64))).toBeNull();
    expect(line.length).toBeGreaterThan(0);
  });

  it('leaves anything outside the plain layout to the full path', () => {
    // An actor with an escape, the hash member moved, whitespace, a non-integer v: all null.
    const escaped = written({ actor: 'eve "the admin"' });
    expect(chainedLineHash(escaped.line, 7, 'a'.repeat(64))).toBeNull();
    const { line, record } = written();
    const moved = Buffer.from(line.toString().replace(`"hash":"${record.hash}",`, '').replace(/}$/, `,"hash":"${record.hash}"}`));
    expect(chainedLineHash(moved, 7, 'a'.repeat(64))).toBeNull();
    expect(chainedLineHash(Buffer.from(line.toString().replace('"seq":7', '"seq": 7')), 7, 'a'.repeat(64))).toBeNull();
    expect(chainedLineHash(Buffer.from(line.toString().replace('"seq":7', '"seq":07')), 7, 'a'.repeat(64))).toBeNull();
    expect(chainedLineHash(Buffer.from(line.toString().replace('"v":1}', '"v":1.0}')), 7, 'a'.repeat(64))).toBeNull();
    expect(chainedLineHash(line.subarray(0, line.length - 1), 7, 'a'.repeat(64))).toBeNull();
  });

  it('canonicalLayout finds actor, kind, ts and seq where the writer put them', () => {
    const { line } = written({ actor: 'bob@example.com', kind: 'event', seq: 1234 });
    const layout = canonicalLayout(line);
    expect(layout).not.toBeNull();
    const l = layout!;
    expect(line.toString('utf8', 10, l.actorEnd)).toBe('bob@example.com');
    expect(line.toString('utf8', l.kindAt, l.kindEnd)).toBe('event');
    expect(line.toString('utf8', l.tsAt, l.tsEnd)).toBe('2026-01-02T03:04:05.000Z');
    expect(line.toString('utf8', l.prevAt, l.prevAt + 64)).toBe('a'.repeat(64));
    expect(l.seq).toBe(1234);
  });
});
