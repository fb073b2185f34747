#!/usr/bin/env node
// bench/audit: the report as `swiftdeploy audit` writes it (dist/audit/audit.js, writeAuditReport),
// with the two-thread read switched off (parallelFromBytes above any size): the single-thread pass
// the two-thread one must beat to be kept (bench/README.md, `## audit`).
//
//   node bench/audit/one-thread.mjs <project dir with history.jsonl>
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dir = path.resolve(process.argv[2] ?? '.');
const { writeAuditReport } = await import(pathToFileURL(path.join(root, 'dist/audit/audit.js')).href);
const result = await writeAuditReport({
  historyFile: path.join(dir, 'history.jsonl'),
  projectDir: dir,
  project: 'bench',
  outFile: path.join(dir, 'audit_report.one-thread.md'),
  generatedAtMs: Date.now(),
  parallelFromBytes: Number.MAX_SAFE_INTEGER,
});
console.log(`${result.verification.status}: ${result.data.recordsRead} records`);
process.exitCode = result.verification.status === 'broken' ? 6 : 0;
