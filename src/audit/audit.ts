/**
 * `audit` and `audit verify`: the two passes over history.jsonl. Verification walks the hash chain
 * (src/history owns that); the report streams the records once more through the collector. Two
 * streaming passes keep memory constant; neither loads the file.
 */
import path from 'node:path';
import { readRecords, verifyHistory } from '../history/ledger.js';
import type { VerifyResult } from '../history/types.js';
import { writeFileAtomic } from '../render/atomic-write.js';
import { collectAudit, type AuditData, type CollectOptions } from './collect.js';
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
  /** Absolute path, already checked to be inside the project (see resolveReportPath). */
  outFile: string;
  generatedAtMs: number;
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
  const verification = chainVerdict(await verifyHistory(request.historyFile));
  const lines = readRecords(request.historyFile, request.warn ? { warn: request.warn } : {});
  const data = await collectAudit(lines, request);
  const markdown = renderAuditReport(data, {
    project: request.project,
    generatedAtMs: request.generatedAtMs,
    historyFile: path.relative(request.projectDir, request.historyFile) || request.historyFile,
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
