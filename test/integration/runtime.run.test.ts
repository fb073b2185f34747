import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/errors.js';
import { ProgramNotFound, formatArgv, runArgv, runArgvChecked } from '../../src/runtime/run.js';

const node = process.execPath;

describe('runArgv with real child processes', () => {
  it('captures stdout, stderr and a non-zero exit without throwing', async () => {
    const r = await runArgv([node, '-e', 'console.log("out"); console.error("err"); process.exit(3)']);
    expect(r).toMatchObject({ exitCode: 3, stdout: 'out', stderr: 'err' });
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('streams complete lines as they arrive, including a last line without newline', async () => {
    const lines: string[] = [];
    await runArgv([node, '-e', 'process.stdout.write("a\\nb"); setTimeout(() => { process.stdout.write("c\\nd"); console.error("e"); }, 50)'], {
      onLine: (line, stream) => lines.push(`${stream}:${line}`),
    });
    expect(lines.filter((l) => l.startsWith('stdout'))).toEqual(['stdout:a', 'stdout:bc', 'stdout:d']);
    expect(lines).toContain('stderr:e');
  });

  it('passes extra environment on top of the inherited one', async () => {
    const r = await runArgv([node, '-p', 'process.env.SD_X + " " + process.env.BUILDKIT_PROGRESS + " " + Boolean(process.env.PATH)'], { env: { SD_X: 'y' } });
    expect(r.stdout).toBe('y plain true');
  });

  it('a missing program is a RuntimeError naming it, typed so a caller can take it as an answer', async () => {
    const err = await runArgv(['sd-no-such-program-xyz', '--version']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProgramNotFound);
    expect(err).toBeInstanceOf(RuntimeError);
    expect(err).toMatchObject({ program: 'sd-no-such-program-xyz', message: 'sd-no-such-program-xyz not found on PATH (needed to run: sd-no-such-program-xyz --version)' });
  });

  it('a program that fails for another reason is not ProgramNotFound', async () => {
    const err = await runArgv([node, '-e', 'setTimeout(() => {}, 20000)'], { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeError);
    expect(err).not.toBeInstanceOf(ProgramNotFound);
  });

  it('discardStdout sends stdout to /dev/null and still captures stderr and the exit code', async () => {
    const r = await runArgv([node, '-e', 'require("fs").writeFileSync("/dev/stdout", "out"); console.error("err"); process.exit(4)'], { discardStdout: true });
    expect(r).toMatchObject({ exitCode: 4, stdout: '', stderr: 'err' });
  });

  it('a timeout kills the command and says so', async () => {
    const started = Date.now();
    await expect(runArgv([node, '-e', 'setTimeout(() => {}, 20000)'], { timeoutMs: 300 })).rejects.toThrow(/timed out after 300 ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('an aborted signal cancels the command', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    await expect(runArgv([node, '-e', 'setTimeout(() => {}, 20000)'], { signal: ac.signal })).rejects.toThrow(/cancelled/);
  });

  it('runArgvChecked turns a failure into a RuntimeError with the command and the last stderr lines', async () => {
    const err = await runArgvChecked([node, '-e', 'for (let i = 1; i <= 12; i++) console.error("line " + i); process.exit(2)']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeError);
    const message = (err as Error).message;
    expect(message.split('\n')[0]).toBe(`exit 2: ${formatArgv([node, '-e', 'for (let i = 1; i <= 12; i++) console.error("line " + i); process.exit(2)'])}`);
    expect(message).toContain('line 12');
    expect(message).not.toContain('line 2\n');
  });
});

describe('formatArgv', () => {
  it('quotes only what a shell would need quoted', () =>
    expect(formatArgv(['docker', 'ps', '--format', '{{json .}}', "it's"])).toBe(`docker ps --format '{{json .}}' 'it'\\''s'`));
});
