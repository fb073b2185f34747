import { Chalk, type ChalkInstance } from 'chalk';

export interface OutputOptions {
  json: boolean;
  /** false when --no-color was given. */
  color: boolean;
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
}

/**
 * Where each kind of output goes: results to stdout, progress and errors to stderr, and with --json
 * nothing but JSON documents on stdout. Colour only on a TTY, never with --json, --no-color or a
 * non-empty NO_COLOR (chalk alone does not honour NO_COLOR).
 */
export class Output {
  readonly json: boolean;
  readonly c: ChalkInstance;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Colour for stderr: as `c`, and only when stderr itself is a TTY (never into a log file). */
  readonly stderrC: ChalkInstance;
  /** Whether progress may be drawn in place (spinners, redraws): stderr is a TTY and not --json. */
  readonly interactive: boolean;

  constructor(options: OutputOptions) {
    const env = options.env ?? process.env;
    this.json = options.json;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
    const useColor = options.color && !noColor && !options.json && this.stdout.isTTY === true;
    this.c = new Chalk({ level: useColor ? 1 : 0 });
    this.stderrC = this.stderr.isTTY === true ? this.c : new Chalk({ level: 0 });
    this.interactive = !options.json && this.stderr.isTTY === true;
  }

  /** A result line for humans (stdout). Suppressed in --json mode, where emit() carries results. */
  result(line = ''): void {
    if (!this.json) this.stdout.write(`${line}\n`);
  }

  /** Progress and notices (stderr). */
  info(line: string): void {
    this.stderr.write(`${line}\n`);
  }

  warn(line: string): void {
    this.stderr.write(`${this.stderrC.yellow('warning:')} ${line}\n`);
  }

  error(line: string): void {
    this.stderr.write(`${this.stderrC.red('error:')} ${line}\n`);
  }

  /** One JSON document on stdout (only in --json mode). */
  emit(document: unknown): void {
    if (this.json) this.stdout.write(`${JSON.stringify(document)}\n`);
  }
}
