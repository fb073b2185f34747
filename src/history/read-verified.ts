/**
 * Every record of history.jsonl and the verdict of the chain, from as few reads as the file allows:
 * what the audit report consumes. The fast pass (record-stream.ts, on two threads for a large file:
 * parallel-read.ts) parses lines in the writer's layout only as far as a reader of actor, kind, ts,
 * policy_version and payload needs, and walks the chain on the same reads. It stands only if the
 * chain verifies on the fast path, which shows every line is as the writer wrote it; it stays
 * silent, as the exact pass warns for anything it would warn about. When anything is off (a break,
 * a torn tail, records from before the chain, a line the pass could not read), verifyHistoryRange
 * decides, and the records are read again from fully parsed lines, as readRecords sees them.
 */
import { PARALLEL_FROM_BYTES, streamTrustedParallel } from './parallel-read.js';
import { streamHistory, type OnRecord } from './record-stream.js';
import type { VerifyResult } from './types.js';
import { verifyHistoryRange } from './verify.js';

/** What receives the records; `ambiguous`: a line the exact pass leaves out because it gives a member twice (RecordLines). */
export interface RecordSink {
  add: OnRecord;
  ambiguous(line: number, why: string): void;
}

export interface ReadVerifiedOptions {
  /** Where the exact pass's warnings go (a torn last line). */
  warn?: (message: string) => void;
  /** History size from which the fast pass reads on a worker (default PARALLEL_FROM_BYTES). */
  parallelFromBytes?: number;
}

/**
 * Bytes [0, size) of `file` into a sink from `open` (called again for the exact pass, so a sink the
 * fast pass fed part way is dropped), and verifyHistoryRange(file, size)'s result. Throws what the
 * exact pass and readRecords throw (HistoryIntegrityError naming the line).
 */
export async function readVerified<S extends RecordSink>(file: string, size: number, open: () => S, opts: ReadVerifiedOptions = {}): Promise<{ sink: S; verify: VerifyResult }> {
  let sink: S | null = null;
  let verify: VerifyResult | null = null;
  try {
    const fast = open();
    verify = await streamTrustedParallel(file, size, fast.add, { parallelFromBytes: opts.parallelFromBytes ?? PARALLEL_FROM_BYTES });
    sink = fast;
  } catch {
    // The exact pass below meets the same problem and reports it as readRecords would.
  }
  // A chain off the fast path gets the full check, which names the first bad line.
  verify ??= await verifyHistoryRange(file, size);
  if (sink === null || !verify.ok) {
    const exact = open();
    await streamHistory(file, size, exact.add, (message) => opts.warn?.(message), { onAmbiguous: exact.ambiguous });
    sink = exact;
  }
  return { sink, verify };
}
