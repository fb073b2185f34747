import { CommanderError } from 'commander';
import { EXIT, ManifestError, SwiftdeployError, exitCodeOf } from '../errors.js';
import { createProgram } from './program.js';
import { runCleanups } from '../util/signals.js';

/** Runs the CLI; the only place an error becomes an exit code and a message. */
export async function main(argv: string[]): Promise<number> {
  // `swiftdeploy audit verify | head -1`: a reader that went away is not an error worth a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK);
      throw err;
    });
  }
  const program = createProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    await runCleanups();
    if (err instanceof CommanderError) {
      // help and version are "errors" to commander; usage mistakes are exit 2 here
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        return EXIT.OK;
      }
      // commander already printed the message and usage to stderr; --json still promises JSON on stdout
      if (json) {
        const message = err.message.replace(/^error: /, '');
        process.stdout.write(`${JSON.stringify({ ok: false, error: { type: 'UsageError', message, exit_code: EXIT.USAGE } })}\n`);
      }
      return EXIT.USAGE;
    }
    const code = exitCodeOf(err);
    const message = err instanceof Error ? err.message : String(err);
    if (json) {
      process.stdout.write(
        `${JSON.stringify({
          ok: false,
          error: {
            type: err instanceof Error ? err.name : 'Error',
            message,
            exit_code: code,
            ...(err instanceof ManifestError ? { file: err.file, problems: err.problems, omitted: err.omitted } : {}),
          },
        })}\n`,
      );
    }
    process.stderr.write(`error: ${message}\n`);
    if (!(err instanceof SwiftdeployError) && err instanceof Error && process.env.SWIFTDEPLOY_DEBUG) {
      process.stderr.write(`${err.stack ?? ''}\n`);
    }
    return code;
  }
}
