/**
 * `audit` and `audit verify`. The report is built in one streaming pass that also checks the hash
 * chain on the way (each record's hash, seq and prev, with the ledger's own primitives). Only when
 * that quick check sees anything unusual (a break, records from before the chain, a torn tail) does
 * it run the ledger's full `verifyHistory`, which names exactly what happened. An intact history is
 * therefore parsed and hashed once, not twice.
 */
import path from 'node:path';
import { GENESIS_PREV, recordIntact } from '../history/chain.js';
import { readRecords, verifyHistory, type ReadItem } from '../history/ledger.js';
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

/** Follows the chain as records stream past; `intact` stays true only for a flawless, fully chained file. */
class ChainFollower {
  intact = true;
  records = 0;
  head: string | null = null;
  private expectSeq = 1;
  private expectPrev = GENESIS_PREV;

  async *follow(items: AsyncIterable<ReadItem>): AsyncGenerator<ReadItem> {
    for await (const item of items) {
      if (this.intact) this.check(item);
      yield item;
    }
  }

  private check({ record, legacy, bytes }: ReadItem): void {
    // Hashed over the line's own bytes (no re-serialisation): the ledger's single-pass check.
    if (legacy || record.seq !== this.expectSeq || record.prev !== this.expectPrev || !recordIntact(bytes, record)) {
      this.intact = false;
      return;
    }
    this.records++;
    this.head = record.hash;
    this.expectSeq++;
    this.expectPrev = record.hash;
  }
}

export async function writeAuditReport(request: AuditReportRequest): Promise<AuditReportResult> {
  const chain = new ChainFollower();
  let tornTail = false;
  const lines = readRecords(request.historyFile, {
    warn: (message) => {
      tornTail = true;
      request.warn?.(message);
    },
  });
  const data = await collectAudit(chain.follow(lines), request);
  const verification: ChainVerdict =
    chain.intact && !tornTail
      ? { status: 'verified', records: chain.records, head: chain.head, legacyRecords: 0 }
      : chainVerdict(await verifyHistory(request.historyFile));
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
