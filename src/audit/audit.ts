/**
 * `audit` and `audit verify`. The report streams the history once, parsing records in the writer's
 * layout only as far as the report reads them, while the ledger's chain check runs beside it: for a
 * large history inside the worker that reads the file for the report (parallel-pass.ts), for a small
 * one as the full `verifyHistoryRange` on a second thread (verify-worker.ts). When the chain verifies,
 * every line is as the writer wrote it and that is exactly the record JSON.parse would give. When
 * anything is off (a break, a torn tail, records from before the chain, a line the pass could not
 * read), the full check decides and the report is collected again from fully parsed lines, as
 * `readRecords` sees them.
 */
import path from 'node:path';
import { settledSize } from '../history/settled.js';
import { verifyHistoryRange } from '../history/verify.js';
import type { VerifyResult } from '../history/types.js';
import { writeFileAtomic } from '../render/atomic-write.js';
import { createAuditCollector, type AuditData, type CollectOptions } from './collect.js';
import { streamHistory } from './history-stream.js';
import { readsInParallel, streamTrustedParallel } from './parallel-pass.js';
import { verifyInBackground } from './verify-worker.js';
import { renderAuditReport, type ChainVerdict } from './render.js';

export function chainVerdict(result: VerifyResult): ChainVerdict {
  if (!result.ok && result.firstBad !== undefined) {
    return { status: 'broken', records: result.records, line: result.firstBad.line, reason: `${result.firstBad.reason} (${result.firstBad.detail})` };
  }
  if (result.head === null && result.unverifiable === true) {
    return { status: 'unverifiable', records: result.records, reason: 'the history predates hash chaining (its records carry no hashes)' };
  }
  return {
    status: 'verified',
    records: result.records,
    head: result.head,
    legacyRecords: result.legacy_records ?? 0,
  };
}

export interface AuditReportRequest extends CollectOptions {
  historyFile: string;
  projectDir: string;
  project: string;
  /** Absolute path, already resolved and checked by resolveProjectPath (src/util/project-paths.ts). */
  outFile: string;
  generatedAtMs: number;
  /** History size from which the fast pass parses on two threads (default PARALLEL_FROM_BYTES). */
  parallelFromBytes?: number;
  /** Where the reader's warnings go (a torn last line). */
  warn?: (message: string) => void;
}

export interface AuditReportResult {
  outFile: string;
  verification: ChainVerdict;
  data: AuditData;
  bytes: number;
}

export async function writeAuditReport(request: AuditReportRequest): Promise<AuditReportResult> {
  const file = request.historyFile;
  // One size for both passes and the check, so the verdict describes exactly the records reported.
  const size = await settledSize(file);
  let data: AuditData | null = null;
  let result: VerifyResult | null = null;
  // Fast pass, beside the chain check: lines in the writer's layout are parsed only as far as the
  // report reads them. It stands only if the chain verifies, which shows every line is as the writer
  // wrote it; it stays silent, as the exact pass below warns for anything it would warn about.
  if (readsInParallel(size, request.parallelFromBytes)) {
    // Large histories: read on a worker that checks the chain on the way (parallel-pass.ts).
    try {
      const collector = createAuditCollector(request);
      result = await streamTrustedParallel(file, size, collector, request.parallelFromBytes);
      data = collector.finish();
    } catch {
      // The exact pass below meets the same problem and reports it as readRecords would.
    }
    // The reader checks only a chain entirely on the fast path; anything else gets the full check.
    result ??= await verifyHistoryRange(file, size);
  } else {
    const verifying = verifyInBackground(file, size).catch(() => null);
    try {
      const collector = createAuditCollector(request);
      await streamHistory(file, size, collector.add, () => undefined, { trustLayout: true });
      data = collector.finish();
    } catch {
      // As above.
    }
    result = await verifying;
  }
  if (data === null || result === null || !result.ok) {
    // Anything off: collect again from fully parsed lines, exactly as readRecords sees them.
    const collector = createAuditCollector(request);
    await streamHistory(file, size, collector.add, (message) => request.warn?.(message), {
      onAmbiguous: (line, why) => {
        collector.ambiguous(line, why);
        request.warn?.(`${file}:${line}: ${why}: left out of the report (JSON readers disagree on this record)`);
      },
    });
    data = collector.finish();
    result ??= await verifyHistoryRange(file, size);
  }
  const verification = chainVerdict(result);
  const markdown = renderAuditReport(data, {
    project: request.project,
    generatedAtMs: request.generatedAtMs,
    historyFile: path.relative(request.projectDir, file) || file,
    verification,
  });
  await writeFileAtomic(request.outFile, markdown);
  return { outFile: request.outFile, verification, data, bytes: Buffer.byteLength(markdown) };
}

/** The lines `audit verify` prints, and whether the chain held. */
export function describeVerifyResult(file: string, result: VerifyResult): { ok: boolean; lines: string[] } {
  if (!result.ok && result.firstBad !== undefined) {
    const { line, reason, detail } = result.firstBad;
    return {
      ok: false,
      lines: [
        `FAILED ${file}:${line}: ${reason}: ${detail}`,
        `${result.records} records before it verified${result.head !== null ? `; last good hash ${result.head}` : ''}`,
      ],
    };
  }
  const lines: string[] = [];
  if (result.head === null && result.unverifiable === true) {
    lines.push(`UNVERIFIABLE ${file}: ${result.records} records written before hash chaining; nothing to verify (not evidence of tampering)`);
  } else {
    lines.push(`OK ${file}: ${result.records} records, hash chain intact`);
    lines.push(`head ${result.head ?? 'none (empty history)'}`);
    if ((result.legacy_records ?? 0) > 0) {
      lines.push(`note: the first ${result.legacy_records} records predate hash chaining and cannot be verified`);
    }
  }
  return { ok: true, lines };
}
