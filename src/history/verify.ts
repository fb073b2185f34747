/**
 * The full integrity check of history.jsonl: streams every line once (constant memory) and walks the
 * hash chain. On the first anomaly it reads a bounded number of further lines to name what happened
 * (a line edited, replaced, deleted, inserted or moved, naming the line that does not fit) and stops.
 * A chained record's line must be exactly its canonical JSON (RFC 8785): a line that is not, even one
 * whose content matches its hash, is `not canonical` (see chain.ts, recordIntact, for why).
 *
 * What the chain cannot show, by construction: removal of records from the END of the file, or
 * records appended by someone who recomputes hashes. Compare the head hash with one kept elsewhere
 * (the audit report prints it) to catch those.
 */
import { ChainRun, isLegacyRecord, legacyAnchor, recordHashMatches, recordIntact, recordShapeProblem } from './chain.js';
import { canonicalJsonProblem, duplicateMember } from '../util/canonical-json.js';
import { isPlainObject } from '../util/is-plain-object.js';
import { iterateLineBatches, type RawLine } from './lines.js';
import { settledSize } from './settled.js';
import type { HistoryRecord, IntegrityFailure, VerifyResult } from './types.js';

/** How far past an anomaly to look for the missing seq before calling it a deletion. */
const LOOKAHEAD_LINES = 1_000;

/** A line, parsed only when someone asks: lines the fast path accepts are never parsed. */
class Entry {
  private parsed: { json: boolean; value?: unknown } | undefined;
  constructor(readonly raw: RawLine) {}
  private parse(): { json: boolean; value?: unknown } {
    if (this.parsed === undefined) {
      try {
        this.parsed = { json: true, value: JSON.parse(this.raw.bytes.toString('utf8')) };
      } catch {
        this.parsed = { json: false };
      }
    }
    return this.parsed;
  }
  /** false when the line is not JSON. */
  get json(): boolean {
    return this.parse().json;
  }
  /** undefined when the line is not JSON. */
  get value(): unknown {
    return this.parse().value;
  }
}

/** Lines one at a time over batched reads; `next` and `peek` only await when a batch runs out. */
class Peekable {
  private batch: RawLine[] = [];
  private index = 0;
  private buffered: Entry | null | undefined;
  constructor(private readonly batches: AsyncGenerator<RawLine[]>) {}
  async next(): Promise<Entry | null> {
    if (this.buffered !== undefined) {
      const e = this.buffered;
      this.buffered = undefined;
      return e;
    }
    while (this.index >= this.batch.length) {
      const r = await this.batches.next();
      if (r.done) return null;
      this.batch = r.value;
      this.index = 0;
    }
    return new Entry(this.batch[this.index++] as RawLine);
  }
  async peek(): Promise<Entry | null> {
    if (this.buffered === undefined) this.buffered = await this.next();
    return this.buffered;
  }
  /** The next line without awaiting, or undefined when that would need a read (or at the end). */
  nextBuffered(): RawLine | undefined {
    if (this.buffered !== undefined) {
      if (this.buffered === null) return undefined;
      const { raw } = this.buffered;
      this.buffered = undefined;
      return raw;
    }
    if (this.index >= this.batch.length) return undefined;
    return this.batch[this.index++];
  }
  async close(): Promise<void> {
    await this.batches.return(undefined);
  }
}

function asRecord(e: Entry | null): HistoryRecord | null {
  if (!e || !e.json || !isPlainObject(e.value) || isLegacyRecord(e.value) || recordShapeProblem(e.value) !== null) return null;
  return e.value as unknown as HistoryRecord;
}

/** The record on a line when it is a chained record exactly as the writer writes them (canonical, matching its hash). */
function intactRecord(e: Entry): HistoryRecord | null {
  const rec = asRecord(e);
  return rec !== null && recordIntact(e.raw.bytes, rec) ? rec : null;
}

export async function verifyHistory(file: string): Promise<VerifyResult> {
  return verifyHistoryRange(file, await settledSize(file));
}

