/**
 * The policy engine for tests: the real, pinned OPA (`opa run --server` on 127.0.0.1, loaded with
 * policies/ the way the sidecar loads them), found the one way the product finds it
 * (src/runtime/opa-binary.ts). Whether a test file runs without it is decided by requireOpa() in
 * test/helpers/engines.ts, never here: a file that calls startOpa() must be guarded by it.
 *
 * Failure paths OPA will not produce on demand (timeouts, garbage, 5xx) use
 * test/helpers/opa-fault-stub.ts, which models no policy.
 */
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { OpaClient } from '../../src/policy/client.js';
import { findOpaBinary, OPA_SETUP_HINT } from '../../src/runtime/opa-binary.js';
import { freePort, startOpaServer, type OpaServer } from './opa-server.mjs';

export type { OpaServer };
export { freePort };

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const policiesDir = path.join(repoRoot, 'policies');

/** `opa run --server` loaded with `paths` (default: policies/; `[]`: no policy, every decision undefined). */
export async function startOpa(paths: string[] = [policiesDir]): Promise<OpaServer> {
  const opa = findOpaBinary();
  if (!opa) throw new Error(`no opa binary (SWIFTDEPLOY_OPA, .swiftdeploy/tools/opa, or PATH): ${OPA_SETUP_HINT}`);
  return startOpaServer({ binary: opa.path, paths });
}

/** An opa.url nothing listens on: the engine is down. */
export async function deadOpaUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

/**
 * For a describe block: one real OPA loaded with policies/ and a client on it, started before the
 * block's tests and closed after. Read `.opa` / `.client` inside the tests.
 */
export function opaForSuite(): { readonly opa: OpaServer; readonly client: OpaClient } {
  const suite: { opa?: OpaServer; client?: OpaClient } = {};
  beforeAll(async () => {
    suite.opa = await startOpa();
    suite.client = new OpaClient({ url: suite.opa.url });
  });
  afterAll(async () => {
    await suite.client?.close();
    await suite.opa?.close();
  });
  return {
    get opa() {
      if (!suite.opa) throw new Error('opaForSuite: read .opa inside a test, after beforeAll');
      return suite.opa;
    },
    get client() {
      if (!suite.client) throw new Error('opaForSuite: read .client inside a test, after beforeAll');
      return suite.client;
    },
  };
}
