/**
 * The one place that executes argv built elsewhere: docker, compose, git, nginx, opa. Output is
 * captured (and optionally streamed line by line); a non-zero exit is a result, not an exception,
 * because callers such as health-check fallbacks and `docker image inspect` treat it as an answer.
 */
import { execa } from 'execa';
import { RuntimeError } from '../errors.js';

export interface RunOptions {
  cwd?: string;
  /** Kill the command (SIGTERM, then SIGKILL after 5 s) when it runs longer. No limit when absent. */
  timeoutMs?: number;
  /** Aborting terminates the command, e.g. on SIGINT. */
  signal?: AbortSignal;
  /** Called for each complete output line as it arrives, for progress display. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Extra environment; the parent's environment is inherited. */
  env?: Record<string, string | undefined>;
  /**
   * Send stdout to /dev/null instead of capturing it (stdout is then ""). For programs that open
   * /dev/stdout themselves, which fails on a pipe: `nginx -t` with `access_log /dev/stdout`.
   */
  discardStdout?: boolean;
}

export interface RunResult {
  argv: readonly string[];
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export type Runner = (argv: readonly string[], options?: RunOptions) => Promise<RunResult>;

// Buildkit otherwise draws an interactive progress display when it thinks it has a terminal.
const CAPTURE_ENV = { BUILDKIT_PROGRESS: 'plain' };

/** The program is not installed (not on PATH): for callers to whom that is an answer, not a failure. */
export class ProgramNotFound extends RuntimeError {
  constructor(
    readonly program: string,
    command: string,
  ) {
    super(`${program} not found on PATH (needed to run: ${command})`);
  }
}

/** The argv as a shell would show it, for messages. */
export function formatArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

function lineSplitter(emit: (line: string) => void): { push(chunk: Buffer | string): void; end(): void } {
  let pending = '';
  return {
    push(chunk) {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) emit(l.replace(/\r$/, ''));
    },
    end() {
      if (pending !== '') emit(pending);
      pending = '';
    },
  };
}

/**
 * Run argv (program first). Resolves with the exit code and output for any exit status; rejects with
 * RuntimeError only when the program is missing (ProgramNotFound), could not start, timed out or was
 * cancelled.
 */
export const runArgv: Runner = async (argv, options = {}) => {
  const [program, ...args] = argv;
  if (program === undefined) throw new RuntimeError('runArgv: empty argv');
  const started = performance.now();
  const subprocess = execa(program, args, {
    reject: false,
    stdin: 'ignore',
    stdout: options.discardStdout ? 'ignore' : 'pipe',
    cwd: options.cwd,
    timeout: options.timeoutMs,
    cancelSignal: options.signal,
    env: { ...CAPTURE_ENV, ...options.env },
    stripFinalNewline: true,
  });
  if (options.onLine) {
    const onLine = options.onLine;
    const out = lineSplitter((l) => onLine(l, 'stdout'));
    const err = lineSplitter((l) => onLine(l, 'stderr'));
    subprocess.stdout?.on('data', (c: Buffer) => out.push(c));
    subprocess.stdout?.on('end', () => out.end());
    subprocess.stderr?.on('data', (c: Buffer) => err.push(c));
    subprocess.stderr?.on('end', () => err.end());
  }
  const result = await subprocess;
  const command = formatArgv(argv);
  if (result.code === 'ENOENT') {
    throw new ProgramNotFound(program, command);
  }
  if (result.timedOut) {
    throw new RuntimeError(`timed out after ${options.timeoutMs} ms: ${command}`);
  }
  if (result.isCanceled) {
    throw new RuntimeError(`cancelled: ${command}`);
  }
  if (result.exitCode === undefined) {
    // Killed by a signal, or never started for a reason other than ENOENT (EACCES...).
    const why = result.signal ? `killed by ${result.signal}` : (result.shortMessage ?? 'did not start');
    throw new RuntimeError(`${command}: ${why}`);
  }
  return {
    argv,
    exitCode: result.exitCode,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    durationMs: Math.round(performance.now() - started),
  };
};

/** The last `n` non-empty lines of some output, for error messages. */
export function lastLines(text: string, n: number): string {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-n)
    .join('\n');
}

/** Like runArgv, but a non-zero exit becomes a RuntimeError naming the command and its last stderr lines. */
export async function runArgvChecked(argv: readonly string[], options: RunOptions = {}, run: Runner = runArgv): Promise<RunResult> {
  const result = await run(argv, options);
  if (result.exitCode !== 0) {
    const tail = lastLines(result.stderr || result.stdout, 10);
    throw new RuntimeError(`exit ${result.exitCode}: ${formatArgv(argv)}${tail ? `\n${tail}` : ''}`);
  }
  return result;
}
