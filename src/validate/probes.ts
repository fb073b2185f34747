import { RuntimeError } from '../errors.js';
import { detectCompose, probeEngine } from '../runtime/detect.js';
import { ProgramNotFound, runArgv } from '../runtime/run.js';
import { portFree, type CommandResult, type ValidateProbes } from './checks.js';

/**
 * The real probes: processes through the runtime's runner (no shell), Docker and compose through its
 * detector, ports by a real bind attempt. A program that is not installed, or that timed out, is an
 * answer for a check (`missing`, or no exit code), never an exception.
 */
export function systemProbes(): ValidateProbes {
  const run: ValidateProbes['run'] = async (argv, options = {}): Promise<CommandResult> => {
    try {
      const r = await runArgv(argv, options);
      return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      if (!(e instanceof RuntimeError)) throw e;
      return { exitCode: undefined, stdout: '', stderr: e.message, ...(e instanceof ProgramNotFound ? { missing: true } : {}) };
    }
  };
  return {
    run,
    engine: () => probeEngine({ timeoutMs: 10_000 }),
    compose: async () => {
      try {
        return { flavour: await detectCompose({ timeoutMs: 10_000 }) };
      } catch (e) {
        if (!(e instanceof RuntimeError)) throw e;
        return { missing: e.message };
      }
    },
    portFree,
  };
}
