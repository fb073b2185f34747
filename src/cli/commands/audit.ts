import path from 'node:path';
import type { Command } from 'commander';
import { EXIT } from '../../errors.js';
import { action } from '../context.js';

interface AuditOptions {
  out?: string;
  since?: string;
  until?: string;
}

/**
 * `audit` writes the Markdown report; `audit verify` walks the hash chain. Both stream the history.
 * A report over a broken chain is still written (its header says where the chain broke, which is
 * what an auditor needs to see) and the command exits 6 so automation notices.
 */
export function register(program: Command): void {
  const audit = program
    .command('audit')
    .description('write the Markdown audit report from history.jsonl (atomic; the path stays inside the project)')
    .option('-o, --out <file>', 'where to write the report (default: observability.audit_report)')
    .option('--since <time>', 'first instant reported: ISO 8601 with a zone, a UTC date, or an age (24h, 7d)')
    .option('--until <time>', 'last instant reported (same forms as --since)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ swiftdeploy audit\n  $ swiftdeploy audit --since 7d --out reports/last-week.md\n  $ swiftdeploy audit verify\n',
    )
    .action(
      action<AuditOptions>(async (ctx, opts) => {
        const [{ writeAuditReport }, { parseTimeRange }, paths] = await Promise.all([
          import('../../audit/audit.js'),
          import('../../audit/time-range.js'),
          import('../../util/project-paths.js'),
        ]);
        const generatedAtMs = Date.now();
        const range = parseTimeRange(opts.since, opts.until, generatedAtMs);
        const loaded = await ctx.loadManifest();
        const { observability, project } = loaded.manifest;
        const owned = paths.ownedPaths(path.relative(ctx.projectDir, loaded.file), observability);
        // The report first: when it and the history are one file, the report is what would destroy it.
        // --out is relative to where the command runs; the manifest's audit_report to the project.
        const out = await (opts.out === undefined
          ? paths.resolveProjectPath({ projectDir: ctx.projectDir, requested: observability.audit_report, label: paths.REPORT_ID, owned, self: [paths.REPORT_ID] })
          : paths.resolveProjectPath({ projectDir: ctx.projectDir, requested: opts.out, label: '--out', baseDir: process.cwd(), owned, self: [paths.REPORT_ID] }));
        const history = await paths.resolveProjectPath({ projectDir: ctx.projectDir, requested: observability.history_file, label: paths.HISTORY_ID, owned, self: [paths.HISTORY_ID] });
        const historyFile = history.abs;
        const outFile = out.abs;
        const result = await writeAuditReport({
          historyFile,
          projectDir: ctx.projectDir,
          project: project.name,
          outFile,
          generatedAtMs,
          ...range,
          warn: (m) => ctx.out.warn(m),
        });
        const v = result.verification;
        const ok = v.status !== 'broken';
        ctx.out.emit({
          ok,
          report: path.relative(ctx.projectDir, result.outFile),
          bytes: result.bytes,
          records_in_period: result.data.recordsInPeriod,
          records: result.data.recordsRead,
          verification: v,
        });
        ctx.out.result(`wrote ${path.relative(process.cwd(), result.outFile)} (${result.data.recordsInPeriod} records in period)`);
        if (v.status === 'broken') ctx.out.error(`history integrity: line ${v.line}: ${v.reason}; the report says so in its header`);
        else if (v.status === 'unverifiable') ctx.out.warn(`history unverifiable: ${v.reason}`);
        return ok ? EXIT.OK : EXIT.HISTORY_INTEGRITY;
      }),
    );

  // Nested commands need their own exitOverride, or a bad flag makes commander exit 1 by itself.
  audit
    .command('verify')
    .exitOverride()
    .description('walk the hash chain: record count and head hash (exit 0), or the first bad line and why (exit 6)')
    .addHelpText('after', '\nExample:\n  $ swiftdeploy audit verify --json\n')
    .action(
      action(async (ctx) => {
        const [{ verifyHistory }, { describeVerifyResult }, paths] = await Promise.all([
          import('../../history/ledger.js'),
          import('../../audit/audit.js'),
          import('../../util/project-paths.js'),
        ]);
        const loaded = await ctx.loadManifest();
        const { observability } = loaded.manifest;
        const owned = paths.ownedPaths(path.relative(ctx.projectDir, loaded.file), observability);
        const { abs: file } = await paths.resolveProjectPath({
          projectDir: ctx.projectDir,
          requested: observability.history_file,
          label: paths.HISTORY_ID,
          owned,
          self: [paths.HISTORY_ID],
        });
        const result = await verifyHistory(file);
        const shown = path.relative(process.cwd(), file) || file;
        const { ok, lines } = describeVerifyResult(shown, result);
        ctx.out.emit({
          ok,
          file: path.relative(ctx.projectDir, file),
          records: result.records,
          head: result.head,
          unverifiable: result.unverifiable === true,
          legacy_records: result.legacy_records ?? 0,
          first_bad: result.firstBad ?? null,
        });
        if (ok) for (const line of lines) ctx.out.result(line);
        else {
          const [first, ...rest] = lines;
          ctx.out.error(first ?? 'history integrity failure');
          for (const line of rest) ctx.out.info(line);
        }
        return ok ? EXIT.OK : EXIT.HISTORY_INTEGRITY;
      }),
    );
}
