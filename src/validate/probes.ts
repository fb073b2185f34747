import { execa } from 'execa';
import { composeCandidates } from '../runtime/detect.js';
import { portFree, type ValidateProbes } from './checks.js';

/** The real probes: processes via execa (no shell), ports via a real bind attempt. */
export function systemProbes(): ValidateProbes {
  const run: ValidateProbes['run'] = async (argv, options = {}) => {
    const [file, ...args] = argv;
    const r = await execa(file!, args, {
      cwd: options.cwd,
      env: options.env,
      timeout: options.timeoutMs,
      reject: false,
      stdin: 'ignore',
      stdout: options.discardStdout ? 'ignore' : 'pipe',
    });
    const missing = (r as { code?: string }).code === 'ENOENT';
    return { exitCode: r.exitCode, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), missing };
  };
  return {
    run,
    compose: async () => {
      let candidates: Array<readonly string[]>;
      try {
        candidates = composeCandidates();
      } catch (e) {
        return { missing: (e as Error).message };
      }
      for (const command of candidates) {
        const r = await run([...command, 'version', '--short'], { timeoutMs: 10_000 });
        if (r.exitCode === 0) return { command: [...command] };
      }
      return { missing: `${candidates.map((c) => `\`${c.join(' ')}\``).join(' nor ')} answered \`version --short\`` };
    },
    portFree,
  };
}