/** verifyHistory over bytes [0, size) only: for a caller that must check exactly what it read. */
export async function verifyHistoryRange(file: string, size: number): Promise<VerifyResult> {
  const it = new Peekable(iterateLineBatches(file, size, { recycle: true }));
  // Records verified, the head, and what the next record must carry.
  const chain = new ChainRun();
  let legacy = 0;
  let headBefore: string | null = null;
  // prev of the last verified record: a second record claiming it is a fork.
  let headPrev: string | null = null;
  const result = (firstBad?: VerifyResult['firstBad']): VerifyResult => ({
    ok: firstBad === undefined,
    records: chain.records,
    head: chain.head,
    ...(legacy > 0 ? { unverifiable: true, legacy_records: legacy } : {}),
    ...(firstBad ? { firstBad } : {}),
  });
  const bad = (line: number, reason: IntegrityFailure, detail: string) => result({ line, reason, detail });
  /** The fault is the line before, which was counted as verified: take it back. */
  const badBefore = (line: number, reason: IntegrityFailure, detail: string) => {
    chain.records--;
    chain.head = headBefore;
    return bad(line, reason, detail);
  };
  try {
    for (;;) {
      // Fast path: a line in the writer's layout that continues the chain is accepted without
      // parsing it (chainedLineHash says why that is sound). It is never the line that names a
      // problem: anything it is unsure of goes through the full checks below.
      let raw = it.nextBuffered();
      while (raw !== undefined) {
        const before = chain.head;
        const prev = chain.expectPrev;
        if (!raw.terminated || !chain.accept(raw.bytes)) break;
        headBefore = before;
        headPrev = prev;
        raw = it.nextBuffered();
      }
      const e = raw !== undefined ? new Entry(raw) : await it.next();
      if (e === null) break;
      const { line } = e.raw;
      const isLast = (await it.peek()) === null;
      if (!e.raw.terminated) return bad(line, 'torn', 'the last line has no newline (an interrupted append)');
      if (!e.json) {
        return isLast
          ? bad(line, 'torn', 'the last line is not complete JSON (an interrupted append)')
          : bad(line, 'invalid JSON', 'the line is not JSON');
      }
      if (!isPlainObject(e.value)) return bad(line, 'invalid record', 'the line is JSON but not an object');
      if (isLegacyRecord(e.value)) {
        if (chain.head !== null) return bad(line, 'inserted', 'a record without a hash inside the hash chain');
        // Not canonical (whoever wrote it spaced it as they liked) and not verifiable, but it must
        // mean one thing: the report reads it.
        const twice = duplicateMember(e.raw.bytes);
        if (twice !== null) return bad(line, 'invalid record', `at byte ${twice.at}: ${twice.why}; JSON readers disagree on this record`);
        legacy++;
        chain.records++;
        chain.expectSeq = line + 1;
        chain.expectPrev = legacyAnchor(e.raw.bytes);
        continue;
      }
      // Only the canonical JSON of a record is a line the writer wrote, and only it means the same to
      // every reader (a member given twice hides a second value from JSON.parse, which keeps the last).
      const form = canonicalJsonProblem(e.raw.bytes);
      if (form !== null) {
        const why = form.duplicate !== undefined ? '; JSON readers disagree on its value' : '';
        return bad(line, 'not canonical', `at byte ${form.at}: ${form.why}${why}; the ledger writes each record as its canonical JSON, RFC 8785`);
      }
      const problem = recordShapeProblem(e.value);
      if (problem !== null) return bad(line, 'invalid record', problem);
      const rec = e.value as unknown as HistoryRecord;
      const intact = recordHashMatches(e.raw.bytes, rec);
      if (intact && rec.seq === chain.expectSeq && rec.prev === chain.expectPrev) {
        headBefore = chain.head;
        headPrev = rec.prev;
        chain.advance(rec.hash);
        continue;
      }
      // An anomaly: name it, using what follows.
      const next = asRecord(await it.peek());
      if (next && next.seq === chain.expectSeq && next.prev === chain.expectPrev) {
        // The next line continues the chain from the line before this one.
        return intact && rec.seq === next.seq + 1 && rec.prev === next.hash
          ? bad(line, 'reordered', `seq ${rec.seq} and seq ${next.seq} are swapped`)
          : bad(line, 'inserted', `the next record chains to line ${line - 1}, skipping this one`);
      }
      if (!intact) return bad(line, 'edited', 'the content does not match its hash');
      if (rec.seq === chain.expectSeq && line === 1) return bad(line, 'edited', 'the first record\'s prev is not the genesis value (64 zeros)');
      if (rec.seq === chain.expectSeq) {
        // Intact and in sequence, but chained to a different hash than line - 1's. Either line - 1
        // was rewritten and rehashed (its own hash checks out, but this record remembers the
        // original), or this line was replaced by a self-consistent record of another chain. The
        // lines after it decide: a chain that goes on from this line to the end vouches for it; one
        // that breaks again, right after it or a few lines on, shows these lines do not belong.
        let run = 1;
        let last = rec;
        let after: HistoryRecord | null = null;
        let end = false;
        while (run < LOOKAHEAD_LINES) {
          const following = await it.next();
          if (following === null) {
            end = true;
            break;
          }
          after = intactRecord(following);
          if (after === null || after.seq !== last.seq + 1 || after.prev !== last.hash) break;
          last = after;
          run++;
        }
        // A line from before the chain has no hash to recompute: it was simply edited.
        const previousLegacy = chain.head === null;
        const rewritten = previousLegacy ? 'edited' : 'rewritten and rehashed';
        if (run > 1 && (end || run === LOOKAHEAD_LINES)) {
          const agree = run === 2 ? 'the record after it agrees' : `the ${run - 1} records after it agree`;
          if (previousLegacy) {
            // Take line - 1 back from the records counted as from before the chain.
            chain.records--;
            legacy--;
          }
          return previousLegacy
            ? bad(line - 1, 'edited', `line ${line} chains to the hash of different bytes for this line, and ${agree}`)
            : badBefore(line - 1, 'edited', `rewritten and rehashed: line ${line} chains to a different hash, and ${agree}`);
        }
        if (end) {
          return bad(line, 'edited', `its prev is not the hash of line ${line - 1}: this line was replaced, or line ${line - 1} ${rewritten} (no later line tells which)`);
        }
        const lines = run === 1 ? `line ${line} was` : `lines ${line}-${line + run - 1} were`;
        const into = after !== null && after.seq === last.seq + 1 ? `, nor does line ${line + run} chain to ${run === 1 ? 'it' : 'them'}` : '';
        return bad(line, 'edited', `${lines} replaced: self-consistent, but ${run === 1 ? 'it does' : 'they do'} not chain to line ${line - 1}${into}`);
      }
      if (next && next.seq === chain.expectSeq + 1 && next.prev !== rec.hash) {
        // Line + 1 carries on the chain's numbering but not from this line: this one was replaced.
        return bad(line, 'edited', `line ${line} was replaced: a self-consistent record (seq ${rec.seq}) where seq ${chain.expectSeq} belongs, and line ${line + 1} does not chain to it`);
      }
      if (rec.seq === chain.expectSeq - 1 && rec.prev === headPrev) {
        // Two records claim the same place in the chain; the genuine one is the one the next line follows.
        return next && next.prev === rec.hash
          ? badBefore(line - 1, 'inserted', `line ${line} has the same seq and prev, and the chain continues from it`)
          : bad(line, 'inserted', `same seq and prev as line ${line - 1}`);
      }
      if (rec.seq < chain.expectSeq) {
        return bad(line, 'inserted', `seq ${rec.seq} repeats or goes back (expected ${chain.expectSeq})`);
      }
      const missing = chain.expectSeq;
      for (let i = 0; i < LOOKAHEAD_LINES; i++) {
        const later = asRecord(await it.next());
        if (later === null && (await it.peek()) === null) break;
        if (later?.seq === missing) {
          return bad(line, 'reordered', `seq ${rec.seq} found where seq ${missing} belongs; seq ${missing} comes later`);
        }
      }
      const gap = rec.seq - missing === 1 ? `seq ${missing} is` : `seq ${missing}..${rec.seq - 1} are`;
      return bad(line, 'deleted', `${gap} missing before this line`);
    }
    return result();
  } finally {
    await it.close();
  }
}
