/**
 * Where the policy tests get an OPA from: the double always; the real `opa` binary when it is on
 * PATH (this machine may not have it, CI machines may).
 */
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { OpaClient, waitReady } from '../../src/policy/client.js';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const policiesDir = path.join(repoRoot, 'policies');

export const opaBinary: string | null = (() => {
  const r = spawnSync('opa', ['version'], { encoding: 'utf8' });
  return r.status === 0 ? 'opa' : null;
})();
export const NO_OPA_REASON = 'opa is not on PATH: real-OPA checks skipped (install OPA from openpolicyagent.org to run them)';
if (!opaBinary) console.warn(`[policy tests] ${NO_OPA_REASON}`);

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `opa run --server` on loopback with the given bundle directories (none: no policy loaded). */
export async function startRealOpa(dirs: string[] = [policiesDir]): Promise<{ url: string; close: () => Promise<void> }> {
  if (!opaBinary) throw new Error(NO_OPA_REASON);
  const port = await closedPort();
  const child = spawn(opaBinary, ['run', '--server', '--addr', `127.0.0.1:${port}`, '--log-level', 'error', ...dirs], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const probe = new OpaClient({ url });
  try {
    await waitReady(probe, { timeoutMs: 15_000, intervalMs: 100 });
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`opa run did not become ready: ${String(err)}\n${stderr}`);
  } finally {
    await probe.close();
  }
  return {
    url,
    close: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
