import { execa } from 'execa';
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
      const v2 = await run(['docker', 'compose', 'version', '--short'], { timeoutMs: 10_000 });
      if (v2.exitCode === 0) return { command: ['docker', 'compose'] };
      const v1 = await run(['docker-compose', 'version', '--short'], { timeoutMs: 10_000 });
      if (v1.exitCode === 0) return { command: ['docker-compose'] };
      return { missing: 'neither `docker compose` (v2 plugin) nor `docker-compose` (v1) is installed' };
    },
    portFree,
  };
}
