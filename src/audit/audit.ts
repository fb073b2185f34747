/**
 * `audit` and `audit verify`. The report collects the records and the chain's verdict from one
 * reading of the history (src/history/read-verified.ts: the ledger's readers and its one verifier).
 */
import path from 'node:path';
import { readVerified } from '../history/read-verified.js';
import { settledSize } from '../history/settled.js';
import type { VerifyResult } from '../history/types.js';
import { writeFileAtomic } from '../render/atomic-write.js';
import { createAuditCollector, type AuditData, type CollectOptions } from './collect.js';
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
  /** History size from which the reading takes two threads (default: readVerified's). */
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
  // One size for the reading and the check, so the verdict describes exactly the records reported.
  const size = await settledSize(file);
  const warn = (message: string): void => request.warn?.(message);
  const { sink, verify: result } = await readVerified(
    file,
    size,
    () => {
      const collector = createAuditCollector(request);
      return {
        add: collector.add,
        ambiguous: (line: number, why: string) => {
          collector.ambiguous(line, why);
          warn(`${file}:${line}: ${why}: left out of the report (JSON readers disagree on this record)`);
        },
        finish: collector.finish,
      };
    },
    { warn, ...(request.parallelFromBytes !== undefined ? { parallelFromBytes: request.parallelFromBytes } : {}) },
  );
  const data: AuditData = sink.finish();
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
