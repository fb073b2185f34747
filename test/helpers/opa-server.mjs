// @ts-check
/**
 * A real `opa run --server` on 127.0.0.1, for the test suite (through test/helpers/opa.ts) and the
 * benchmarks. Plain ESM so `node bench/...` imports it without a build; types in opa-server.d.mts.
 * The caller says which binary (src/runtime/opa-binary.ts findOpaBinary() finds it): this module
 * only runs one.
 *
 * Loaded like the sidecar (templates/docker-compose.yml.hbs): `opa run --server <dir>`, every file
 * under the directory. OPA cannot report a port it chose itself (`--addr 127.0.0.1:0` logs ":0"), so
 * a free port is picked here; if another process takes it first, OPA exits with "address already in
 * use" and a new port is tried.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';

/** @type {Set<import('node:child_process').ChildProcess>} */
const running = new Set();
// A test worker or a benchmark that exits without close() must not leave OPA servers behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A TCP port on 127.0.0.1 that nothing listened on a moment ago (bound, then released). */
export async function freePort() {
  // The kernel may hand the same ephemeral port out again once it is closed: two calls in a row once
  // gave nginx and OPA one port (the manifest check refused it). Never the same port twice per process.
  for (;;) {
    const server = net.createServer();
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(undefined));
    });
    const address = server.address();
    await new Promise((resolve) => server.close(() => resolve(undefined)));
    if (address === null || typeof address === 'string') throw new Error('freePort: no TCP address');
    if (handedOut.has(address.port)) continue;
    handedOut.add(address.port);
    return address.port;
  }
}

/** Ports freePort has returned in this process. @type {Set<number>} */
const handedOut = new Set();

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @param {{ binary: string, paths?: string[], readyTimeoutMs?: number }} options
 *   `paths`: what `opa run` loads (none: a server with no policy, whose every decision is undefined).
 * @returns {Promise<{ url: string, port: number, pid: number, close: () => Promise<void> }>}
 */
export async function startOpaServer({ binary, paths = [], readyTimeoutMs = 20_000 }) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(binary, paths, await freePort(), readyTimeoutMs);
    } catch (err) {
      if (attempt < 3 && err instanceof PortTaken) continue;
      throw err;
    }
  }
}

class PortTaken extends Error {}

/**
 * @param {string} binary @param {string[]} paths @param {number} port @param {number} readyTimeoutMs
 */
async function startOnce(binary, paths, port, readyTimeoutMs) {
  const argv = ['run', '--server', '--addr', `127.0.0.1:${port}`, '--log-level', 'error', '--skip-version-check',
    '--shutdown-grace-period', '1', ...paths];
  const child = spawn(binary, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += String(chunk)));
  /** @type {string | null} */
  let exited = null;
  const exit = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      exited = signal ?? `exit ${code}`;
      resolve(undefined);
    });
    child.once('error', (err) => {
      running.delete(child);
      exited = err.message;
      resolve(undefined);
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const command = `${binary} ${argv.join(' ')}`;

  const started = Date.now();
  let last = 'no answer yet';
  for (;;) {
    if (exited !== null) {
      if (/address already in use/.test(stderr)) throw new PortTaken(`port ${port} taken`);
      throw new Error(`${command} ended (${exited}) before it was ready:\n${stderr.trim()}`);
    }
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
      last = `GET /health: HTTP ${res.status}`;
    } catch (err) {
      last = `GET /health: ${/** @type {Error} */ (err).message}`;
    }
    if (Date.now() - started > readyTimeoutMs) {
      child.kill('SIGKILL');
      await exit;
      throw new Error(`${command} not ready within ${readyTimeoutMs} ms (${last}):\n${stderr.trim()}`);
    }
    await sleep(25);
  }

  return {
    url,
    port,
    pid: /** @type {number} */ (child.pid),
    async close() {
      if (exited === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exit;
        clearTimeout(timer);
      }
    },
  };
}
