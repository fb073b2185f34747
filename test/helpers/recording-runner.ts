/**
 * A Runner (src/runtime/run.ts's signature) that runs nothing: it records every argv with its cwd and
 * the names of the environment it was given, and answers from a scripted table. Rules are matched by
 * argv pattern, the newest rule first; a scripted failure (`failNext`) beats every rule and changes
 * nothing a rule would have changed. An argv no rule matches is an error, so a test cannot pass on a
 * command it did not expect. As the real runner does, output lines are streamed to `onLine`.
 */
import { RuntimeError } from '../../src/errors.js';
import { formatArgv, type RunOptions, type RunResult, type Runner } from '../../src/runtime/run.js';

export interface RecordedCall {
  argv: readonly string[];
  cwd: string | undefined;
  /** The names (never the values: one is the chaos token) of the extra environment passed. */
  envKeys: string[];
}

export interface Answer {
  exitCode?: number;
  stdout?: string;
  stderr?: string;
}

/** A fixed answer, or one computed from the call (which may change the scripted world). */
export type Reply = Answer | ((argv: readonly string[]) => Answer | Promise<Answer>);

/**
 * Tokens that must appear in argv contiguously and in order (`['compose', 'ps']`), or a RegExp over
 * the command as a shell would show it (formatArgv).
 */
export type ArgvPattern = readonly string[] | RegExp;

export function matches(pattern: ArgvPattern, argv: readonly string[]): boolean {
  if (pattern instanceof RegExp) return pattern.test(formatArgv(argv));
  outer: for (let i = 0; i + pattern.length <= argv.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (argv[i + j] !== pattern[j]) continue outer;
    return true;
  }
  return false;
}

export class RecordingRunner {
  readonly calls: RecordedCall[] = [];
  private readonly rules: Array<{ pattern: ArgvPattern; reply: Reply }> = [];
  private readonly failures: Array<{ pattern: ArgvPattern; answer: Answer }> = [];

  /** Answer argv matching `pattern` with `reply`; a later rule for the same argv wins. */
  on(pattern: ArgvPattern, reply: Reply): this {
    this.rules.unshift({ pattern, reply });
    return this;
  }

  /** Fail the next command matching `pattern` once (default: exit 1 with a message on stderr). */
  failNext(pattern: ArgvPattern, answer: Answer = {}): this {
    this.failures.push({ pattern, answer: { exitCode: 1, stderr: 'scripted failure', ...answer } });
    return this;
  }

  /** Every command run so far, as a shell would show it. */
  commands(): string[] {
    return this.calls.map((c) => formatArgv(c.argv));
  }

  readonly run: Runner = async (argv: readonly string[], options: RunOptions = {}): Promise<RunResult> => {
    this.calls.push({ argv: [...argv], cwd: options.cwd, envKeys: Object.keys(options.env ?? {}).sort() });
    const f = this.failures.findIndex((x) => matches(x.pattern, argv));
    let answer: Answer;
    if (f >= 0) {
      answer = this.failures[f]!.answer;
      this.failures.splice(f, 1);
    } else {
      const rule = this.rules.find((r) => matches(r.pattern, argv));
      if (!rule) throw new RuntimeError(`recording runner: no scripted answer for: ${formatArgv(argv)}`);
      answer = typeof rule.reply === 'function' ? await rule.reply(argv) : rule.reply;
    }
    const result: RunResult = { argv, exitCode: answer.exitCode ?? 0, stdout: answer.stdout ?? '', stderr: answer.stderr ?? '', durationMs: 0 };
    if (options.onLine) {
      for (const line of result.stdout.split('\n').filter(Boolean)) options.onLine(line, 'stdout');
      for (const line of result.stderr.split('\n').filter(Boolean)) options.onLine(line, 'stderr');
    }
    return result;
  };
}
