import { describe, expect, it } from 'vitest';
import { chainVerdict, describeVerifyResult } from '../../src/audit/audit.js';

describe('audit verify wording', () => {
  it('intact: count and head, ok', () => {
    const r = describeVerifyResult('history.jsonl', { ok: true, records: 12, head: 'ab'.repeat(32) });
    expect(r).toEqual({ ok: true, lines: ['OK history.jsonl: 12 records, hash chain intact', `head ${'ab'.repeat(32)}`] });
    expect(chainVerdict({ ok: true, records: 12, head: 'h' })).toEqual({ status: 'verified', records: 12, head: 'h', legacyRecords: 0 });
  });

  it('broken: the first bad line and why, not ok', () => {
    const result = { ok: false, records: 29, head: 'e7', firstBad: { line: 30, reason: 'edited' as const, detail: 'the content does not match its hash' } };
    const r = describeVerifyResult('history.jsonl', result);
    expect(r.ok).toBe(false);
    expect(r.lines[0]).toBe('FAILED history.jsonl:30: edited: the content does not match its hash');
    expect(chainVerdict(result)).toMatchObject({ status: 'broken', line: 30, reason: 'edited (the content does not match its hash)' });
  });

  it('an old history without hashes is unverifiable, not corrupt', () => {
    const result = { ok: true, records: 40, head: null, unverifiable: true, legacy_records: 40 };
    const r = describeVerifyResult('history.jsonl', result);
    expect(r.ok).toBe(true);
    expect(r.lines[0]).toMatch(/^UNVERIFIABLE history\.jsonl: 40 records written before hash chaining/);
    expect(chainVerdict(result).status).toBe('unverifiable');
    const mixed = describeVerifyResult('h', { ok: true, records: 50, head: 'x', unverifiable: true, legacy_records: 10 });
    expect(mixed.lines).toContain('note: the first 10 records predate hash chaining and cannot be verified');
  });
});
